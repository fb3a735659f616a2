"""fastgrad's own threads: a batch's work runs as one chunk per thread.

``run_chunks(fn, chunks)`` runs ``fn`` on contiguous chunks of a batch at once: the calling
thread runs the first, persistent helper threads the others; between hand-offs a thread
waits a moment off the GIL (``spin.py``) before it blocks. Inside, numba kernels are serial
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

import os
import queue
import threading

import numpy as np

from .spin import spin_until_set

__all__ = ["set_num_threads", "get_num_threads", "blas_limit", "batch_chunks", "run_chunks",
           "describe"]

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
        if self.get is None or self.set is None:
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


# How many looks (each about half a microsecond, then a sched_yield) a thread spends off the
# GIL waiting for a hand-off before it blocks on the queue: ~0.2 ms, about the gap between
# two layers' hand-offs in a training step (docs/performance.md, "Hand-offs").
_SPIN_LOOKS = 400


class _Workers:
    """The persistent helper threads of ``run_chunks`` (made on first use, and anew after a
    fork: a child process has none of its parent's threads).

    ``tasks[i]`` / ``ready[i]``: helper i's queue and the flag set after each put to it;
    ``done`` / ``finished``: results, and a count of results put and not yet taken. The flags
    are hints for ``spin_until_set``; the queues are the hand-off."""

    def __init__(self, count):
        self.tasks = [queue.SimpleQueue() for _ in range(count)]
        self.ready = [np.zeros(1, dtype=np.int64) for _ in range(count)]
        self.done = queue.SimpleQueue()
        self.finished = np.zeros(1, dtype=np.int64)
        for i in range(count):
            threading.Thread(target=self._loop, args=(self.tasks[i], self.ready[i]),
                             daemon=True, name=f"fastgrad-chunk-{i + 1}").start()

    def _loop(self, tasks, ready):
        _local.in_chunk = True
        while True:
            spin_until_set(ready, _SPIN_LOOKS)
            task = tasks.get()
            ready[0] = 0
            if not task.claim.acquire(blocking=False):
                continue  # the caller ran it already
            try:
                result, error = task.fn(task.slot, task.lo, task.hi), None
            except BaseException as exc:  # handed to the caller, re-raised there
                result, error = None, exc
            # Drop the task before waiting for the next one: its closure holds the op's
            # arrays (conv2d's output, an input gradient a leaf could take without a copy).
            slot = task.slot
            task.fn = task = None
            self.done.put((slot, result, error))
            self.finished[0] += 1
            result = error = None


class _Task:
    """One chunk handed to a helper; ``claim`` is taken by whichever thread runs it."""

    __slots__ = ("fn", "slot", "lo", "hi", "claim")

    def __init__(self, fn, slot, lo, hi):
        self.fn, self.slot, self.lo, self.hi = fn, slot, lo, hi
        self.claim = threading.Lock()


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


def run_chunks(fn, chunks):
    """Run ``fn(i, lo, hi)`` for every chunk ``(lo, hi)``, on one thread each.

    Returns the list of the return values, in chunk order. The calling thread runs the first
    chunk, helper threads the others, with BLAS at one thread during the call; a chunk that
    no helper has started by the time the calling thread is done with its own, it runs itself
    (a helper whose core another process holds would otherwise stall the whole call). ``fn`` must
    write only its own chunk of any shared output (e.g. ``out[lo:hi]``) and release the GIL
    for its heavy work (the kernels are ``nogil``; NumPy's GEMMs release it), or the chunks
    just take turns. An exception in any chunk is re-raised here once every chunk that
    started has finished (after an error, chunks not started yet are not run). Called from inside a chunk, or while another thread is inside ``run_chunks``,
    the chunks run one after the other on the calling thread.
    """
    global _workers
    if getattr(_local, "in_chunk", False):  # nested: BLAS is already held at one thread
        return [fn(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    parts = len(chunks)
    if parts <= 1 or not _run_lock.acquire(blocking=False):
        with blas_limit(1):
            return [fn(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    try:
        if _workers is None or len(_workers.tasks) < parts - 1:
            _workers = _Workers(parts - 1)
        results = [None] * parts
        errors = []
        with blas_limit(1):
            tasks = [_Task(fn, i, chunks[i][0], chunks[i][1]) for i in range(1, parts)]
            for queue_, ready, task in zip(_workers.tasks, _workers.ready, tasks):
                queue_.put(task)
                ready[0] = 1
            _local.in_chunk = True
            mine, waiting = [], 0
            try:
                try:
                    results[0] = fn(0, chunks[0][0], chunks[0][1])
                except BaseException as exc:
                    errors.append(exc)
                # The chunks no helper has started yet (its core is busy, or it is still
                # waking up) are run here instead of waited for; after an error, not at all.
                mine = [task for task in tasks if task.claim.acquire(blocking=False)]
                waiting = len(tasks) - len(mine)
                for task in mine:
                    task_fn, task.fn = task.fn, None
                    if not errors:
                        results[task.slot] = task_fn(task.slot, task.lo, task.hi)
            except BaseException as exc:
                errors.append(exc)
            finally:
                _local.in_chunk = False
                for task in mine:
                    task.fn = None
                for _ in range(waiting):  # wait for the helpers' chunks: they write shared buffers
                    spin_until_set(_workers.finished, _SPIN_LOOKS)
                    slot, value, exc = _workers.done.get()
                    _workers.finished[0] -= 1
                    results[slot] = value
                    if exc is not None:
                        errors.append(exc)
        if errors:
            raise errors[0]
        return results
    finally:
        _run_lock.release()


def describe():
    """The policy in force, as a dict (for logs and benchmark reports)."""
    return {
        "num_threads": _num_threads,
        "blas_threads_outside_fastgrad": [lib.get() for lib in _blas()],
        "blas_libraries": [lib.lib.internal_api for lib in _blas()],
    }
