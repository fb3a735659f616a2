"""A chunk of work written down as a row of int64s, so that a helper thread can run it in
compiled code without taking the GIL (``threads.run_compiled_chunks``).

A row is ``[state, program, entry, gemm, args...]``: the hand-off state (``handoff.py``), which
program, the address of its compiled entry for the row's dtypes (``entry_address``), the
address of BLAS's ``?gemm`` for that dtype, then
the program's arguments: array addresses and sizes, in the order its ``encode_*`` function
writes them and its ``_run_*`` function reads them. The programs are the hot chunks of a
training step: a split GEMM, a Linear layer's forward, conv2d's forward and backward chunks,
the max-pool kernels and the SGD update of a large parameter.
Each calls the same numba kernels as the Python chunk it replaces, with the same
preconditions; Python has validated the arguments before a row is written.
"""
import functools

import numba
import numpy as np

from .im2col import col2im, im2col, nchw_to_cnhw
from .native import NO_TRANS, TRANS, blas_gemm, blas_gemm_addresses, call_row_entry, pointer_to
from .optim import sgd_momentum_update
from .pooling import maxpool2d_backward, maxpool2d_forward, maxpool2d_forward_2x2s2

ROW = 40
STATE, PROGRAM, ENTRY, GEMM, ARGS = 0, 1, 2, 3, 4
# Programs. PYTHON: the row only says that a Python callable waits for the helper.
(PYTHON, MATMUL, CONV_FORWARD, CONV_BACKWARD, MAXPOOL_2X2, MAXPOOL, MAXPOOL_BACKWARD,
 SGD_MOMENTUM, LINEAR_FORWARD) = range(9)


def compiled_dtype(*arrays):
    """True when every array is float32, or every one float64, and BLAS's C GEMMs were found:
    the chunks of these arrays can be rows."""
    dtype = arrays[0].dtype
    return (dtype in (np.float32, np.float64) and all(a.dtype == dtype for a in arrays)
            and blas_gemm_addresses() is not None)


def new_rows(parts, program, dtype, index_dtype=None):
    """``parts`` rows of ``program`` on ``dtype`` data (``index_dtype``: the max-pool indices'),
    their arguments still to be written by the program's ``encode_*``."""
    return _row_template(parts, program, np.dtype(dtype),
                         None if index_dtype is None else np.dtype(index_dtype)).copy()


@functools.cache
def _row_template(parts, program, dtype, index_dtype):
    """new_rows' rows before any argument, made once (a copy costs 0.3 us, building 1.7)."""
    rows = np.zeros((parts, ROW), np.int64)
    rows[:, PROGRAM] = program
    rows[:, ENTRY] = entry_address(program, dtype, index_dtype)
    rows[:, GEMM] = blas_gemm_addresses()[1 if dtype == np.float64 else 0]
    rows.flags.writeable = False
    return rows


@numba.njit(cache=True, nogil=True)
def address(a):
    """The address of ``a``'s first element. Compiled: NumPy's ``a.ctypes.data`` makes a ctypes
    object on each call (~1 us), and a CNN step writes ~55 addresses."""
    return np.int64(a.ctypes.data)


@numba.njit(cache=True, nogil=True, inline="always")
def _array(address, shape, like):
    return numba.carray(pointer_to(address, like), shape)


# The encoders are compiled: written in Python, a hand-off's rows cost 4-5 us to fill (12 us
# inside a training step, its caches cold), compiled ~1 us (docs/performance.md, "Hand-offs
# in two calls"). Each takes ``chunks`` as a tuple of (lo, hi) pairs; the public ``encode_*``
# wrappers below take any sequence of them.
@numba.njit(cache=True, nogil=True, inline="always")
def _put(row, start, values):
    """row[start:start + len(values)] = values (a tuple of int64s)."""
    for j in range(len(values)):
        row[start + j] = values[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _batched(a, lo):
    """The address of row ``lo`` of ``a``'s first axis."""
    return address(a) + lo * a.strides[0]


@numba.njit(cache=True, nogil=True, inline="always")
def _each_address(arrays, i):
    """The address of ``arrays[i]``, or 0 when ``arrays`` is None (an absent argument)."""
    if arrays is None:
        return 0
    return address(arrays[i])


# ---------------------------------------------------------------------------- MATMUL
@numba.njit(cache=True, nogil=True, inline="always")
def _operand(a):
    """(CBLAS transpose flag, leading dimension) of a 2-D array with one unit stride."""
    if a.strides[1] == a.itemsize or a.shape[1] == 1:
        return NO_TRANS, max(a.strides[0] // a.itemsize, a.shape[1], 1)
    return TRANS, max(a.strides[1] // a.itemsize, a.shape[0], 1)


def gemm_operand_ok(a):
    """Whether BLAS can read the 2-D ``a`` in place: one of its strides is one element."""
    s0, s1 = a.strides
    return s0 > 0 and s1 > 0 and (s1 == a.itemsize or s0 == a.itemsize or a.shape[1] == 1)


def encode_matmul(rows, a, b, out, chunks):
    """out[lo:hi] (m, n) = a[lo:hi] (m, k) @ b (k, n) for each chunk ``(lo, hi)`` of the rows
    of ``a``; ``out`` C-contiguous, a and b ``gemm_operand_ok``."""
    _encode_matmul(rows, a, b, out, tuple(chunks))


@numba.njit(cache=True, nogil=True)
def _encode_matmul(rows, a, b, out, chunks):
    trans_a, lda = _operand(a)
    trans_b, ldb = _operand(b)
    for i in range(rows.shape[0]):
        lo, hi = chunks[i]
        row = rows[i]
        _put(row, ARGS, (hi - lo, b.shape[1], a.shape[1], trans_a, trans_b, _batched(a, lo),
                         lda, address(b), ldb, _batched(out, lo), max(out.shape[1], 1)))


@numba.njit(cache=True, nogil=True)
def _run_matmul(row, like):
    a = ARGS
    m, n, k = row[a], row[a + 1], row[a + 2]
    if m == 0 or n == 0:
        return
    if k == 0:  # an empty inner dimension: BLAS would leave out as it was
        _array(row[a + 9], (m * n,), like)[:] = 0
        return
    blas_gemm(row[GEMM], like, row[a + 3], row[a + 4], m, n, k, row[a + 5], row[a + 6],
              row[a + 7], row[a + 8], 0.0, row[a + 9], row[a + 10])


# ---------------------------------------------------------------------------- LINEAR_FORWARD
def encode_linear_forward(rows, x, weight, bias, product, out, chunks):
    """out[:, lo:hi] (N, m) = product[lo:hi] + bias[lo:hi] for each chunk ``(lo, hi)`` of
    weight's rows, where product (O, N) = weight @ x.T is the chunk's MATMUL (its arguments
    first, in MATMUL's layout: the layout OpenBLAS writes fastest for a small batch), then
    moved into out's columns by the thread that wrote it. product and out (N, O) C-contiguous;
    bias (O,) contiguous or None; x.T and weight ``gemm_operand_ok``."""
    _encode_linear_forward(rows, x, weight, bias, product, out, tuple(chunks))


@numba.njit(cache=True, nogil=True)
def _encode_linear_forward(rows, x, weight, bias, product, out, chunks):
    _encode_matmul(rows, weight, x.T, product, chunks)
    for i in range(rows.shape[0]):
        lo = chunks[i][0]
        rows[i, ARGS + 11] = address(out) + lo * out.itemsize
        rows[i, ARGS + 12] = out.shape[1]
        rows[i, ARGS + 13] = 0 if bias is None else address(bias) + lo * bias.itemsize


@numba.njit(cache=True, nogil=True)
def _run_linear_forward(row, like):
    _run_matmul(row, like)
    a = ARGS
    m, n = row[a], row[a + 1]
    if m == 0 or n == 0:
        return
    product = _array(row[a + 9], (m, n), like)
    stride = row[a + 12]
    out = _array(row[a + 11], ((n - 1) * stride + m,), like)
    if row[a + 13] == 0:
        for r in range(n):
            for j in range(m):
                out[r * stride + j] = product[j, r]
    else:
        bias = _array(row[a + 13], (m,), like)
        for r in range(n):
            for j in range(m):
                out[r * stride + j] = product[j, r] + bias[j]


# ---------------------------------------------------------------------------- conv2d
@numba.njit(cache=True, nogil=True, inline="always")
def _write_geometry(row, g, rows_of_columns):
    """A conv row's arguments 1..15 (``_conv_geometry`` reads them): ``g`` a ConvGeometry."""
    _put(row, ARGS + 1, (g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
                         g.out_h, g.out_w, g.out_channels, rows_of_columns))


def encode_conv_forward(rows, x, weight_matrix, geometry, cols, out, chunks):
    """ops/conv.py's ``_forward_chunk`` for each chunk ``(lo, hi)`` of the batch: x, out and
    weight_matrix C-contiguous, ``cols[i]`` the column buffer of chunk i."""
    _encode_conv_forward(rows, x, weight_matrix, geometry, tuple(cols), out, tuple(chunks))


@numba.njit(cache=True, nogil=True)
def _encode_conv_forward(rows, x, weight_matrix, geometry, cols, out, chunks):
    for i in range(rows.shape[0]):
        lo, hi = chunks[i]
        row = rows[i]
        row[ARGS] = hi - lo
        _write_geometry(row, geometry, weight_matrix.shape[1])
        _put(row, ARGS + 16, (_batched(x, lo), address(weight_matrix), address(cols[i]),
                              _batched(out, lo)))


@numba.njit(cache=True, nogil=True, inline="always")
def _conv_geometry(row):
    """(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, O, K') as the conv encoders
    write them."""
    a = ARGS
    return (row[a], row[a + 1], row[a + 2], row[a + 3], row[a + 4], row[a + 5], row[a + 6],
            row[a + 7], row[a + 8], row[a + 9], row[a + 10], row[a + 11], row[a + 12],
            row[a + 13], row[a + 14], row[a + 15])


@numba.njit(cache=True, nogil=True)
def _run_conv_forward(row, like):
    a = ARGS
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, o, rows = _conv_geometry(row)
    positions = out_h * out_w
    k = c * kh * kw
    x = _array(row[a + 16], (n, c, h, w), like)
    cols = _array(row[a + 18], (rows, n * positions), like)
    im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, cols)
    if rows > k:
        cols[k] = 1
    size = like.itemsize
    for i in range(n):  # out[i] (O, P) = [W | b] (O, K') @ cols[:, i*P:(i+1)*P]
        blas_gemm(row[GEMM], like, NO_TRANS, NO_TRANS, o, positions, rows, row[a + 17], rows,
                  row[a + 18] + i * positions * size, n * positions, 0.0,
                  row[a + 19] + i * o * positions * size, positions)


def encode_conv_backward(rows, grad, weight, geometry, cols, grad_rows, d_wb, d_cols, d_x,
                         chunks):
    """ops/conv.py's backward chunk for each chunk ``(lo, hi)`` of the batch: grad (N, O, P)
    and weight (O, K) C-contiguous; per chunk i: cols[i] (K', n*P), grad_rows[i] (O, n*P) or
    None (per-image dW), d_wb[i] (K', O) or None (no dW / db), d_cols[i] (K, n*P) with rows of
    n*P or None (no dx); d_x (N, C, H, W) C-contiguous, or None. Each list holds arrays for
    every chunk or None for every chunk."""
    _encode_conv_backward(rows, grad, weight, geometry, tuple(cols), _present(grad_rows),
                          _present(d_wb), _present(d_cols), d_x, tuple(chunks))


def _present(arrays):
    """A per-chunk list as the compiled encoders take it: a tuple, or None when it holds
    None for every chunk."""
    return None if arrays[0] is None else tuple(arrays)


@numba.njit(cache=True, nogil=True)
def _encode_conv_backward(rows, grad, weight, geometry, cols, grad_rows, d_wb, d_cols, d_x,
                          chunks):
    for i in range(rows.shape[0]):
        lo, hi = chunks[i]
        row = rows[i]
        row[ARGS] = hi - lo
        _write_geometry(row, geometry, cols[0].shape[0])
        _put(row, ARGS + 16, (_batched(grad, lo), address(weight), address(cols[i]),
                              _each_address(grad_rows, i), _each_address(d_wb, i),
                              _each_address(d_cols, i), 0 if d_x is None else _batched(d_x, lo)))


@numba.njit(cache=True, nogil=True)
def _run_conv_backward(row, like):
    a = ARGS
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, o, rows = _conv_geometry(row)
    grad, weight, cols, grad_rows, d_wb, d_cols, d_x = row[a + 16], row[a + 17], row[a + 18], \
        row[a + 19], row[a + 20], row[a + 21], row[a + 22]
    gemm = row[GEMM]
    positions = out_h * out_w
    k = c * kh * kw
    size = like.itemsize
    long_rows = n * positions
    if grad_rows != 0:  # grad_output as (O, n*P): one long GEMM each
        nchw_to_cnhw(_array(grad, (n, o, positions), like),
                     _array(grad_rows, (o, long_rows), like))
        if d_wb != 0:  # [dW | db] (K', O) = cols @ G.T
            blas_gemm(gemm, like, NO_TRANS, TRANS, rows, o, long_rows, cols, long_rows,
                      grad_rows, long_rows, 0.0, d_wb, o)
        if d_x != 0:  # dcols (K, n*P) = W.T @ G
            blas_gemm(gemm, like, TRANS, NO_TRANS, k, long_rows, o, weight, k, grad_rows,
                      long_rows, 0.0, d_cols, long_rows)
    else:  # per image, grad_output read in NCHW as it is
        for i in range(n):
            g_i = grad + i * o * positions * size
            if d_wb != 0:  # [dW | db] += cols_i (K', P) @ g_i.T (P, O)
                blas_gemm(gemm, like, NO_TRANS, TRANS, rows, o, positions,
                          cols + i * positions * size, long_rows, g_i, positions,
                          0.0 if i == 0 else 1.0, d_wb, o)
            if d_x != 0:  # dcols_i (K, P) = W.T (K, O) @ g_i (O, P)
                blas_gemm(gemm, like, TRANS, NO_TRANS, k, positions, o, weight, k, g_i,
                          positions, 0.0, d_cols + i * positions * size, long_rows)
        if d_wb != 0 and n == 0:
            _array(d_wb, (rows * o,), like)[:] = 0
    if d_x != 0:
        col2im(_array(d_cols, (k, long_rows), like), n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw,
               out_h, out_w, _array(d_x, (n, c, h, w), like))


# ---------------------------------------------------------------------------- max-pool
def encode_maxpool(rows, x, out, argmax, chunks, geometry=None):
    """The max-pool kernels on each chunk ``(lo, hi)`` of (N, C, H, W) planes, all
    C-contiguous; ``geometry`` None for the 2x2 / stride-2 kernel."""
    g = geometry
    window = (0,) * 8 if g is None else (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw)
    _encode_maxpool(rows, x, out, argmax, tuple(chunks), window)


@numba.njit(cache=True, nogil=True)
def _encode_maxpool(rows, x, out, argmax, chunks, window):
    for i in range(rows.shape[0]):
        lo, hi = chunks[i]
        row = rows[i]
        _put(row, ARGS, (hi - lo, x.shape[1], x.shape[2], x.shape[3], out.shape[2],
                         out.shape[3]))
        _put(row, ARGS + 6, window)
        _put(row, ARGS + 14, (_batched(x, lo), _batched(out, lo), _batched(argmax, lo)))


def encode_maxpool_backward(rows, grad_out, argmax, d_x, chunks):
    """maxpool2d_backward on each chunk ``(lo, hi)`` of (N, C, ...) planes, C-contiguous: in
    ``encode_maxpool``'s layout, d_x where x goes and grad_out where out goes."""
    encode_maxpool(rows, d_x, grad_out, argmax, chunks)


@numba.njit(cache=True, nogil=True, inline="always")
def _pool_arrays(row, like, index_like):
    """(x, out, argmax) as ``encode_maxpool`` writes them ((d_x, grad_out, argmax) for the
    backward)."""
    a = ARGS
    n, c, h, w, out_h, out_w = row[a], row[a + 1], row[a + 2], row[a + 3], row[a + 4], row[a + 5]
    return (_array(row[a + 14], (n, c, h, w), like),
            _array(row[a + 15], (n, c, out_h, out_w), like),
            _array(row[a + 16], (n, c, out_h, out_w), index_like))


@numba.njit(cache=True, nogil=True)
def _run_maxpool_2x2(row, like, index_like):
    x, out, argmax = _pool_arrays(row, like, index_like)
    maxpool2d_forward_2x2s2(x, out.shape[2], out.shape[3], out, argmax)


@numba.njit(cache=True, nogil=True)
def _run_maxpool(row, like, index_like):
    a = ARGS
    x, out, argmax = _pool_arrays(row, like, index_like)
    maxpool2d_forward(x, row[a + 6], row[a + 7], row[a + 8], row[a + 9], row[a + 10],
                      row[a + 11], row[a + 12], row[a + 13], out.shape[2], out.shape[3], out,
                      argmax)


@numba.njit(cache=True, nogil=True)
def _run_maxpool_backward(row, like, index_like):
    d_x, grad_out, argmax = _pool_arrays(row, like, index_like)
    maxpool2d_backward(grad_out, argmax, d_x)


# ---------------------------------------------------------------------------- SGD
def encode_sgd_momentum(rows, param, grad, buf, hyper, chunks):
    """``kernels/optim.py: sgd_momentum_update`` on each chunk ``(lo, hi)`` of the flattened
    arrays (C-contiguous, one shape and dtype); hyper: (lr, momentum) in that dtype."""
    _encode_sgd_momentum(rows, param, grad, buf, hyper, tuple(chunks))


@numba.njit(cache=True, nogil=True)
def _encode_sgd_momentum(rows, param, grad, buf, hyper, chunks):
    size = param.itemsize
    for i in range(rows.shape[0]):
        lo, hi = chunks[i]
        _put(rows[i], ARGS, (hi - lo, address(param) + lo * size, address(grad) + lo * size,
                             address(buf) + lo * size, address(hyper)))


@numba.njit(cache=True, nogil=True)
def _run_sgd_momentum(row, like):
    a = ARGS
    count = row[a]
    hyper = _array(row[a + 4], (2,), like)
    sgd_momentum_update(_array(row[a + 1], (count,), like), _array(row[a + 2], (count,), like),
                        _array(row[a + 3], (count,), like), hyper[0], hyper[1])


# ---------------------------------------------------------------------------- dispatch
_ENTRY_SIGNATURE = numba.types.void(numba.types.CPointer(numba.types.int64))


@functools.cache
def entry_address(program, dtype, index_dtype=None):
    """Address of a compiled ``void(int64 *row)`` that runs ``program`` on ``dtype`` data (and
    ``index_dtype`` max-pool indices), made on first use.

    Why one C function per (program, dtypes), called through its address (``run_row``): a
    compiled function that calls another links the callee's code into its own and optimises it
    all again, so one dispatcher over every program and dtype cost 22 s of cold compile for a
    step that uses six of them (docs/performance.md, "Cold compile")."""
    like = np.zeros(0, dtype)
    index_like = np.zeros(0, np.int64 if index_dtype is None else index_dtype)

    # ``program`` is a constant of the closure: numba drops every branch but the one taken
    # before it compiles anything, and the cache key includes the closure's values.
    def entry(row_pointer):
        row = numba.carray(row_pointer, (ROW,))
        if program == MATMUL:
            _run_matmul(row, like)
        elif program == LINEAR_FORWARD:
            _run_linear_forward(row, like)
        elif program == CONV_FORWARD:
            _run_conv_forward(row, like)
        elif program == CONV_BACKWARD:
            _run_conv_backward(row, like)
        elif program == SGD_MOMENTUM:
            _run_sgd_momentum(row, like)
        elif program == MAXPOOL_2X2:
            _run_maxpool_2x2(row, like, index_like)
        elif program == MAXPOOL:
            _run_maxpool(row, like, index_like)
        else:
            _run_maxpool_backward(row, like, index_like)

    return numba.cfunc(_ENTRY_SIGNATURE, cache=True, nogil=True)(entry).address


@numba.njit(cache=True, nogil=True)
def run_row(row):
    """Run the compiled program a row describes (not PYTHON)."""
    call_row_entry(row[ENTRY], row)
