"""scatter_reduce's sum, product and extrema as one pass over the scattered values.

NumPy's ``add.at`` / ``multiply.at`` / ``maximum.at`` do this in a slow generic loop; here it
is a plain loop (``nogil``). The caller validates: ``positions`` are flat indices into ``out`` (all in
range), ``values`` has as many elements and ``out``'s dtype; both 1-D and contiguous.
"""
import numba

PROD, AMAX, AMIN, SUM = 0, 1, 2, 3
OPS = {"prod": PROD, "amax": AMAX, "amin": AMIN, "sum": SUM, "mean": SUM}


@numba.njit(cache=True, nogil=True)
def scatter_reduce_flat(out, positions, values, op):
    """``out[positions[k]] = reduce(out[positions[k]], values[k])`` for every k, in order;
    ``op`` is SUM, PROD, AMAX or AMIN. A NaN taken by an extremum stays (NaN propagates)."""
    for k in range(positions.size):
        p = positions[k]
        v = values[k]
        if op == SUM:
            out[p] = out[p] + v
        elif op == PROD:
            out[p] = out[p] * v
        elif op == AMAX:
            if v > out[p] or v != v:
                if out[p] == out[p]:
                    out[p] = v
        else:
            if v < out[p] or v != v:
                if out[p] == out[p]:
                    out[p] = v
