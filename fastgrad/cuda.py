"""``fastgrad.cuda``: what ported PyTorch code asks about CUDA, answered for a CPU-only build.

``is_available()`` is False and ``device_count()`` 0, so ``"cuda" if
fastgrad.cuda.is_available() else "cpu"`` picks the CPU. Seeding calls are accepted and do
nothing, as in PyTorch without a GPU; anything that needs a GPU raises ``not_compiled()``.
"""

__all__ = ["is_available", "device_count", "is_initialized", "current_device", "synchronize",
           "manual_seed", "manual_seed_all", "not_compiled"]


def not_compiled():
    """The error a CPU-only PyTorch raises for CUDA work (an AssertionError, as torch's)."""
    return AssertionError("fastgrad not compiled with CUDA enabled: it computes on the CPU only")


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Accepted and ignored: there is no GPU generator to seed (PyTorch defers it likewise)."""


def manual_seed_all(seed):
    """Accepted and ignored, as ``manual_seed``."""


def synchronize(device=None):
    raise not_compiled()


def current_device():
    raise not_compiled()
