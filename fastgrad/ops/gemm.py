"""Matrix products under fastgrad's thread policy (``kernels/threads.py``).

Every product runs with NumPy's BLAS at one thread; a large enough 2-D product has its rows
split across fastgrad's threads instead (``run_chunks``). Why not BLAS's own threads: on
this 2-core machine a 2-thread BLAS made Linear layers 6-40x slower whenever another thread
or process held a core (its barrier waits for a descheduled worker), and its spinning workers
starve fastgrad's chunk threads (docs/performance.md, "Threads").
"""
import numpy as np

from fastgrad.kernels import chunk_programs as programs
from fastgrad.kernels.threads import batch_chunks, blas_limit, run_chunks, run_compiled_chunks

# A product of fewer FLOPs (2*M*N*K) runs whole on the calling thread: handing half of it to
# another thread costs ~20-60 us (docs/performance.md, "Threads").
_MIN_SPLIT_FLOPS = 4_000_000


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)`` with NumPy's rules (1-D promotion, broadcast batch dims).

    A 2-D product of at least ``_MIN_SPLIT_FLOPS`` has its rows split across fastgrad's
    threads (with ``out`` None, or C-contiguous and apart from a and b), as compiled chunks
    calling BLAS directly when the dtypes (float32 / float64) and strides allow it; anything
    else runs at one BLAS thread on the calling thread. Returns the product (``out`` when
    given).
    """
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == 1 and b.shape[0] == 1:
        return outer_product(a, b, out)
    if (a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]
            and 2 * a.shape[0] * a.shape[1] * b.shape[1] >= _MIN_SPLIT_FLOPS
            and (out is None or _splittable_out(out, a, b))):
        chunks = batch_chunks(a.shape[0])
        if len(chunks) > 1:
            if out is None:
                out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
            if (programs.compiled_dtype(a, b, out) and programs.gemm_operand_ok(a)
                    and programs.gemm_operand_ok(b)):
                rows = programs.new_rows(len(chunks), programs.MATMUL, out.dtype)
                programs.encode_matmul(rows, a, b, out, chunks)
                run_compiled_chunks(rows)
            else:
                run_chunks(lambda i, lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]), chunks)
            return out
    with blas_limit(1):
        return np.matmul(a, b, out=out)


def _splittable_out(out, a, b):
    """Whether chunks may write rows of ``out`` while other chunks read ``a`` and ``b``: the
    product's shape, C-contiguous, and sharing no memory with them (NumPy buffers an ``out``
    that overlaps an operand; rows written early would be read again by another chunk)."""
    return (out.shape == (a.shape[0], b.shape[1]) and out.flags.c_contiguous
            and not np.may_share_memory(out, a) and not np.may_share_memory(out, b))


def outer_product(a, b, out=None):
    """a (M, 1) @ b (1, N) as the broadcast multiply it is: each entry is one product, so
    the values are the same. Why: a Linear layer's weight gradient at batch 1 is such a
    product, and NumPy's matmul ran it 4x slower (225 us against 53 for 256 x 784)."""
    return np.multiply(a, b, out=out)


# Up to this many rows, x @ w.T is computed as (w @ x.T).T: OpenBLAS writes the (O, N) product
# of a small batch 14-17% faster (one thread; 4% slower at 256 rows), and with the rows of w
# split across threads each thread reads only its half of w (docs/performance.md, "Linear
# layers").
_TRANSPOSED_PRODUCT_MAX_ROWS = 128


def matmul_transposed_rhs(x, w, bias=None):
    """``x @ w.T + bias`` for a 2-D ``x`` (N, I), ``w`` (O, I) and ``bias`` (O,) or None: a fresh
    C-contiguous (N, O) array (``bias`` cast to its dtype, as ``out += bias`` does).

    A small batch is computed as ``(w @ x.T).T``; split across threads, each thread moves its own
    block into place and adds the bias there, so no thread reads what the other wrote (~20 us
    of a 784x256 layer at batch 64: docs/performance.md, "Linear layers")."""
    if x.shape[0] > _TRANSPOSED_PRODUCT_MAX_ROWS:
        out = matmul(x, w.T)
    else:
        out = _transposed_product_by_chunks(x, w, bias)
        if out is not None:
            return out
        out = np.ascontiguousarray(matmul(w, x.T).T)
    if bias is not None:
        out += bias
    return out


def _transposed_product_by_chunks(x, w, bias):
    """``(w @ x.T).T + bias`` as LINEAR_FORWARD chunks over the rows of ``w``, or None when the
    product is too small to split or its arrays cannot be rows."""
    if 2 * w.shape[0] * w.shape[1] * x.shape[0] < _MIN_SPLIT_FLOPS:
        return None
    chunks = batch_chunks(w.shape[0])
    if (len(chunks) < 2 or not programs.compiled_dtype(x, w, *(() if bias is None else (bias,)))
            or not (programs.gemm_operand_ok(x.T) and programs.gemm_operand_ok(w))
            or not (bias is None or bias.ndim == 1 and bias.strides[0] == bias.itemsize)):
        return None
    out = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    product = np.empty((w.shape[0], x.shape[0]), dtype=x.dtype)  # chunk i writes its rows
    rows = programs.new_rows(len(chunks), programs.LINEAR_FORWARD, out.dtype)
    programs.encode_linear_forward(rows, x, w, bias, product, out, chunks)
    run_compiled_chunks(rows)
    return out
