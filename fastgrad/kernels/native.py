"""What compiled code needs to run a chunk with no Python at all: atomic flags, arrays from
raw addresses, and BLAS's GEMM called through its C entry point.

Why: a helper thread that comes back to Python between two pieces of work waits for the GIL,
and a thread that waits for the GIL sleeps; on this VM it wakes ~20 us after the GIL is free
(docs/performance.md, "Chunks without the GIL"). ``chunk_programs.py`` builds on these.

All functions here are numba intrinsics (LLVM instructions emitted in place), usable only
inside ``numba.njit`` code, except ``blas_gemm_addresses`` (Python).
"""
import ctypes
import threading

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["atomic_load", "atomic_store", "compare_and_swap", "pointer_to", "blas_gemm",
           "call_row_entry", "call_int_getter", "call_int_setter", "blas_gemm_addresses",
           "ROW_MAJOR", "NO_TRANS", "TRANS"]

# CBLAS enum values (cblas.h)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def _element_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


@intrinsic
def atomic_load(typingctx, flags, index):
    """``flags[index]`` (an int64 array) read with acquire ordering."""
    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(flags, index), codegen


@intrinsic
def atomic_store(typingctx, flags, index, value):
    """``flags[index] = value`` (int64) with release ordering: every write before it is seen
    by a thread that reads ``value`` with ``atomic_load``."""
    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()
    return types.void(flags, index, value), codegen


@intrinsic
def compare_and_swap(typingctx, flags, index, expected, new):
    """Atomically: if ``flags[index] == expected``, set it to ``new`` and return True."""
    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        result = builder.cmpxchg(ptr, args[2], args[3], "acq_rel", "acquire")
        return builder.extract_value(result, 1)
    return types.boolean(flags, index, expected, new), codegen


@intrinsic
def pointer_to(typingctx, address, like):
    """The int64 ``address`` as a pointer to ``like``'s dtype (for ``numba.carray``)."""
    pointer_type = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer_type))
    return pointer_type(address, like), codegen


@intrinsic
def blas_gemm(typingctx, function, like, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c,
              ldc):
    """``C = op(A) @ op(B) + beta * C`` in row-major order through the CBLAS ``?gemm`` at the
    int64 address ``function`` (64-bit integer interface); ``like``'s dtype (float32 or
    float64) chooses the float type; ``a``, ``b``, ``c`` are int64 addresses."""
    double = like.dtype == types.float64

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        real = ir.DoubleType() if double else ir.FloatType()
        byte_pointer = ir.IntType(8).as_pointer()
        gemm_type = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real,
                                                    byte_pointer, i64, byte_pointer, i64, real,
                                                    byte_pointer, i64])
        (fn, _, ta, tb, m_, n_, k_, a_, lda_, b_, ldb_, beta_, c_, ldc_) = args
        call_args = [ir.Constant(i32, ROW_MAJOR), builder.trunc(ta, i32), builder.trunc(tb, i32),
                     m_, n_, k_, ir.Constant(real, 1.0),
                     builder.inttoptr(a_, byte_pointer), lda_,
                     builder.inttoptr(b_, byte_pointer), ldb_,
                     builder.fptrunc(beta_, real) if not double else beta_,
                     builder.inttoptr(c_, byte_pointer), ldc_]
        builder.call(builder.inttoptr(fn, gemm_type.as_pointer()), call_args)
        return context.get_dummy_value()

    signature = types.void(function, like, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c,
                           ldc)
    return signature, codegen


@intrinsic
def call_row_entry(typingctx, function, row):
    """Call the C function ``void f(int64 *row)`` at the int64 address ``function`` with a
    pointer to the int64 array ``row``'s data."""
    def codegen(context, builder, signature, args):
        row_pointer = context.make_array(signature.args[1])(context, builder, args[1]).data
        entry_type = ir.FunctionType(ir.VoidType(), [row_pointer.type])
        builder.call(builder.inttoptr(args[0], entry_type.as_pointer()), [row_pointer])
        return context.get_dummy_value()
    return types.void(function, row), codegen


@intrinsic
def call_int_getter(typingctx, function):
    """Call the C function ``int f(void)`` at the int64 address ``function`` (such as
    ``openblas_get_num_threads``); returns its value as an int64."""
    def codegen(context, builder, signature, args):
        getter_type = ir.FunctionType(ir.IntType(32), [])
        value = builder.call(builder.inttoptr(args[0], getter_type.as_pointer()), [])
        return builder.sext(value, ir.IntType(64))
    return types.int64(function), codegen


@intrinsic
def call_int_setter(typingctx, function, value):
    """Call the C function ``void f(int)`` at the int64 address ``function`` (such as
    ``openblas_set_num_threads``) with the int64 ``value`` (truncated to a C int)."""
    def codegen(context, builder, signature, args):
        setter_type = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
        builder.call(builder.inttoptr(args[0], setter_type.as_pointer()),
                     [builder.trunc(args[1], ir.IntType(32))])
        return context.get_dummy_value()
    return types.void(function, value), codegen


if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the flags in Python (no compiled chunks)
    _flag_lock = threading.Lock()

    def atomic_load(flags, index):
        return int(flags[index])

    def atomic_store(flags, index, value):
        flags[index] = value

    def compare_and_swap(flags, index, expected, new):
        with _flag_lock:
            if flags[index] != expected:
                return False
            flags[index] = new
            return True


_GEMM_SYMBOLS = {  # (float32, float64) CBLAS entry points with 64-bit integers
    "scipy_openblas64_": ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"),
    "openblas64_": ("cblas_sgemm64_", "cblas_dgemm64_"),
}
_addresses = None


def blas_gemm_addresses():
    """(sgemm, dgemm) addresses of the CBLAS GEMMs in the BLAS that NumPy itself calls, or None
    when it has no 64-bit-integer CBLAS entry point fastgrad knows (then chunks run in Python)."""
    global _addresses
    if numba.config.DISABLE_JIT:
        return None
    if _addresses is None:
        from fastgrad.kernels.threads import numpy_blas_paths

        found = ()
        for path in numpy_blas_paths():
            library = ctypes.CDLL(path)
            for names in _GEMM_SYMBOLS.values():
                try:
                    found = tuple(ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                                  for name in names)
                    break
                except AttributeError:
                    continue
            if found:
                break
        _addresses = found
    return _addresses or None
