"""fastgrad.linalg, as torch.linalg."""
from fastgrad.ops.norms import vector_norm  # noqa: F401
