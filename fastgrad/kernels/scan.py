"""Scans along the last axis of a C-contiguous 2-D array (one row per slice), for the index
results NumPy has no vectorised form for: cummax / cummin indices and the mode of sorted rows.

Plain loops (``nogil``); the caller moves the scanned dim last, validates and allocates.
"""
import numba


@numba.njit(cache=True, nogil=True)
def running_extremum_indices(rows, out, take_max):
    """``out[r, j]``: the index of the running max (``take_max``) or min of ``rows[r, :j+1]``.

    PyTorch's rule: an element equal to the running extremum takes over (the last index of a
    tie), and a NaN takes over and stays (each later NaN takes over again)."""
    for r in range(rows.shape[0]):
        best = rows[r, 0]
        best_index = 0
        for j in range(rows.shape[1]):
            v = rows[r, j]
            if v != v or (best == best and (v >= best if take_max else v <= best)):
                best = v
                best_index = j
            out[r, j] = best_index


@numba.njit(cache=True, nogil=True)
def mode_of_sorted_rows(values, order, out_position):
    """For rows of ``values`` sorted ascending (stably, ``order`` their original indices),
    ``out_position[r]``: the original index of the most frequent value's last occurrence; of
    equally frequent values the smallest wins. NaNs count as equal to each other."""
    for r in range(values.shape[0]):
        n = values.shape[1]
        best_count = 0
        best_position = 0
        start = 0
        for j in range(1, n + 1):
            if j < n:
                a = values[r, j]
                b = values[r, j - 1]
                if a == b or (a != a and b != b):
                    continue
            if j - start > best_count:
                best_count = j - start
                best_position = order[r, j - 1]
            start = j
        out_position[r] = best_position
