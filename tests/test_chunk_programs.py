"""The compiled chunk programs (kernels/chunk_programs.py) against the Python chunks they
replace: the same conv2d, max-pool and split-GEMM results, whichever path and thread count runs
them (the Python chunks are what runs when NumPy's BLAS has no C GEMM fastgrad can call)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.kernels import chunk_programs as programs
from fastgrad.ops import conv as conv_op
from fastgrad.ops import gemm
from fastgrad.ops.naive import conv2d_naive


@pytest.fixture(params=["compiled", "python"])
def chunk_path(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(programs, "compiled_dtype", lambda *arrays: False)
    elif programs.blas_gemm_addresses() is None:
        pytest.fail("NumPy's BLAS has no C GEMM entry point fastgrad knows")
    return request.param


@pytest.fixture(params=[1, 2, 3])
def num_threads(request):
    before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(request.param)
    yield request.param
    fastgrad.set_num_threads(before)


def _conv_case(dtype, n, c, o, size, kernel, stride, padding, dilation, bias, need_x, long_dw,
               monkeypatch, seed):
    monkeypatch.setattr(conv_op, "_PER_IMAGE_DW_MAX_ENTRIES", 0 if long_dw else 10**9)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype)
              for s in ((n, c, size, size + 1), (o, c, kernel, kernel), (o,))]
    results = []
    for conv in (conv_op.conv2d, conv2d_naive):
        x = fastgrad.tensor(arrays[0], dtype=dtype, requires_grad=need_x)
        w, b = (fastgrad.tensor(a, dtype=dtype, requires_grad=True) for a in arrays[1:])
        y = conv(x, w, b if bias else None, stride=stride, padding=padding, dilation=dilation)
        cot = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
        (y * fastgrad.tensor(cot, dtype=dtype)).sum().backward()
        results.append([y.arr, w.grad.arr] + ([x.grad.arr] if need_x else [])
                       + ([b.grad.arr] if bias else []))
    tol = 3e-4 if dtype == np.float32 else 1e-10
    for got, want in zip(*results):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("long_dw", [False, True])
@pytest.mark.parametrize("need_x", [False, True])
def test_conv2d_chunks_match_the_naive_conv(dtype, long_dw, need_x, chunk_path, num_threads,
                                            monkeypatch):
    _conv_case(dtype, 5, 3, 4, 8, 3, (1, 2), 1, (1, 2), True, need_x, long_dw, monkeypatch, 0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 4), c=st.integers(1, 3), o=st.integers(1, 4), size=st.integers(3, 7),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       bias=st.booleans(), need_x=st.booleans(), long_dw=st.booleans())
def test_compiled_conv2d_chunks_on_random_geometries(n, c, o, size, kernel, stride, padding,
                                                     bias, need_x, long_dw):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _conv_case(np.float32, n, c, o, size, kernel, stride, padding, 1, bias, need_x, long_dw,
                   monkeypatch, n * 7 + size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", [(2, 2, 0), (3, 2, 1)])
@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool_chunks_match_one_thread_python(dtype, window, return_indices, chunk_path,
                                                 num_threads, monkeypatch):
    from fastgrad.nn import functional as F
    from fastgrad.ops import pooling

    monkeypatch.setattr(pooling, "_SERIAL_MAX_ELEMENTS", 0)  # split even a small input
    kernel, stride, padding = window
    x_arr = np.random.default_rng(2).standard_normal((6, 3, 9, 10)).astype(dtype)
    x_arr[0, 0, :4, :4] = 1.0  # ties: the first maximum wins
    got = []
    for threads in (num_threads, 1):
        fastgrad.set_num_threads(threads)
        x = fastgrad.tensor(x_arr, dtype=dtype, requires_grad=True)
        result = F.max_pool2d(x, kernel, stride, padding, return_indices=return_indices)
        y = result[0] if return_indices else result
        cot = np.random.default_rng(3).standard_normal(y.shape).astype(dtype)
        (y * fastgrad.tensor(cot, dtype=dtype)).sum().backward()
        got.append([y.arr, x.grad.arr] + ([result[1].arr] if return_indices else []))
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["c", "a transposed", "b transposed", "both transposed"])
@pytest.mark.parametrize("m, k, n", [(7, 5, 3), (64, 1, 9), (9, 0, 4), (2, 3, 5)])
def test_split_gemm_chunks_are_numpys_matmul(dtype, layout, m, k, n, chunk_path, num_threads,
                                             monkeypatch):
    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", 0)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if "a" in layout or "both" in layout:
        a = np.asfortranarray(a)
    if "b" in layout or "both" in layout:
        b = np.asfortranarray(b)
    out = np.full((m, n), np.nan, dtype)
    assert gemm.matmul(a, b, out=out) is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol)
    # strided rows (every other row of a larger array) are read in place as well
    wide = np.zeros((2 * m, k), dtype)
    wide[::2] = a
    np.testing.assert_allclose(gemm.matmul(wide[::2], b), a @ b, rtol=tol, atol=tol)


def test_split_gemm_refuses_what_numpy_refuses(monkeypatch):
    monkeypatch.setattr(gemm, "_MIN_SPLIT_FLOPS", 0)
    a = np.ones((64, 10), np.float32)
    with pytest.raises(ValueError):
        gemm.matmul(a, np.ones((64, 30), np.float32))
    out = np.ones((64, 10), np.float32)
    with pytest.raises(ValueError):
        gemm.matmul(a, np.ones((10, 30), np.float32), out=out)  # out of the wrong shape
    # out overlapping an operand: NumPy's result (it buffers), not a half-overwritten one
    square = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    expected = square @ square
    np.testing.assert_allclose(gemm.matmul(square, square, out=square), expected, rtol=1e-5,
                               atol=1e-4)


def test_a_compiled_chunk_runs_on_a_helper_thread():
    """With two threads, the second row of a split GEMM is run by the helper (its state goes
    through RUNNING there), not by the caller: the hand-off works without the GIL."""
    import time

    from fastgrad.kernels import threads

    before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        a = np.ones((400, 300), np.float32)
        b = np.ones((300, 200), np.float32)
        ran_by_caller = []  # the masks of helper rows the caller ran itself
        original = threads.handoff.run_and_collect

        def run_and_collect(*args):
            failed, ran_here = original(*args)
            ran_by_caller.append(ran_here)
            return failed, ran_here

        try:
            threads.handoff.run_and_collect = run_and_collect
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (ran_by_caller and ran_by_caller[-1] == 0):
                out = np.empty((400, 200), np.float32)
                rows = programs.new_rows(2, programs.MATMUL, np.float32)
                programs.encode_matmul(rows, a, b, out, [(0, 200), (200, 400)])
                threads.run_compiled_chunks(rows)
                np.testing.assert_array_equal(out, 300.0)
        finally:
            threads.handoff.run_and_collect = original
        assert ran_by_caller[-1] == 0  # a call where the helper ran its row
    finally:
        fastgrad.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_sgd_update_is_the_numpy_update_bit_for_bit(dtype, chunk_path, num_threads):
    from fastgrad import optim

    rng = np.random.default_rng(6)
    shape = (300, 257)  # above _SPLIT_MIN_ELEMENTS, an odd split
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(3)]
    param = fastgrad.nn.Parameter(fastgrad.tensor(p0, dtype=dtype))
    opt = optim.SGD([param], lr=0.05, momentum=0.9)
    p, buf = p0.copy(), None
    lr, momentum = dtype(0.05), dtype(0.9)
    for g in grads:
        param.grad = fastgrad.tensor(g.copy(), dtype=dtype)
        opt.step()
        buf = g.copy() if buf is None else momentum * buf + g
        p = p - lr * buf
    np.testing.assert_array_equal(param.arr, p)
    np.testing.assert_array_equal(opt.state[param]["momentum_buffer"], buf)
