"""``fastgrad.device``: PyTorch's device object, for code that names where tensors live.

(This module is ``devices``, as the dtypes live in ``dtypes``, so that ``fastgrad.device`` is
the class, as ``torch.device``, and no submodule hides behind it.)

fastgrad computes on the CPU only. A ``device`` is its own string form (``"cpu"``,
``"cpu:0"``): it subclasses ``str`` so that everything that accepts a device string accepts
a device, and ``tensor.device == "cpu"`` holds (PyTorch answers False there, since its
device objects never equal strings). Other device types (``"cuda"``, ``"mps"`` ...) can be
named, as in PyTorch, but not used: see ``check_cpu``.
"""

__all__ = ["device", "check_cpu"]

# PyTorch's device types (torch.device refuses other names).
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device(str):
    """``device("cpu")``, ``device("cpu", 0)``, ``device("cpu:0")`` or ``device(other_device)``.

    ``type`` is the device type (a str), ``index`` the device number or None. Bad input raises
    RuntimeError with PyTorch's wording.
    """

    def __new__(cls, type, index=None):  # noqa: A002 - PyTorch's parameter name
        if isinstance(type, device) and index is None:
            return type
        if not isinstance(type, str):
            raise TypeError(f"device() expected a str type, got {type.__class__.__name__}")
        kind, sep, number = type.partition(":")
        if sep:
            if index is not None:
                raise RuntimeError(
                    "type (string) must not include an index because index was passed "
                    f"explicitly: {type}")
            if not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(number)
        if kind not in _TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_TYPES)} device type at start of device string: {type}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"device index must be an int, got {index.__class__.__name__}")
            if index < 0:
                raise RuntimeError(f"Device index must not be negative, got {index}")
        self = super().__new__(cls, kind if index is None else f"{kind}:{index}")
        self._type, self._index = kind, index
        return self

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self):
        return (device, (self._type, self._index))


def check_cpu(where):
    """``where`` as a ``device`` if it names the CPU (None counts as the CPU); otherwise the
    error a CPU-only PyTorch build gives for CUDA, AssertionError, and RuntimeError for the
    rest."""
    if where is None:
        return device("cpu")
    where = device(where)
    if where.type == "cpu":
        return where
    if where.type == "cuda":
        from fastgrad.cuda import not_compiled

        raise not_compiled()
    raise RuntimeError(f"fastgrad runs on the CPU only; the {where.type!r} device is not available")
