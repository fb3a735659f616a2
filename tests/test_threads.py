"""fastgrad's threads: run_chunks, set_num_threads, and a process left as it was found.

The process-level checks run in fresh interpreters (subprocess), so that nothing this test
session imported or configured earlier can hide a side effect of ``import fastgrad``.
"""
import json
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import fastgrad
import fastgrad.kernels as K
from fastgrad.kernels import threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, env=None, timeout=240):
    """Run ``code`` in a fresh interpreter, with ``train_step()`` defined (importing nothing)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", TRAIN_STEP + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def last_json(completed):
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


# A CNN training step of the reference model on random data: runs every kernel (conv, pool)
# and every GEMM path of a step.
TRAIN_STEP = """
def train_step():
    import fastgrad
    from fastgrad import nn, optim
    from fastgrad.models import MNISTClassificationModel
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = fastgrad.randn(64, 1, 28, 28), fastgrad.randint(0, 10, (64,))
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.item())
"""


# ------------------------------------------------------------------------- run_chunks
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64])
def test_batch_chunks_cover_the_range_in_order(n):
    chunks = threads.batch_chunks(n)
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert len(chunks) == max(min(n, fastgrad.get_num_threads()), 1)


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_run_chunks_runs_every_chunk_once_and_returns_in_order(num_threads):
    before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(num_threads)
    try:
        chunks = threads.batch_chunks(10)
        out = np.full(10, -1)

        def chunk(i, lo, hi):
            out[lo:hi] = np.arange(lo, hi)
            return i, lo, hi

        assert threads.run_chunks(chunk, chunks) == [(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
        np.testing.assert_array_equal(out, np.arange(10))
        assert len(chunks) == num_threads
    finally:
        fastgrad.set_num_threads(before)


def test_run_chunks_reraises_once_every_started_chunk_finished():
    import threading
    import time

    started, finished, lock = set(), set(), threading.Lock()

    def chunk(i, lo, hi):
        with lock:
            started.add(i)
        if i == 0:
            time.sleep(0.01)  # the helper has started its chunk by then
            raise KeyError("first chunk")
        time.sleep(0.02)
        with lock:
            finished.add(i)

    with pytest.raises(KeyError):
        threads.run_chunks(chunk, [(0, 4), (4, 8)])
    assert started - {0} == finished  # nothing still running after the raise
    # and no stale result is left behind for the next call
    for _ in range(3):
        assert threads.run_chunks(lambda i, lo, hi: (i, hi - lo), [(0, 1), (1, 3)]) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("compiled", [False, True])
def test_a_chunk_no_helper_started_is_run_by_the_caller(compiled, monkeypatch):
    import threading
    import time

    from fastgrad.kernels import chunk_programs as programs
    from fastgrad.kernels import handoff

    threads_before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        threads.run_chunks(lambda i, lo, hi: None, [(0, 1), (1, 2)])  # make sure workers exist
        workers = threads._workers
        deadline = time.monotonic() + 10
        while not workers.parked[0] and time.monotonic() < deadline:
            time.sleep(0.01)  # until the idle helper has blocked
        assert workers.parked[0]
        # A helper the OS does not run: posting does not wake it.
        monkeypatch.setattr(threads._Workers, "post",
                            lambda self, count: handoff.post(self.rows, count,
                                                             np.zeros_like(self.parked)))
        post_rows = handoff.post_rows
        monkeypatch.setattr(handoff, "post_rows",
                            lambda rows, chunk_rows, parked, *blas: post_rows(
                                rows, chunk_rows, np.zeros_like(parked), *blas))
        if compiled:
            a = np.arange(12.0).reshape(4, 3)
            b = np.ones((3, 2))
            out = np.zeros((4, 2))
            rows = programs.new_rows(2, programs.MATMUL, out.dtype)
            programs.encode_matmul(rows, a, b, out, [(0, 2), (2, 4)])
            threads.run_compiled_chunks(rows)
            np.testing.assert_array_equal(out, a @ b)
        else:
            ran_on = {}
            result = threads.run_chunks(
                lambda i, lo, hi: ran_on.setdefault(i, threading.current_thread().name) or i,
                [(0, 1), (1, 2)])
            assert result == [ran_on[0], ran_on[1]]
            assert ran_on[0] == ran_on[1] == threading.current_thread().name
        assert workers.parked[0]  # it never ran
    finally:
        monkeypatch.undo()
        fastgrad.set_num_threads(threads_before)
    # woken again, the helper takes its chunks as before
    names = threads.run_chunks(lambda i, lo, hi: threading.current_thread().name,
                               [(0, 1), (1, 2)])
    assert names[0] == threading.current_thread().name
    assert threads.run_chunks(lambda i, lo, hi: i, [(0, 1), (1, 2)]) == [0, 1]


def test_run_chunks_keeps_no_reference_to_a_finished_task():
    # A helper thread that kept its last task alive would keep the op's arrays alive with it
    # (and the engine would then have to copy an input gradient it could have taken).
    class Payload:
        pass

    payload = Payload()
    alive = weakref.ref(payload)

    def chunk(i, lo, hi, payload=payload):
        return hi - lo

    assert threads.run_chunks(chunk, [(0, 2), (2, 5)]) == [2, 3]
    del chunk, payload
    assert alive() is None


def test_nested_run_chunks_runs_its_chunks_in_place():
    outer = [(0, 3), (3, 6)]
    res = threads.run_chunks(
        lambda i, lo, hi: threads.run_chunks(lambda j, a, b: (j, a, b), [(lo, lo + 1), (lo + 1, hi)]),
        outer)
    assert res == [[(0, 0, 1), (1, 1, 3)], [(0, 3, 4), (1, 4, 6)]]


def test_chunked_kernels_equal_the_whole_batch():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 3, 12, 12)).astype(np.float32)
    whole_out, whole_am = np.empty((9, 3, 6, 6), np.float32), np.empty((9, 3, 6, 6), np.int32)
    K.maxpool2d_forward(x, 2, 2, 2, 2, 0, 0, 1, 1, 6, 6, whole_out, whole_am)
    out, am = np.empty_like(whole_out), np.empty_like(whole_am)
    whole_cols = np.empty((27, 9 * 100), np.float32)
    K.im2col(x, 3, 3, 1, 1, 0, 0, 1, 1, 10, 10, whole_cols)

    def chunk(i, lo, hi):
        K.maxpool2d_forward_2x2s2(x[lo:hi], 6, 6, out[lo:hi], am[lo:hi])
        cols = np.empty((27, (hi - lo) * 100), np.float32)
        K.im2col(x[lo:hi], 3, 3, 1, 1, 0, 0, 1, 1, 10, 10, cols)
        return cols

    parts = threads.run_chunks(chunk, [(0, 4), (4, 9)])
    np.testing.assert_array_equal(out, whole_out)
    np.testing.assert_array_equal(am, whole_am)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole_cols)


def test_run_chunks_holds_blas_at_one_thread_and_gives_back_the_count():
    from threadpoolctl import threadpool_info

    def blas_counts():  # NumPy's own BLAS, the one its GEMMs call
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before = blas_counts()
    assert before
    with threads.blas_limit(2):
        inside = threads.run_chunks(lambda i, lo, hi: blas_counts(), [(0, 1), (1, 2)])
        assert blas_counts() == [2] * len(before)
    assert inside == [[1] * len(before)] * 2
    assert blas_counts() == before
    with threads.blas_limit(2):  # one chunk, or fastgrad at one thread: one BLAS thread too
        assert threads.run_chunks(lambda i, lo, hi: blas_counts(), [(0, 2)]) == [[1] * len(before)]
        before_threads = fastgrad.get_num_threads()
        fastgrad.set_num_threads(1)
        try:
            chunks = threads.batch_chunks(8)
            assert threads.run_chunks(lambda i, lo, hi: blas_counts(), chunks) == [[1] * len(before)]
        finally:
            fastgrad.set_num_threads(before_threads)


def test_compiled_hand_off_holds_blas_at_one_thread_and_gives_back_the_count():
    """run_compiled_chunks holds NumPy's BLAS at one thread from compiled code (post_rows) and
    gives the count back once every row is done (run_and_collect)."""
    from threadpoolctl import threadpool_info

    from fastgrad.kernels import chunk_programs as programs
    from fastgrad.kernels import handoff

    def blas_counts():
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    blas_get, blas_set = threads._blas_thread_functions()
    # NumPy's wheels (what the project installs) ship one OpenBLAS on pthreads: its C thread
    # functions must be found, or every hand-off silently falls back to the Python hold.
    assert blas_get and blas_set
    a, b = np.ones((64, 40), np.float32), np.ones((40, 30), np.float32)
    out = np.zeros((64, 30), np.float32)
    rows = programs.new_rows(1, programs.MATMUL, np.float32)  # the caller's row alone
    programs.encode_matmul(rows, a, b, out, [(0, 64)])
    helper_rows = np.zeros((1, programs.ROW), np.int64)
    with threads.blas_limit(2):
        saved, woken = handoff.post_rows(helper_rows, rows, np.zeros(1, np.int64), blas_get,
                                         blas_set)
        assert (saved, woken) == (2, 0)
        assert set(blas_counts()) == {1}  # held between the two calls, while rows run
        assert handoff.run_and_collect(rows, helper_rows, blas_set, saved) == (False, 0)
        assert set(blas_counts()) == {2}
        np.testing.assert_array_equal(out, 40.0)
        big = np.ones((256, 128), np.float32)  # 4.2 MFLOP: above the split threshold
        fastgrad_out = np.empty((256, 64), np.float32)
        threads_before = fastgrad.get_num_threads()
        fastgrad.set_num_threads(2)
        try:
            from fastgrad.ops import gemm

            gemm.matmul(big, np.ones((128, 64), np.float32), out=fastgrad_out)  # compiled chunks
        finally:
            fastgrad.set_num_threads(threads_before)
        np.testing.assert_array_equal(fastgrad_out, 128.0)
        assert set(blas_counts()) == {2}


def test_compiled_chunks_without_the_c_thread_functions_hold_blas_in_python(monkeypatch):
    """A BLAS whose thread count compiled code cannot set (another BLAS than one OpenBLAS on
    pthreads): run_compiled_chunks holds it with blas_limit, and gives the count back."""
    from threadpoolctl import threadpool_info

    from fastgrad.ops import gemm

    def blas_counts():
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    monkeypatch.setattr(threads, "_thread_functions", (0, 0))
    seen = []
    python_hold = threads.blas_limit.__enter__
    monkeypatch.setattr(threads.blas_limit, "__enter__",
                        lambda self: seen.append(self.n) or python_hold(self))
    before_threads = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        with threads.blas_limit(2):
            seen.clear()
            out = gemm.matmul(np.ones((256, 128), np.float32), np.ones((128, 64), np.float32))
            assert seen == [1]  # the split GEMM's hand-off held BLAS from Python
            assert set(blas_counts()) == {2}
    finally:
        fastgrad.set_num_threads(before_threads)
    np.testing.assert_array_equal(out, 128.0)


# -------------------------------------------------------------------- set_num_threads
def test_set_num_threads_as_pytorch():
    before = fastgrad.get_num_threads()
    try:
        fastgrad.set_num_threads(1)
        assert fastgrad.get_num_threads() == 1
        assert threads.batch_chunks(64) == [(0, 64)]
        fastgrad.set_num_threads(3)
        assert threads.batch_chunks(6) == [(0, 2), (2, 4), (4, 6)]
        with pytest.raises(RuntimeError, match="positive integer, got 0"):
            fastgrad.set_num_threads(0)
        with pytest.raises(TypeError, match="must be int, not float"):
            fastgrad.set_num_threads(2.0)
        assert fastgrad.get_num_threads() == 3  # a refused value changes nothing
    finally:
        fastgrad.set_num_threads(before)


def test_default_is_the_usable_cores_or_the_variable():
    code = "import fastgrad, json, os; print(json.dumps([fastgrad.get_num_threads(), len(os.sched_getaffinity(0))]))"
    env = {k: v for k, v in os.environ.items() if k != "FASTGRAD_NUM_THREADS"}
    got, cores = last_json(run_python(code, env))
    assert got == cores
    assert last_json(run_python(code, dict(env, FASTGRAD_NUM_THREADS="3")))[0] == 3
    bad = run_python(code, dict(env, FASTGRAD_NUM_THREADS="zero"))
    assert bad.returncode != 0 and "FASTGRAD_NUM_THREADS" in bad.stderr


# ----------------------------------------------------- the process, as it was found
def test_import_and_training_leave_environment_and_thread_pools_as_they_were():
    result = last_json(run_python("""
        import json, os
        from threadpoolctl import threadpool_info
        env_before = dict(os.environ)
        pools_before = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
        import fastgrad
        env_after_import = dict(os.environ)
        train_step()
        pools_after = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()
                       if p["internal_api"] in {api for api, _ in pools_before}]
        openmp = [p["internal_api"] for p in threadpool_info() if p["user_api"] == "openmp"]
        print(json.dumps(dict(import_changed=env_after_import != env_before,
                              step_changed=dict(os.environ) != env_before,
                              pools_before=pools_before, pools_after=pools_after,
                              openmp=openmp)))
    """))
    assert not result["import_changed"] and not result["step_changed"]
    assert result["pools_after"] == result["pools_before"]
    assert result["openmp"] == []  # no OpenMP runtime started: fork() stays safe


def test_a_child_process_sees_the_environment_the_parent_started_with():
    # Started without the variable older fastgrads set at import (this session's environment
    # may hold it), so that setting it again would show.
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    result = last_json(run_python("""
        import json, os, subprocess, sys
        before = dict(os.environ)
        import fastgrad
        train_step()
        child = subprocess.run([sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
                               capture_output=True, text=True, check=True)
        print(json.dumps(dict(before=before, child=json.loads(child.stdout))))
    """, env))
    added = {k: v for k, v in result["child"].items() if result["before"].get(k) != v}
    assert added == {}


def test_fork_after_a_training_step_trains_in_the_child():
    result = last_json(run_python("""
        import json, os
        import fastgrad
        parent_loss = train_step()
        pid = os.fork()
        if pid == 0:
            try:
                child_loss = train_step()
                os._exit(0 if child_loss == parent_loss else 3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        print(json.dumps(dict(exited=os.WIFEXITED(status), code=os.waitstatus_to_exitcode(status))))
    """, timeout=300))
    assert result == {"exited": True, "code": 0}


def test_a_fork_based_pool_runs_fastgrad_after_fastgrad_ran():
    result = last_json(run_python("""
        import json, multiprocessing
        import fastgrad
        from fastgrad.nn import functional as F
        def pooled_sum(seed):
            fastgrad.manual_seed(seed)
            x = fastgrad.randn(64, 16, 26, 26)
            return float(F.max_pool2d(x, 2).sum().item())

        train_step()
        expected = [pooled_sum(s) for s in range(4)]
        with multiprocessing.get_context("fork").Pool(2) as pool:
            got = pool.map_async(pooled_sum, range(4)).get(timeout=120)
        print(json.dumps(dict(same=got == expected)))
    """, timeout=300))
    assert result == {"same": True}


# ------------------------------------------------------------------------ gemm.matmul
@pytest.mark.parametrize("split_flops", [0, 10**12])
@pytest.mark.parametrize("shapes", [((7, 5), (5, 3)), ((1, 4), (4, 6)), ((0, 3), (3, 2)),
                                    ((2, 3, 4), (4, 5)), ((4,), (4, 3)), ((6, 4), (4,))])
def test_gemm_matmul_is_numpys_matmul_split_or_not(shapes, split_flops, monkeypatch):
    from threadpoolctl import threadpool_info

    from fastgrad.ops import gemm

    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", split_flops)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    before = [p["num_threads"] for p in threadpool_info()]
    got = gemm.matmul(a, b)
    assert [p["num_threads"] for p in threadpool_info()] == before
    expected = np.matmul(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    out = np.full(expected.shape, np.nan, np.float32)
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_gemm_matmul_of_a_transposed_operand_splits_its_rows(monkeypatch):
    from fastgrad.ops import gemm

    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", 0)
    rng = np.random.default_rng(1)
    g, x = rng.standard_normal((64, 10)), rng.standard_normal((64, 30))
    np.testing.assert_allclose(gemm.matmul(g.T, x), g.T @ x, rtol=1e-12)
    with pytest.raises(ValueError):
        gemm.matmul(g, x)  # (64, 10) @ (64, 30): NumPy's error, whichever path


@pytest.mark.parametrize("rows", [0, 1, 5, 64, 200])
@pytest.mark.parametrize("split_flops", [0, 10**12])
def test_matmul_transposed_rhs_is_x_at_w_t_c_contiguous(rows, split_flops, monkeypatch):
    from fastgrad.ops import gemm

    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", split_flops)
    monkeypatch.setattr(gemm, "_TRANSPOSED_PRODUCT_MAX_ROWS", 128)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((rows, 30)).astype(np.float32)
    w = rng.standard_normal((7, 30)).astype(np.float32)
    got = gemm.matmul_transposed_rhs(x, w)
    assert got.flags.c_contiguous and got.shape == (rows, 7) and got.dtype == np.float32
    np.testing.assert_allclose(got, x @ w.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, inner, outputs", [(64, 30, 7), (1, 5, 300), (0, 30, 7),
                                                  (5, 0, 9), (3, 30, 2)])
@pytest.mark.parametrize("bias_kind", ["none", "contiguous", "strided", "other dtype"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_matmul_transposed_rhs_in_chunks_is_the_product_plus_bias(dtype, rows, inner, outputs,
                                                                    bias_kind, order,
                                                                    monkeypatch):
    # The LINEAR_FORWARD chunks move each thread's block of (w @ x.T) into place and add the
    # bias there: the same numbers as the product in one piece plus the bias, for any layout.
    from fastgrad.kernels import chunk_programs as programs
    from fastgrad.ops import gemm

    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", 0)
    programs_run = []
    original = gemm.run_compiled_chunks
    monkeypatch.setattr(gemm, "run_compiled_chunks",
                        lambda r: (programs_run.append(int(r[0, programs.PROGRAM])), original(r)))
    rng = np.random.default_rng(3)
    x = np.asarray(rng.standard_normal((rows, inner)), dtype, order=order)
    w = np.asarray(rng.standard_normal((outputs, inner)), dtype, order=order)
    bias = {"none": None, "contiguous": rng.standard_normal(outputs).astype(dtype),
            "strided": rng.standard_normal(2 * outputs).astype(dtype)[::2],
            "other dtype": rng.standard_normal(outputs).astype(np.float16)}[bias_kind]
    threads_before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        got = gemm.matmul_transposed_rhs(x, w, bias)
    finally:
        fastgrad.set_num_threads(threads_before)
    expected = (x.astype(np.float64) @ w.T.astype(np.float64)
                + (0 if bias is None else bias.astype(dtype)))
    assert got.flags.c_contiguous and got.shape == (rows, outputs) and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    fused = bias_kind in ("none", "contiguous") and rows * inner > 0  # else NumPy's path
    assert (programs.LINEAR_FORWARD in programs_run) == fused


def test_helpers_stop_spinning_when_there_is_no_work():
    # A helper waits for the next hand-off off the GIL for ~0.2 ms, then blocks: an idle
    # process must not keep burning a core.
    import time

    threads_before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        threads.run_chunks(lambda i, lo, hi: None, threads.batch_chunks(8))
        time.sleep(0.05)
        before = time.process_time()
        time.sleep(0.3)
        assert time.process_time() - before < 0.05
    finally:
        fastgrad.set_num_threads(threads_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_a_product_over_an_inner_dimension_of_one_is_matmul_exactly(dtype):
    from fastgrad.ops.gemm import matmul

    rng = np.random.default_rng(0)
    a = (rng.standard_normal((1, 256)) * 10).astype(dtype).T  # a (256, 1) view, as g2.T
    b = (rng.standard_normal((1, 784)) * 10).astype(dtype)
    got = matmul(a, b)
    np.testing.assert_array_equal(got, np.matmul(a, b))
    assert got.dtype == np.matmul(a, b).dtype and got.shape == (256, 784)
    out = np.empty((256, 784), dtype=dtype)
    assert matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, np.matmul(a, b))
