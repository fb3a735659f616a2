"""How a Tensor's values print, with PyTorch's options (``fastgrad.set_printoptions``): large
tensors are summarised to their first and last ``edgeitems`` along each dim, so a notebook cell
that shows a weight matrix stays readable."""
import contextlib
import dataclasses
import sys

import numpy as np


@dataclasses.dataclass
class PrintOptions:
    precision: int = 4      # digits after the decimal point
    threshold: float = 1000  # more elements than this: summarise
    edgeitems: int = 3      # items kept at each end of a summarised dim
    linewidth: int = 80     # characters per line before wrapping
    sci_mode: bool | None = None  # True: always scientific, False: never, None: as NumPy picks


_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80),
}

# The one set of options, global as PyTorch's PRINT_OPTS is (printing has no other state).
PRINT_OPTS = PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """PyTorch's ``torch.set_printoptions``: ``profile`` ("default", "short", "full") sets the
    first four, the arguments given override it; ``sci_mode`` is set on every call (None:
    NumPy chooses), as in PyTorch."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current options as a dict (the keywords of ``set_printoptions``)."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**options):
    """``set_printoptions(**options)`` inside the block, the previous options after it."""
    saved = dataclasses.replace(PRINT_OPTS)
    set_printoptions(**options)
    try:
        yield
    finally:
        for field in dataclasses.fields(PrintOptions):
            setattr(PRINT_OPTS, field.name, getattr(saved, field.name))


def format_values(arr, prefix="tensor("):
    """The values part of a Tensor's repr: NumPy's layout with the current options."""
    o = PRINT_OPTS
    formatter = None
    if o.sci_mode is not None and arr.dtype.kind == "f":
        fixed_digits = (np.format_float_scientific if o.sci_mode else np.format_float_positional)
        formatter = {"float_kind": lambda v: fixed_digits(v, precision=o.precision, unique=False)}
    threshold = sys.maxsize if o.threshold == float("inf") else int(o.threshold)
    return np.array2string(arr, separator=", ", prefix=prefix, precision=o.precision,
                           threshold=threshold, edgeitems=o.edgeitems, max_line_width=o.linewidth,
                           formatter=formatter,
                           floatmode="maxprec_equal")  # [0.3333, 2.0000] as PyTorch, not "2.    "
