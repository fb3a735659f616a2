"""``inference_mode``: PyTorch's faster ``no_grad`` for code that will never call backward.

fastgrad has no extra bookkeeping to skip beyond the graph, so inference mode is ``no_grad``
with PyTorch's interface: ``inference_mode(mode=True)`` as a context manager or a decorator
(with or without parentheses); ``mode=False`` changes nothing.
"""
import functools
import threading

from fastgrad.autograd.grad_mode import _set_enabled, is_grad_enabled

_state = threading.local()


def is_inference_mode_enabled():
    """True inside an ``inference_mode()`` block (of this thread)."""
    return getattr(_state, "enabled", False)


class inference_mode:
    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # used as a bare decorator
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode expects a bool mode, got {type(mode).__name__}")
        self.mode = mode

    def __enter__(self):
        self._previous = is_grad_enabled(), is_inference_mode_enabled()
        _state.enabled = self.mode
        if self.mode:
            _set_enabled(False)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous[0])
        _state.enabled = self._previous[1]
        return False

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper
