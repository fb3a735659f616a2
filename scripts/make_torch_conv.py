"""Write tests/fixtures/torch_conv.npz: PyTorch's results for the convolution variants and
F.pad, so that tests/test_conv_torch_reference.py checks fastgrad against PyTorch itself
without importing it.

Run where PyTorch is installed (pinned: the fixture records the version that made it)::

    pip install torch==2.13.0 numpy
    python scripts/make_torch_conv.py

Each case k stores ``k/args`` (a JSON string: function name and keyword arguments),
``k/input`` (and ``k/weight``, ``k/bias`` for the convolutions; float64), ``k/output`` and
the gradients ``k/grad_input`` (``k/grad_weight``, ``k/grad_bias``) along ``k/cotangent``.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_conv.npz"

# (function, input shape, weight shape or None, bias, keyword arguments): groups (grouped and
# depthwise), 'same' with even kernels and dilation (PyTorch's asymmetric split), 'valid',
# strides and dilations, unbatched inputs, conv1d, output_padding from stride and from
# dilation, and every F.pad mode with cropping.
CASES = [
    ("conv2d", (2, 6, 7, 5), (4, 3, 3, 2), True, dict(stride=(2, 1), padding=1, groups=2)),
    ("conv2d", (2, 4, 6, 6), (8, 1, 3, 3), True, dict(padding=1, groups=4)),
    ("conv2d", (1, 3, 6, 7), (2, 3, 4, 2), False, dict(padding="same")),
    ("conv2d", (2, 4, 5, 6), (4, 2, 2, 3), True, dict(padding="same", dilation=(3, 2), groups=2)),
    ("conv2d", (2, 3, 6, 5), (2, 3, 3, 3), True, dict(padding="valid", stride=2)),
    ("conv2d", (3, 6, 5), (3, 1, 3, 3), True, dict(padding=2, dilation=2, groups=3)),
    ("conv1d", (2, 4, 9), (6, 2, 3), True, dict(stride=2, padding=1, dilation=2, groups=2)),
    ("conv1d", (4, 8), (2, 4, 4), False, dict(padding="same")),
    ("conv_transpose2d", (2, 4, 3, 4), (4, 3, 3, 3), True,
     dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("conv_transpose2d", (1, 2, 4, 3), (2, 3, 2, 3), True,
     dict(stride=(1, 2), padding=(0, 1), output_padding=(1, 0), dilation=(2, 1))),
    ("conv_transpose2d", (3, 4, 4), (3, 2, 3, 3), False, dict(stride=3, padding=2)),
    ("pad", (2, 3, 4), None, False, dict(pad=(2, 1), mode="constant", value=1.5)),
    ("pad", (2, 3, 4), None, False, dict(pad=(-1, 2, 1, -2, 0, 1), mode="constant")),
    ("pad", (1, 2, 4, 5), None, False, dict(pad=(3, 2, 1, 3), mode="reflect")),
    ("pad", (2, 4, 5), None, False, dict(pad=(-1, 3, 2, -1), mode="reflect")),
    ("pad", (1, 2, 3, 4), None, False, dict(pad=(5, 1, 0, 4), mode="replicate")),
    ("pad", (2, 3, 5), None, False, dict(pad=(2, -2), mode="circular")),
    ("pad", (1, 2, 3, 4), None, False, dict(pad=(4, 1, 2, 3), mode="circular")),
    ("pad", (1, 2, 3, 4, 3), None, False, dict(pad=(1, 2, 2, 0, 1, 2), mode="replicate")),
    ("pad", (2, 3, 4, 5), None, False, dict(pad=(1, 2, 3, 0, 2, 1), mode="reflect")),
    ("pad", (2, 3, 4, 3), None, False, dict(pad=(1, 3, -1, 2, 2, 2), mode="circular")),
]


def main():
    rng = np.random.default_rng(20261205)
    arrays = {"torch_version": np.array(torch.__version__)}
    for k, (name, x_shape, w_shape, bias, kwargs) in enumerate(CASES):
        x = torch.tensor(rng.standard_normal(x_shape), requires_grad=True)
        inputs = [x]
        if w_shape is not None:
            inputs.append(torch.tensor(rng.standard_normal(w_shape), requires_grad=True))
            out_channels = w_shape[0] if name != "conv_transpose2d" else \
                w_shape[1] * kwargs.get("groups", 1)
            inputs.append(torch.tensor(rng.standard_normal(out_channels), requires_grad=True)
                          if bias else None)
        out = getattr(F, name)(*inputs, **kwargs)
        cotangent = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(cotangent))
        arrays[f"{k}/args"] = np.array(json.dumps([name, kwargs]))
        arrays[f"{k}/output"] = out.detach().numpy()
        arrays[f"{k}/cotangent"] = cotangent
        for label, t in zip(("input", "weight", "bias"), inputs):
            if t is not None:
                arrays[f"{k}/{label}"] = t.detach().numpy()
                arrays[f"{k}/grad_{label}"] = t.grad.numpy()
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
