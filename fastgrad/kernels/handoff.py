"""How chunks pass between the calling thread and the helpers, off the GIL.

Each helper owns a row of ``rows`` (``chunk_programs.py``) whose ``STATE`` moves
FREE -> POSTED (the caller wrote the row) -> RUNNING (a thread claimed it, by compare-and-swap:
the helper, or the caller when no helper has started it) -> DONE or FAILED -> FREE (the
caller, after reading the result). A helper waits in ``serve``, in compiled code: it runs
compiled rows itself and returns to Python only for a Python chunk, or to block after a short
idle spin (``parked``: the caller then wakes it through a queue). Why compiled: a thread that
needs the GIL while another holds it sleeps, and wakes ~20 us after the GIL is free on this VM
(docs/performance.md, "Chunks without the GIL").
"""
import numba
from numba import types

from .chunk_programs import PROGRAM, PYTHON, ROW, STATE, run_row
from .native import atomic_load, atomic_store, call_int_getter, call_int_setter, compare_and_swap

FREE, POSTED, RUNNING, DONE, FAILED = range(5)
# serve's return values
RUN_PYTHON, PARKED = 1, 2

if numba.config.DISABLE_JIT:
    import os
    import time

    def _sched_yield():
        os.sched_yield()

    def _usleep(microseconds):
        time.sleep(microseconds * 1e-6)
else:
    _sched_yield = types.ExternalFunction("sched_yield", types.int32())
    _usleep = types.ExternalFunction("usleep", types.int32(types.uint32))


@numba.njit(cache=True, nogil=True)
def serve(rows, i, parked, looks):
    """Helper ``i``'s loop: run the compiled rows posted to ``rows[i]``; return RUN_PYTHON
    having claimed a Python chunk, or PARKED after ``looks`` idle looks (each followed by a
    sched_yield, so that a process that wants the core gets it) with ``parked[i]`` set."""
    row = rows[i]
    idle = 0
    while True:
        if atomic_load(row, STATE) == POSTED and compare_and_swap(row, STATE, POSTED, RUNNING):
            if row[PROGRAM] == PYTHON:
                return RUN_PYTHON
            run_row(row)
            atomic_store(row, STATE, DONE)
            idle = 0
            continue
        idle += 1
        if idle < looks:
            _sched_yield()
            continue
        atomic_store(parked, i, 1)
        # A row posted while parked was being set: take it back unless the caller has
        # already cleared parked (it then wakes this helper, which comes straight back).
        if atomic_load(row, STATE) == POSTED and compare_and_swap(parked, i, 1, 0):
            idle = 0
            continue
        return PARKED


@numba.njit(cache=True, nogil=True)
def post(rows, count, parked):
    """Post ``rows[:count]``; returns how many of those helpers are parked, having cleared
    their flags in ``parked``: the caller wakes helpers ``0..`` whose flag it cleared."""
    woken = 0
    for i in range(count):
        atomic_store(rows[i], STATE, POSTED)
    for i in range(count):
        if compare_and_swap(parked, i, 1, 0):
            woken |= 1 << i
    return woken


@numba.njit(cache=True, nogil=True)
def claim(row):
    """Take a posted row no helper has started; True when this thread is to run it."""
    return compare_and_swap(row, STATE, POSTED, RUNNING)


@numba.njit(cache=True, nogil=True)
def claim_unstarted(rows, count):
    """Claim every posted row of ``rows[:count]`` no helper has started (its core is busy, or
    it is still waking up); returns them as a bit mask, for the caller to run."""
    mine = 0
    for i in range(count):
        if compare_and_swap(rows[i], STATE, POSTED, RUNNING):
            mine |= 1 << i
    return mine


@numba.njit(cache=True, nogil=True)
def wait_finished(rows, count):
    """Wait until no row of ``rows[:count]`` is POSTED or RUNNING: a few thousand yields, then
    sleeps of 20 us (a helper the OS has descheduled may take a while)."""
    for i in range(count):
        looks = 0
        while True:
            state = atomic_load(rows[i], STATE)
            if state == DONE or state == FAILED or state == FREE:
                break
            looks += 1
            if looks < 4000:
                _sched_yield()
            else:
                _usleep(20)


# ------------------------------------------------------------------ the caller's side, compiled
# ``threads.run_compiled_chunks`` in two calls instead of a dozen Python steps (each hand-off
# cost 7-16 us of Python around the rows: docs/performance.md, "Hand-offs in two calls").
@numba.njit(cache=True, nogil=True)
def post_rows(rows, chunk_rows, parked, blas_get, blas_set):
    """Post ``chunk_rows[1:]`` to the helpers: BLAS held at one thread first (through its C
    functions at the addresses ``blas_get`` / ``blas_set``; 0: the caller holds it), then each
    row copied but its state into ``rows[i]`` and posted. Returns (BLAS's thread count before,
    or 0; the mask of parked helpers to wake, as ``post``)."""
    saved = 0
    if blas_set != 0:
        saved = call_int_getter(blas_get)
        if saved != 1:
            call_int_setter(blas_set, 1)
    count = chunk_rows.shape[0] - 1
    for i in range(count):
        for j in range(1, ROW):
            rows[i, j] = chunk_rows[i + 1, j]
    return saved, post(rows, count, parked)


@numba.njit(cache=True, nogil=True)
def run_and_collect(chunk_rows, rows, blas_set, saved):
    """After ``post_rows``: run ``chunk_rows[0]`` here, then every posted row no helper has
    started, wait for the others, free the rows and give BLAS back its ``saved`` thread count
    (when ``blas_set`` is not 0). Returns (True when a helper's row failed, the mask of the
    posted rows run here, as ``claim_unstarted``'s)."""
    count = chunk_rows.shape[0] - 1
    run_row(chunk_rows[0])
    mine = claim_unstarted(rows, count)
    for i in range(count):
        if mine >> i & 1:
            run_row(rows[i])
            atomic_store(rows[i], STATE, DONE)
    wait_finished(rows, count)
    failed = False
    for i in range(count):
        if atomic_load(rows[i], STATE) == FAILED:
            failed = True
        atomic_store(rows[i], STATE, FREE)
    if blas_set != 0 and saved != 1:
        call_int_setter(blas_set, saved)
    return failed, mine
