"""dtype names (``fastgrad.float32`` ...) and the default-dtype rule for new float data."""
import numpy as np

float16 = np.float16
float32 = np.float32
float64 = np.float64
half = float16
float = float32  # as ``torch.float``
double = float64
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
int = int32  # as ``torch.int``
long = int64
uint8 = np.uint8
bool = np.bool_

DEFAULT_FLOAT = np.dtype(np.float32)


def get_default_dtype():
    """The dtype of new float tensors: ``fastgrad.float32`` unless ``set_default_dtype`` changed it."""
    return DEFAULT_FLOAT.type


def set_default_dtype(d):
    """Make ``d`` (a float dtype: float16, float32 or float64) the dtype of new float tensors:
    Python floats, float arrays, ``zeros``/``randn``/... without ``dtype``, and new layers.

    As ``torch.set_default_dtype``, this is process-wide state the caller chose to change.
    Other dtypes raise TypeError.
    """
    global DEFAULT_FLOAT
    dtype = as_dtype(d)
    if dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(
            f"only floating-point types (float16, float32, float64) are supported as the default "
            f"type, got {dtype}")
    DEFAULT_FLOAT = dtype


def as_dtype(dtype):
    """A ``np.dtype`` from a fastgrad/NumPy dtype, a type or a name; ``TypeError`` otherwise."""
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {dtype!r}") from exc


def is_floating(dtype):
    return np.issubdtype(dtype, np.floating)


def to_array(data, dtype=None, copy=False):
    """The ndarray for new tensor data, following ``torch.tensor``'s dtype rules.

    Without ``dtype``, float data (Python floats, float64 arrays) becomes float32; integer data
    stays integer (Python ints become int64) and bool stays bool.
    """
    if dtype is not None:
        dtype = as_dtype(dtype)
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    else:
        arr = np.array(data, copy=True) if copy else np.asarray(data)
        if arr.dtype == np.float64:
            arr = arr.astype(DEFAULT_FLOAT)
        elif arr.dtype.kind not in "biuf":
            raise TypeError(
                f"cannot make a tensor from data of dtype {arr.dtype} "
                f"(type {type(data).__name__}); expected numbers, bools or arrays of them"
            )
    return arr
