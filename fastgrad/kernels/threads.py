"""CPU threading policy: how numba's kernels, BLAS and the batch share the cores.

The policy (applied when ``fastgrad.kernels`` is imported)
----------------------------------------------------------
* BLAS (OpenBLAS, pthreads) at **1 thread**, process-wide.  Its idle workers
  spin for ~0.1 s after every multi-threaded GEMM (``OPENBLAS_THREAD_TIMEOUT``,
  read only when numpy loads, so out of our reach); at one thread no worker
  is ever woken, so nothing spins.
* numba kernels at all usable cores, with ``OMP_WAIT_POLICY=PASSIVE`` (set if
  the user did not, before numba starts its OpenMP threads): idle OpenMP
  threads sleep at once instead of spinning on the core the other work needs.
* ``split_batch(n, fn)``: the two cores come from running the two halves of
  the batch at once, ``fn(lo, hi)`` on the calling thread and on one
  persistent helper; numba kernels run single-threaded inside a chunk, each
  chunk's GEMMs at 1 BLAS thread.  Ops use it for conv2d (im2col, GEMMs and
  layout moves of a half batch per chunk, dW/db of the halves summed) and
  may for pooling.
* Overrides: ``FASTGRAD_NUM_THREADS`` (numba threads and chunks; 1 = all
  serial), ``FASTGRAD_BLAS_THREADS``; ``configure()`` at run time.

Measurements (``benchmarks/kernel_timings.py``, 2-core AMD EPYC VM, OpenBLAS
0.3.31 pthreads, numba 0.68 OpenMP layer; the MNIST CNN at batch 64 float32:
conv1 1->16 k3, maxpool 2, conv2 16->32 k3, maxpool 2, fc 800-128-10 as
GEMMs; ms of fwd+bwd of each layer inside full training steps, median of 4
runs x 160 steps).  One process per policy::

    policy                                    conv1 pool1 conv2 pool2  fc   step  img/s
    a  numba par 2 + BLAS 2                    7.86  0.53 16.13  3.75 4.23 36.09  1773
       a + OMP_WAIT_POLICY=PASSIVE             1.76  0.57  3.60  0.25 0.37  6.65  9630
       a + PASSIVE + OPENBLAS_THREAD_TIMEOUT=4 1.65  0.56  3.39  0.25 0.47  6.39 10015
    b  numba serial + BLAS 2                   1.73  0.61  3.96  0.22 0.38  7.23  8847
    c  numba par 2 + BLAS 1                    1.48  0.37  4.39  0.14 0.55  7.02  9115
    d  this policy, every layer split_batch    1.48  0.52  2.79  0.27 0.55  5.69 11249
       this policy, convs split, rest whole    1.61  0.57  3.07  0.30 0.56  6.25 10246
       all serial (numba serial + BLAS 1)      1.75  0.51  4.78  0.20 0.55  7.84  8161
    PyTorch CPU on this machine (reference): conv2 1.8, pool1 2.6, ~9400 img/s

(a) is the collapse the prototype saw: numba's OpenMP threads spin after a
kernel while OpenBLAS's worker spins after a GEMM, each stalling the other's
barrier for a scheduler tick; PASSIVE alone removes most of it.  Host noise
moves whole processes by up to 40% here, so the same configurations were
also compared inside one process, switching thread counts every 40 steps
(first 20 of each block dropped; medians of 4 runs x 8 blocks)::

    OMP_WAIT_POLICY             default            PASSIVE
    numba 2, BLAS 2           36.81 ms (1.00)     7.84 ms (1.00)
    numba 1, BLAS 2            7.22    (0.20)     8.12    (1.04)
    numba 2, BLAS 1            7.43    (0.20)     9.73    (1.24)
    numba 1, BLAS 1            8.05    (0.22)     9.53    (1.21)
    split_batch halves         6.16    (0.17)     7.14    (0.91)
    convs split, pools numba 2 8.25    (0.22)     6.99    (0.89)

Splitting the batch wins because conv2's GEMMs (3/4 of its time) run as two
independent single-threaded GEMMs with no spinning at all, and it is the
policy that survives a busy machine: with another tenant's process taking
one core, steps took 8 ms split and 20-400 ms with 2-thread BLAS or OpenMP
(their barriers wait a whole scheduler tick for the descheduled thread).
Without PASSIVE, OpenMP threads spinning after a whole-batch kernel starve
the split helper (8.25 ms above), hence both together.

Per-call costs: changing the BLAS thread count through the library
controllers 1-2 us (``blas_limit``), threadpoolctl's ``limit()`` on a reused
controller 8 us, ``threadpool_limits()`` 650-800 us (it rebuilds the
controller each time, so never per GEMM); ``split_batch`` round trip 50 us.
Inside training steps (conv2d's four ``run_chunks`` per step) the first
chunk starts 30-45 us after the call, the helper's 45-85 us after it, and
the call returns 45-70 us after the helper's chunk ends: ~0.1 ms per call,
mostly thread wake-ups.  Tried and not kept (whole step, interleaved):
polling for the helper's result with ``time.sleep(0)`` instead of blocking
1.03-1.05x (the GIL handoffs get worse); a larger first chunk for the
calling thread (3-10% of the batch) within noise (0.96-1.03x); max-pool in
``run_chunks`` instead of 2 OpenMP threads 1.01x, at 1 numba thread 1.00x.
Within a chunk, the ``parallel=True`` kernels at one thread cost the same as
serially compiled copies (step 4.40 vs 4.39 ms); on whole batches, under
PASSIVE, 2 numba threads make pool1 fwd+bwd 0.44-0.67 ms against 0.55-0.74
at 1 thread (three runs), the whole step -2% to +8%, so the kernels stay
parallel (their cost: ~6x the compile time, once, cached).  Kernels never call ``numba.get_num_threads()`` (that would stop
their caching); the count is set per calling thread here.
"""

import os
import queue
import threading

import numba
from numba.np.ufunc import parallel as _numba_parallel

__all__ = ["configure", "blas_limit", "batch_chunks", "run_chunks", "split_batch", "describe"]

ENV_THREADS = "FASTGRAD_NUM_THREADS"
ENV_BLAS = "FASTGRAD_BLAS_THREADS"
ENV_OFF = "FASTGRAD_THREADING"  # "off": import applies nothing (benchmarks)

_state = {
    "num_threads": 1,
    "blas_threads": None,
    "omp_wait_policy": None,
    "applied": False,
    "concurrent_kernels": True,
}
_controller = None  # threadpoolctl.ThreadpoolController: ~0.9 ms to build, so once
_blas = []  # its BLAS library controllers


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


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_controllers(rescan=False):
    global _controller, _blas
    if _controller is None or rescan:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _blas = [lc for lc in _controller.lib_controllers if lc.user_api == "blas"]
    return _blas


def configure(num_threads=None, blas_threads=None):
    """Apply the policy; called once when ``fastgrad.kernels`` is imported.

    num_threads:  threads for the numba kernels and for ``split_batch``
                  (default ``$FASTGRAD_NUM_THREADS``, else the usable cores).
    blas_threads: threads of every loaded BLAS (default
                  ``$FASTGRAD_BLAS_THREADS``, else 1; see the measurements).

    Before numba starts its OpenMP threads this also sets
    ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: idle OpenMP threads
    then sleep at once instead of spinning on the cores BLAS and the other
    kernels need.  Call again with other counts at any time (``blas_threads``
    also picks up BLAS libraries loaded since).
    """
    n = num_threads if num_threads is not None else (_env_int(ENV_THREADS) or _cores())
    b = blas_threads if blas_threads is not None else (_env_int(ENV_BLAS) or 1)
    if n < 1 or b < 1:
        raise ValueError("thread counts must be >= 1")
    if not _numba_parallel._is_initialized:
        # must precede libgomp's start, which numba defers to here
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    for lib in _blas_controllers(rescan=_state["applied"]):
        lib.set_num_threads(b)
    _state.update(num_threads=n, blas_threads=b, applied=True,
                  omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                  # numba's fallback layer aborts on concurrent launches
                  concurrent_kernels=_threading_layer() != "workqueue")


class blas_limit:
    """Context manager: BLAS at ``n`` threads inside, previous counts after.

    Talks to the BLAS libraries' controllers directly (about 1 us per switch,
    against 8 us for threadpoolctl's ``limit()`` on a reused controller and
    0.8 ms for ``threadpool_limits()``, which rescans the loaded libraries).
    Not re-entrant across threads: BLAS thread counts are process-wide.
    """

    def __init__(self, n):
        self.n = n
        self._saved = []

    def __enter__(self):
        libs = _blas_controllers()
        self._saved = [lib.get_num_threads() for lib in libs]
        for lib in libs:
            lib.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        for lib, k in zip(_blas, self._saved):
            lib.set_num_threads(k)
        return False


class _Workers:
    """Persistent helper threads for ``split_batch`` (created on first use)."""

    def __init__(self, count):
        self.pid = os.getpid()
        self.tasks = [queue.SimpleQueue() for _ in range(count)]
        self.done = queue.SimpleQueue()
        for i in range(count):
            threading.Thread(target=self._loop, args=(i,), daemon=True,
                             name=f"fastgrad-split-{i + 1}").start()

    def _loop(self, i):
        _local.in_worker = True
        # numba's thread count is per calling thread: one here, so that two
        # chunks never start 2x2 OpenMP threads on two cores.
        numba.set_num_threads(1)
        tasks = self.tasks[i]
        while True:
            fn, slot, lo, hi = tasks.get()
            try:
                result, error = fn(slot, lo, hi), None
            except BaseException as exc:  # handed to the caller, re-raised there
                result, error = None, exc
            # Drop the task before waiting for the next one: its closure holds the op's
            # arrays (conv2d's output, the input gradient a leaf could take without a copy).
            fn = None
            self.done.put((slot, result, error))
            result = error = None


_local = threading.local()
_split_lock = threading.Lock()
_workers = None


def batch_chunks(n):
    """The contiguous ``(lo, hi)`` chunks of ``range(n)`` that ``run_chunks`` runs in parallel.

    One chunk per thread of the policy (fewer when ``n`` is smaller). Callers allocate one
    buffer per chunk in their own thread before ``run_chunks``, so no chunk allocates.
    """
    parts = min(_state["num_threads"], n) if _state["concurrent_kernels"] else 1
    parts = max(parts, 1)
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def run_chunks(fn, chunks):
    """Run ``fn(i, lo, hi)`` for every chunk ``(lo, hi)``, on one thread each.

    Returns the list of the return values, in chunk order. The calling thread runs the first
    chunk, persistent helper threads the others; numba kernels run single-threaded inside a
    chunk, and BLAS is at one thread during the call. ``fn`` must write only its own chunk
    of any shared output (e.g. ``out[lo:hi]``) and must release the GIL for its heavy work
    (the kernels are ``nogil``; numpy's GEMM releases it), or the chunks just take turns.
    An exception in any chunk is re-raised here after all chunks have finished. The chunks
    run one after the other in the calling thread when called from inside a chunk
    (nesting) or while another thread is inside ``run_chunks``.
    """
    global _workers
    parts = len(chunks)
    if parts <= 1 or getattr(_local, "in_worker", False) \
            or not _split_lock.acquire(blocking=False):
        return [fn(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    try:
        if _workers is None or _workers.pid != os.getpid() \
                or len(_workers.tasks) < parts - 1:
            # (a fork leaves the child without the parent's threads)
            _workers = _Workers(parts - 1)
        results = [None] * parts
        errors = []
        with blas_limit(1) if _state["blas_threads"] != 1 else _nullcontext():
            for i in range(1, parts):
                _workers.tasks[i - 1].put((fn, i, chunks[i][0], chunks[i][1]))
            saved = numba.get_num_threads()
            numba.set_num_threads(1)
            _local.in_worker = True
            try:
                results[0] = fn(0, chunks[0][0], chunks[0][1])
            except BaseException as exc:
                errors.append(exc)
            finally:
                _local.in_worker = False
                numba.set_num_threads(saved)
                for _ in range(parts - 1):  # wait for all: they may write buffers
                    slot, value, exc = _workers.done.get()
                    results[slot] = value
                    if exc is not None:
                        errors.append(exc)
        if errors:
            raise errors[0]
        return results
    finally:
        _split_lock.release()


def split_batch(n, fn):
    """Run ``fn(lo, hi)`` on the chunks ``batch_chunks(n)``; see ``run_chunks``."""
    return run_chunks(lambda i, lo, hi: fn(lo, hi), batch_chunks(n))


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def describe():
    """The policy in force, as a dict (for logs and benchmark reports)."""
    return {
        "num_threads": _state["num_threads"],
        "numba_threads": numba.get_num_threads(),
        "blas_threads": _state["blas_threads"],
        "blas_libraries": [lib.internal_api for lib in _blas],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "threading_layer": _threading_layer(),
        "applied": _state["applied"],
    }


def _threading_layer():
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return None


if os.environ.get(ENV_OFF, "").strip().lower() != "off":
    configure()
