"""Write tests/fixtures/torch_pooling.npz: PyTorch's results for the pooling rules that are
easiest to get wrong, so that tests/test_pool_torch_reference.py checks fastgrad against
PyTorch itself without importing it.

Run where PyTorch is installed (pinned: the fixture records the version that made it)::

    pip install torch==2.13.0 numpy
    python scripts/make_torch_reference_pooling.py

Each case k stores ``k/input`` (float64), ``k/args`` (a JSON string: function name and
keyword arguments), ``k/output``, ``k/grad`` (the input gradient along ``k/cotangent``) and,
for max pools, ``k/indices``.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_pooling.npz"

# (function, input shape, keyword arguments): ceil-mode windows that run past the padding,
# count_include_pad both ways, divisor_override, dilation, stride > kernel, and adaptive
# sizes that do not divide (or exceed) the input.
CASES = [
    ("avg_pool2d", (2, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (1, 3, 7, 4), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1),
                                      ceil_mode=True, divisor_override=5)),
    ("avg_pool2d", (1, 2, 6, 6), dict(kernel_size=2, stride=3, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 1, 4, 7), dict(kernel_size=(2, 4), stride=(1, 3), padding=(1, 2),
                                      ceil_mode=False, count_include_pad=False,
                                      divisor_override=-3)),
    ("avg_pool2d", (3, 4, 4), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", (2, 3, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                   count_include_pad=True)),
    ("avg_pool1d", (2, 3, 8), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                   count_include_pad=False)),
    ("max_pool2d", (2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1, dilation=2,
                                      ceil_mode=True, return_indices=True)),
    ("max_pool2d", (1, 2, 9, 8), dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 0),
                                      dilation=(3, 2), ceil_mode=False, return_indices=True)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=2, stride=3, padding=1, ceil_mode=True,
                                      return_indices=True)),
    ("max_pool1d", (2, 2, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2,
                                   ceil_mode=True, return_indices=True)),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), dict(output_size=(3, 4))),
    ("adaptive_avg_pool2d", (1, 2, 3, 2), dict(output_size=(5, 7))),
    ("adaptive_avg_pool2d", (2, 6, 9), dict(output_size=(4, None))),
    ("adaptive_avg_pool1d", (2, 3, 10), dict(output_size=4)),
    ("adaptive_avg_pool1d", (2, 3, 3), dict(output_size=7)),
    ("adaptive_max_pool2d", (2, 3, 7, 5), dict(output_size=(3, 4), return_indices=True)),
    ("adaptive_max_pool2d", (1, 2, 3, 2), dict(output_size=(5, 7), return_indices=True)),
    ("adaptive_max_pool2d", (3, 10, 11), dict(output_size=6, return_indices=True)),
]


def main():
    rng = np.random.default_rng(12)
    arrays = {"torch_version": np.array(torch.__version__)}
    for k, (name, shape, kwargs) in enumerate(CASES):
        # Rounded values: many ties in the max pools (first maximum wins).
        x = np.round(rng.standard_normal(shape), 1)
        xt = torch.tensor(x, requires_grad=True)
        result = getattr(F, name)(xt, **kwargs)
        out, indices = result if isinstance(result, tuple) else (result, None)
        cotangent = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(cotangent))
        arrays[f"{k}/input"] = x
        arrays[f"{k}/args"] = np.array(json.dumps({"function": name, "kwargs": kwargs}))
        arrays[f"{k}/output"] = out.detach().numpy()
        arrays[f"{k}/cotangent"] = cotangent
        arrays[f"{k}/grad"] = xt.grad.numpy()
        if indices is not None:
            arrays[f"{k}/indices"] = indices.numpy()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(CASES)} cases to {OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
