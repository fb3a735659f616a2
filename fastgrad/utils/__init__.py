"""``fastgrad.utils``: PyTorch's ``torch.utils`` paths: ``data`` (data sets, samplers,
``DataLoader``) and ``hooks`` (the handle a hook registration returns)."""
from fastgrad.utils import data, hooks  # noqa: F401
