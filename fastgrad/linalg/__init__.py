"""``torch.linalg``: the products fastgrad has (each defined in ``fastgrad/ops``)."""
from fastgrad.ops.arithmetic import matmul
from fastgrad.ops.linalg import linalg_cross as cross
from fastgrad.ops.linalg import vecdot

__all__ = ["cross", "matmul", "vecdot"]
