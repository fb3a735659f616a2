"""PyTorch's names of dtypes ('Float', 'Long') and its refusal of an op for a dtype, so a
fastgrad error reads as PyTorch's: ``"bitwise_and" not implemented for 'Float'``."""
import numpy as np

_NAMES = {np.dtype(np.bool_): "Bool", np.dtype(np.uint8): "Byte", np.dtype(np.int8): "Char",
          np.dtype(np.int16): "Short", np.dtype(np.int32): "Int", np.dtype(np.int64): "Long",
          np.dtype(np.float16): "Half", np.dtype(np.float32): "Float",
          np.dtype(np.float64): "Double"}


def scalar_type_name(dtype):
    """PyTorch's name of ``dtype`` ('Float' for float32); NumPy's name for one PyTorch lacks."""
    dtype = np.dtype(dtype)
    return _NAMES.get(dtype, str(dtype))


def not_implemented(op_name, dtype):
    """The NotImplementedError PyTorch raises for an op without a kernel for ``dtype``."""
    return NotImplementedError(f'"{op_name}" not implemented for \'{scalar_type_name(dtype)}\'')
