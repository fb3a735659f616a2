"""``fastgrad.utils``: PyTorch's ``torch.utils`` paths (``hooks``: the handle a hook
registration returns)."""
from fastgrad.utils import hooks  # noqa: F401
