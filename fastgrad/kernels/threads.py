"""fastgrad's own threads: a batch's work runs as one chunk per thread.

``run_chunks(fn, chunks)`` runs ``fn`` on contiguous chunks of a batch at once: the calling
thread runs the first, persistent helper threads the others; between hand-offs a thread
waits a moment off the GIL before it blocks, and runs compiled chunks without taking the GIL
at all (``handoff.py``, ``chunk_programs.py``). Inside, numba kernels are serial
(``nogil``) and BLAS is held at one thread for the duration of the call, then given back the
count it had. That is the whole policy, and it applies only to fastgrad's own calls: importing
or using fastgrad sets no environment variable, starts no OpenMP runtime (no kernel is compiled
``parallel=True``, so ``fork()`` stays safe), and leaves every thread pool as the user set it.

Why chunks of the batch rather than multi-threaded kernels and BLAS: on two cores the
OpenMP and BLAS thread pools spun against each other (steps up to 6x slower), and chunks are
the policy that holds up when another process takes a core (docs/performance.md, "Threads").

Controls, as PyTorch's: ``fastgrad.set_num_threads(n)`` / ``fastgrad.get_num_threads()``.
The default is the number of cores this process may run on, or ``$FASTGRAD_NUM_THREADS``
when set (read once, never written).
"""

import ctypes
import os
import queue
import threading

import numpy as np

from . import handoff
from .chunk_programs import PROGRAM, PYTHON, ROW, STATE, run_row

__all__ = ["set_num_threads", "get_num_threads", "blas_limit", "batch_chunks", "run_chunks",
           "run_compiled_chunks", "describe"]

ENV_THREADS = "FASTGRAD_NUM_THREADS"


def _env_int(name):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_num_threads = _env_int(ENV_THREADS) or _usable_cores()


def set_num_threads(n):
    """Run fastgrad's batched work (conv, pooling) on ``n`` threads, as ``torch.set_num_threads``.

    Affects fastgrad's own calls only; ``n = 1`` runs everything on the calling thread.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads(): argument must be int, not {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    _num_threads = n


def get_num_threads():
    """The number of threads fastgrad's batched work runs on (``set_num_threads``)."""
    return _num_threads


# threadpoolctl's controller takes ~1 ms to build (it scans the loaded libraries): built on
# first use. Its per-call methods cost ~5-10 us (a symbol lookup and a lock each time), which
# ``run_chunks`` and every GEMM would pay twice, so for OpenBLAS on pthreads (NumPy's wheels)
# the two C functions are looked up once and called directly (~0.3 us).
_blas_libraries = None


class _BlasThreads:
    """get() / set(n) for one BLAS library's thread count."""

    def __init__(self, lib):
        self.lib = lib
        symbol = getattr(lib, "_get_symbol", None)
        direct = (lib.internal_api == "openblas" and symbol is not None
                  and getattr(lib, "threading_layer", None) == "pthreads")
        self.get = symbol("openblas_get_num_threads") if direct else None
        self.set = symbol("openblas_set_num_threads") if direct else None
        # direct: get / set are the C functions themselves (compiled code may call them)
        self.direct = self.get is not None and self.set is not None
        if not self.direct:
            self.get, self.set = lib.get_num_threads, lib.set_num_threads


def _blas():
    """The thread controls of the BLAS that NumPy's GEMMs call: the one shipped inside NumPy's
    wheel (``numpy.libs``), else every BLAS loaded (a NumPy linked to a system BLAS). Another
    library's own BLAS (SciPy's, PyTorch's) is left alone: fastgrad never calls it."""
    global _blas_libraries
    if _blas_libraries is None:
        import numpy
        from threadpoolctl import ThreadpoolController

        numpy_home = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
        blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        own = [lib for lib in blas
               if os.path.abspath(lib.filepath).startswith(os.path.join(numpy_home, "numpy"))]
        _blas_libraries = [_BlasThreads(lib) for lib in own or blas]
    return _blas_libraries


def numpy_blas_paths():
    """The file paths of the BLAS libraries that NumPy's GEMMs call."""
    return [lib.lib.filepath for lib in _blas()]


class blas_limit:
    """Context manager: NumPy's BLAS at ``n`` threads inside, its previous count after.

    BLAS thread counts are process-wide: another thread's GEMM inside the block runs at ``n``
    too. Not re-entrant across threads.
    """

    def __init__(self, n):
        self.n = n
        self._saved = None

    def __enter__(self):
        saved = None
        for i, lib in enumerate(_blas()):
            count = lib.get()
            if count != self.n:
                if saved is None:
                    saved = [None] * len(_blas_libraries)
                saved[i] = count
                lib.set(self.n)
        self._saved = saved
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            for lib, count in zip(_blas_libraries, self._saved):
                if count is not None:
                    lib.set(count)
            self._saved = None
        return False


# How many looks (each a sched_yield) a helper spends off the GIL waiting for its next chunk
# before it blocks: longer than the gaps between a training step's hand-offs (at 400 a third
# of the CNN's hand-offs found the helper parked; docs/performance.md, "Chunks without the
# GIL"), short enough that an idle process soon uses no CPU.
_SPIN_LOOKS = 2000


class _Workers:
    """The persistent helper threads of ``run_chunks`` (made on first use, and anew after a
    fork: a child process has none of its parent's threads).

    Helper i serves ``rows[i]`` (``handoff.py``): compiled rows in compiled code, a Python
    chunk (``python[i]``, its result in ``results[i]``) in Python. When idle it blocks on
    ``wake[i]`` with ``parked[i]`` set."""

    def __init__(self, count):
        self.rows = np.zeros((count, ROW), dtype=np.int64)
        self.parked = np.zeros(count, dtype=np.int64)
        self.wake = [queue.SimpleQueue() for _ in range(count)]
        self.python = [None] * count
        self.results = [None] * count
        for i in range(count):
            threading.Thread(target=self._loop, args=(i,), daemon=True,
                             name=f"fastgrad-chunk-{i + 1}").start()

    def _loop(self, i):
        _local.in_chunk = True
        row = self.rows[i]
        while True:
            try:
                code = handoff.serve(self.rows, i, self.parked, _SPIN_LOOKS)
            except BaseException:  # a compiled program raised: the caller re-raises for it
                row[STATE] = handoff.FAILED
                continue
            if code == handoff.PARKED:
                self.wake[i].get()
                continue
            fn, slot, lo, hi = self.python[i]
            # Drop the chunk before the next wait: its closure holds the op's arrays.
            self.python[i] = None
            try:
                self.results[i] = (fn(slot, lo, hi), None)
            except BaseException as exc:  # handed to the caller, re-raised there
                self.results[i] = (None, exc)
            fn = None
            row[STATE] = handoff.DONE

    def post(self, count):
        self._wake(handoff.post(self.rows, count, self.parked))

    def run_rows(self, chunk_rows, blas_get, blas_set):
        """``run_compiled_chunks``' hand-off: post ``chunk_rows[1:]``, run ``chunk_rows[0]``
        and collect (``handoff.post_rows`` / ``run_and_collect``); True when a row failed."""
        saved, woken = handoff.post_rows(self.rows, chunk_rows, self.parked, blas_get, blas_set)
        try:
            self._wake(woken)
        finally:
            # run_row is called from compiled code here: with each program behind its own
            # address (chunk_programs.entry_address), that compiles none of them again.
            failed, _ = handoff.run_and_collect(chunk_rows, self.rows, blas_set, saved)
        return failed

    def _wake(self, woken):
        for i in range(len(self.wake)):
            if woken >> i & 1:
                self.wake[i].put(None)


_local = threading.local()
_run_lock = threading.Lock()
_workers = None


def _after_fork_in_child():
    global _workers, _run_lock
    _workers = None
    _run_lock = threading.Lock()  # the parent may have held it while forking


os.register_at_fork(after_in_child=_after_fork_in_child)


def batch_chunks(n):
    """The contiguous ``(lo, hi)`` chunks of ``range(n)`` that ``run_chunks`` runs at once.

    One chunk per thread (fewer when ``n`` is smaller, one when ``n`` is 0). Callers allocate
    one buffer per chunk in their own thread before ``run_chunks``, so no chunk allocates.
    """
    parts = max(min(_num_threads, n), 1)
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def _helpers(count):
    global _workers
    if _workers is None or len(_workers.wake) < count:
        _workers = _Workers(count)
    return _workers


def _take_helpers(parts):
    """Whether a call of ``parts`` chunks may hand them to the helpers: more than one chunk, not
    called from inside a chunk, and no other thread using them. When True, this thread holds
    ``_run_lock`` and must release it."""
    return (parts > 1 and not getattr(_local, "in_chunk", False)
            and _run_lock.acquire(blocking=False))


def run_chunks(fn, chunks):
    """Run ``fn(i, lo, hi)`` for every chunk ``(lo, hi)``, on one thread each.

    Returns the list of the return values, in chunk order. The calling thread runs the first
    chunk, helper threads the others, with BLAS at one thread during the call; a chunk that
    no helper has started by the time the calling thread is done with its own, it runs itself
    (a helper whose core another process holds would otherwise stall the whole call). ``fn`` must
    write only its own chunk of any shared output (e.g. ``out[lo:hi]``) and release the GIL
    for its heavy work (the kernels are ``nogil``; NumPy's GEMMs release it), or the chunks
    just take turns. An exception in any chunk is re-raised here once every chunk that
    started has finished (after an error, chunks not started yet are not run). Called from
    inside a chunk, or while another thread is inside ``run_chunks``, the chunks run one after
    the other on the calling thread.
    """
    parts = len(chunks)
    if not _take_helpers(parts):
        with blas_limit(1):  # nested: BLAS is already held at one thread
            return [fn(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    try:
        workers = _helpers(parts - 1)
        count = parts - 1
        results = [None] * parts
        errors = []
        with blas_limit(1):
            rows = workers.rows
            for i in range(count):
                workers.python[i] = (fn, i + 1) + tuple(chunks[i + 1])
                rows[i, PROGRAM] = PYTHON
            workers.post(count)
            _local.in_chunk = True
            try:
                try:
                    results[0] = fn(0, chunks[0][0], chunks[0][1])
                except BaseException as exc:
                    errors.append(exc)
                # The chunks no helper has started yet are run here instead of waited for;
                # after an error, not at all.
                for i in range(count):
                    if handoff.claim(rows[i]):
                        task, workers.python[i] = workers.python[i], None
                        if not errors:
                            try:
                                results[i + 1] = task[0](*task[1:])
                            except BaseException as exc:
                                errors.append(exc)
                        task = None
                        rows[i, STATE] = handoff.DONE
            finally:
                _local.in_chunk = False
                handoff.wait_finished(rows, count)  # the helpers' chunks write shared buffers
                for i in range(count):
                    if workers.results[i] is not None:
                        value, exc = workers.results[i]
                        workers.results[i] = None
                        results[i + 1] = value
                        if exc is not None:
                            errors.append(exc)
                    rows[i, STATE] = handoff.FREE
        if errors:
            raise errors[0]
        return results
    finally:
        _run_lock.release()


def run_compiled_chunks(chunk_rows):
    """Run the compiled chunk programs ``chunk_rows`` (one row per chunk, written by the
    ``chunk_programs.encode_*`` functions) on one thread each, BLAS at one thread: the caller
    runs the first row and every row no helper has started; helpers never take the GIL for
    them. Nested, or while another thread is inside ``run_chunks``, the rows run one after the
    other on the calling thread."""
    parts = chunk_rows.shape[0]
    if not _take_helpers(parts):
        with blas_limit(1):
            for row in chunk_rows:
                run_row(row)
        return
    try:
        workers = _helpers(parts - 1)
        blas_get, blas_set = _blas_thread_functions()
        if blas_set:  # BLAS held at one thread by the compiled calls themselves
            failed = workers.run_rows(chunk_rows, blas_get, blas_set)
        else:
            with blas_limit(1):
                failed = workers.run_rows(chunk_rows, 0, 0)
        if failed:
            raise RuntimeError("a compiled chunk failed in a helper thread")
    finally:
        _run_lock.release()


_thread_functions = None


def _blas_thread_functions():
    """(get, set) addresses of ``openblas_get/set_num_threads`` when NumPy's GEMMs call one
    OpenBLAS on pthreads (NumPy's wheels), for compiled code to hold it at one thread; else
    (0, 0), and Python holds it (``blas_limit``)."""
    global _thread_functions
    if _thread_functions is None:
        libs = _blas()
        if len(libs) == 1 and libs[0].direct and not _numba_disabled():
            _thread_functions = (ctypes.cast(libs[0].get, ctypes.c_void_p).value,
                                 ctypes.cast(libs[0].set, ctypes.c_void_p).value)
        else:
            _thread_functions = (0, 0)
    return _thread_functions


def _numba_disabled():
    import numba

    return bool(numba.config.DISABLE_JIT)


def describe():
    """The policy in force, as a dict (for logs and benchmark reports)."""
    return {
        "num_threads": _num_threads,
        "blas_threads_outside_fastgrad": [lib.get() for lib in _blas()],
        "blas_libraries": [lib.lib.internal_api for lib in _blas()],
    }
