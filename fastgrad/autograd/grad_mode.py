"""Gradient mode: whether operations record a graph (PyTorch's ``no_grad`` / ``enable_grad``).

This is the only global state of the autograd core, as in PyTorch.
"""
import functools
import threading

_state = threading.local()


def is_grad_enabled():
    """True when new operations record the graph needed for ``backward()``."""
    return getattr(_state, "enabled", True)


def _set_enabled(mode):
    _state.enabled = bool(mode)


class _GradModeContext:
    """Context manager and decorator that sets the grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class _NoArgGradModeContext(_GradModeContext):
    """Also usable as a bare decorator (``@no_grad`` without parentheses), as in PyTorch 2."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)


class no_grad(_NoArgGradModeContext):
    """Disable graph recording: ``with fastgrad.no_grad(): ...`` or ``@fastgrad.no_grad()``."""

    mode = False


class enable_grad(_NoArgGradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``; works as a call, a context manager or a decorator."""

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self._previous = is_grad_enabled()
        _set_enabled(self.mode)

    def __enter__(self):
        return self

    def __call__(self, func):
        mode = self.mode
        _set_enabled(self._previous)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper
