"""erf, erfc and erfinv as NumPy ufuncs compiled by numba: NumPy has none of them, and SciPy
is not a dependency. Each computes in float64 (callers cast the result back to the input's
float dtype); compiled on first use."""
import math

import numba
import numpy as np


@numba.vectorize(["float64(float64)"], cache=True)
def _erf(x):
    return math.erf(x)


@numba.vectorize(["float64(float64)"], cache=True)
def _erfc(x):
    return math.erfc(x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@numba.vectorize(["float64(float64)"], cache=True)
def _erfinv(x):
    """Giles' single-precision approximation ("Approximating the erfinv function", 2010),
    then two Newton steps on erf(y) = x, which bring it to double precision."""
    if math.isnan(x) or abs(x) > 1.0:
        return math.nan
    if abs(x) == 1.0:
        return math.copysign(math.inf, x)
    w = -math.log((1.0 - x) * (1.0 + x))
    if w < 5.0:
        w -= 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    y = p * x
    for _ in range(2):
        slope = _TWO_OVER_SQRT_PI * math.exp(-y * y)
        if slope == 0.0:
            break
        y -= (math.erf(y) - x) / slope
    return y


def _in_dtype_of(kernel):
    def apply(x):
        x = np.asarray(x)
        return kernel(x.astype(np.float64, copy=False)).astype(x.dtype, copy=False)
    apply.__name__ = kernel.__name__.lstrip("_")
    return apply


erf = _in_dtype_of(_erf)
erfc = _in_dtype_of(_erfc)
erfinv = _in_dtype_of(_erfinv)
