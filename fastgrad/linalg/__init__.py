"""``torch.linalg``: the products and norms fastgrad has (each defined in ``fastgrad/ops``)."""
from fastgrad.ops.arithmetic import matmul
from fastgrad.ops.linalg import linalg_cross as cross
from fastgrad.ops.linalg import vecdot
from fastgrad.ops.norms import vector_norm
from fastgrad.ops.shape_extra import linalg_diagonal as diagonal

__all__ = ["cross", "diagonal", "matmul", "vecdot", "vector_norm"]
