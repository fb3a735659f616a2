"""embedding, interpolate, pixel_shuffle, one_hot, normalize, cosine_similarity,
pairwise_distance, scaled_dot_product_attention and MultiheadAttention against PyTorch's own
results, gradients and exceptions (tests/fixtures/torch_layers.npz, written by
scripts/make_torch_layers.py; MultiheadAttention with the torch module's state_dict)."""
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_layers.npz"
_DATA = np.load(FIXTURE)


def _ids(prefix):
    found = set()
    for key in _DATA.files:
        head = key.split("/")[0]
        if head.startswith(prefix) and head[len(prefix):].isdigit():
            found.add(int(head[len(prefix):]))
    return sorted(found)


CASES, ERRORS, MHAS = _ids(""), _ids("err"), _ids("mha")


def _spec(key):
    return json.loads(str(_DATA[f"{key}/spec"]))


def _inputs(key, diff, dtype):
    inputs, i = [], 0
    while f"{key}/in{i}" in _DATA.files:
        a = _DATA[f"{key}/in{i}"]
        if diff and diff[i]:
            inputs.append(fastgrad.tensor(a, dtype=dtype, requires_grad=True))
        else:
            inputs.append(fastgrad.tensor(a))
        i += 1
    return inputs


def test_fixture_was_made_by_the_pinned_pytorch():
    assert str(_DATA["torch_version"]).startswith("2.13.0")
    assert len(CASES) >= 40 and len(ERRORS) >= 15 and len(MHAS) >= 8


@pytest.mark.parametrize("k", CASES, ids=lambda k: f"{k}-{_spec(k)['function']}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_function_matches_pytorch(k, dtype):
    spec = _spec(k)
    name, kwargs, diff = spec["function"], spec["kwargs"], spec["diff"]
    inputs = _inputs(k, diff, dtype)
    if name == "scaled_dot_product_attention" and len(inputs) == 4:
        kwargs = dict(kwargs, attn_mask=inputs.pop())
    out = getattr(F, name)(*inputs, **kwargs)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    expected = _DATA[f"{k}/out"]
    assert out.shape == expected.shape
    assert out.dtype == (np.int64 if name == "one_hot" else dtype)
    np.testing.assert_allclose(out.arr, expected, **tol)
    if f"{k}/in1_after" in _DATA.files:  # max_norm renormalised the weight in place
        np.testing.assert_allclose(inputs[1].arr, _DATA[f"{k}/in1_after"], **tol)
    if f"{k}/cotangent" in _DATA.files:
        out.backward(fastgrad.tensor(_DATA[f"{k}/cotangent"], dtype=dtype))
        if "attn_mask" in kwargs:
            inputs.append(kwargs["attn_mask"])
        for i, d in enumerate(diff):
            if d:
                assert inputs[i].grad.dtype == dtype
                np.testing.assert_allclose(inputs[i].grad.arr, _expected_grad(k, i), **tol)


def _expected_grad(k, i):
    """PyTorch's gradient, except where PyTorch's own is not the adjoint of its forward (1-D
    and 3-D nearest at the input's size or twice it): there the forward's true gradient."""
    if f"{k}/adjoint_grad{i}" in _DATA.files:
        assert not np.allclose(_DATA[f"{k}/adjoint_grad{i}"], _DATA[f"{k}/grad{i}"])
        return _DATA[f"{k}/adjoint_grad{i}"]
    return _DATA[f"{k}/grad{i}"]


@pytest.mark.parametrize("e", ERRORS, ids=lambda e: f"{e}-{_spec(f'err{e}')['function']}")
def test_errors_match_pytorch(e):
    spec = _spec(f"err{e}")
    inputs = _inputs(f"err{e}", None, None)
    kwargs = dict(spec["kwargs"])
    if spec["function"] == "scaled_dot_product_attention" and len(inputs) == 4:
        kwargs["attn_mask"] = inputs.pop()
    with pytest.raises(Exception) as info:
        getattr(F, spec["function"])(*inputs, **kwargs)
    assert type(info.value).__name__ == spec["exception"]
    # PyTorch's words first; fastgrad may add the values at fault after them
    assert str(info.value).startswith(spec["message"][:30]), (str(info.value), spec["message"])


def _mha(m, dtype):
    spec = _spec(f"mha{m}")
    module = nn.MultiheadAttention(**spec["init"], dtype=dtype)
    state = {key.split("/", 2)[2]: _DATA[key] for key in _DATA.files
             if key.startswith(f"mha{m}/state/")}
    module.load_state_dict({k: fastgrad.tensor(v, dtype=dtype) for k, v in state.items()})
    assert list(module.state_dict()) == list(state)  # PyTorch's names, in PyTorch's order
    return module.eval(), spec["forward"]


@pytest.mark.parametrize("m", MHAS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multihead_attention_with_torch_weights_matches_pytorch(m, dtype):
    module, forward_kwargs = _mha(m, dtype)
    key = f"mha{m}"
    qkv = [fastgrad.tensor(_DATA[f"{key}/{name}"], dtype=dtype, requires_grad=True)
           for name in ("query", "key", "value")]
    masks = {}
    for name in ("key_padding_mask", "attn_mask"):
        if f"{key}/{name}" in _DATA.files:
            a = _DATA[f"{key}/{name}"]
            masks[name] = fastgrad.tensor(a, dtype=None if a.dtype == bool else dtype)
    out, weights = module(*qkv, **masks, **forward_kwargs)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.arr, _DATA[f"{key}/out"], **tol)
    if f"{key}/weights" in _DATA.files:
        np.testing.assert_allclose(weights.arr, _DATA[f"{key}/weights"], **tol)
    else:
        assert weights is None
    out.backward(fastgrad.tensor(_DATA[f"{key}/cotangent"], dtype=dtype))
    for name, t in zip(("query", "key", "value"), qkv):
        np.testing.assert_allclose(t.grad.arr, _DATA[f"{key}/grad_{name}"], **tol)
