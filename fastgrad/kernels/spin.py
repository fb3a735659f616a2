"""A short wait for a flag, spent off the GIL, before a thread blocks on a queue.

Why: a helper blocked in a queue needs the OS to wake it (tens of microseconds on this VM),
and a training step hands work to its helper about ten times. Waiting a little while for the
next hand-off with the GIL released, yielding the core between looks (``sched_yield``, so a
process that wants this core gets it), turns most hand-offs into a read of a flag. The flag is
only a hint: the queue stays the hand-off, and a thread that stops spinning blocks on it.
"""
import numba
from numba import types

__all__ = ["spin_until_set"]

_sched_yield = types.ExternalFunction("sched_yield", types.int32())


@numba.njit(cache=True, nogil=True)
def spin_until_set(flag, looks):
    """True once ``flag[0]`` is nonzero, False after ``looks`` looks without (each look
    followed by a ``sched_yield``). ``flag``: a 1-element int64 array another thread sets."""
    for _ in range(looks):
        if flag[0] != 0:
            return True
        _sched_yield()  # an opaque call: flag[0] is read anew after it
    return flag[0] != 0
