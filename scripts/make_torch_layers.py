"""Write tests/fixtures/torch_layers.npz: PyTorch's results for embedding, interpolate,
pixel_shuffle, one_hot, normalize, cosine_similarity, pairwise_distance,
scaled_dot_product_attention and MultiheadAttention (with its state_dict), so that
tests/test_layers_torch_reference.py checks fastgrad against PyTorch without importing it.

Run where PyTorch is installed (the fixture records the version that made it)::

    python scripts/make_torch_layers.py

Function case k: ``k/spec`` (JSON: function, keyword arguments, which inputs are
differentiable), ``k/in{i}`` (float64, int64 or bool), ``k/out``, ``k/cotangent`` and
``k/grad{i}`` for each differentiable input (and ``k/adjoint_grad0`` where PyTorch's
nearest backward is not the adjoint of its forward: see ``nearest_adjoint``).
Error case e: ``err{e}/spec`` (JSON: function, keyword arguments, PyTorch's exception class
and message), ``err{e}/in{i}``.
MultiheadAttention case m: ``mha{m}/spec`` (constructor and forward keyword arguments),
``mha{m}/state/<name>`` (the torch state_dict), ``mha{m}/query|key|value``, optional
``mha{m}/key_padding_mask|attn_mask``, ``mha{m}/out``, ``mha{m}/weights``, ``mha{m}/cotangent``
and ``mha{m}/grad_query|key|value``.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_layers.npz"
RNG = np.random.default_rng(12)


def floats(*shape):
    return RNG.standard_normal(shape)


def ints(high, *shape):
    return RNG.integers(0, high, shape).astype(np.int64)


def bools(*shape, p=0.7):
    return RNG.random(shape) < p


def causal_ok(L, S):
    m = bools(L, S)
    m[:, 0] = True  # every query keeps a key
    return m


# (function, inputs, keyword arguments); float inputs are differentiable
CASES = [
    ("embedding", [ints(7, 3, 4), floats(7, 5)], {}),
    ("embedding", [ints(6, 2, 3), floats(6, 4)], dict(padding_idx=2)),
    ("embedding", [np.array([[0, 2, 2, 5], [5, 5, 1, 0]]), floats(6, 3)],
     dict(scale_grad_by_freq=True, padding_idx=-1)),
    ("embedding", [ints(4, 5), floats(4, 3) * 3], dict(max_norm=1.5)),
    ("embedding", [ints(4, 5), floats(4, 3) * 3], dict(max_norm=2.0, norm_type=1.0)),
    ("interpolate", [floats(2, 3, 4, 5)], dict(scale_factor=2, mode="nearest")),
    ("interpolate", [floats(2, 3, 5, 7)], dict(size=(3, 4), mode="nearest")),
    ("interpolate", [floats(1, 2, 7, 6)], dict(size=(11, 13), mode="nearest")),
    ("interpolate", [floats(1, 2, 7, 6)], dict(scale_factor=1.7, mode="nearest")),
    ("interpolate", [floats(1, 2, 6, 9)], dict(scale_factor=(1 / 3, 0.7), mode="nearest")),
    ("interpolate", [floats(1, 2, 7, 6)], dict(scale_factor=1.7, mode="nearest",
                                               recompute_scale_factor=True)),
    ("interpolate", [floats(2, 3, 5, 7)], dict(size=(8, 3), mode="nearest-exact")),
    ("interpolate", [floats(1, 2, 7, 6)], dict(scale_factor=2.3, mode="nearest-exact")),
    ("interpolate", [floats(2, 3, 4, 5)], dict(scale_factor=2, mode="bilinear")),
    ("interpolate", [floats(2, 3, 4, 5)], dict(scale_factor=2, mode="bilinear",
                                               align_corners=True)),
    ("interpolate", [floats(1, 2, 6, 9)], dict(size=(4, 5), mode="bilinear")),
    ("interpolate", [floats(1, 2, 6, 9)], dict(size=(4, 5), mode="bilinear",
                                               align_corners=True)),
    ("interpolate", [floats(1, 2, 5, 4)], dict(scale_factor=(1.6, 2.7), mode="bilinear")),
    ("interpolate", [floats(1, 2, 5, 4)], dict(scale_factor=(1.6, 2.7), mode="bilinear",
                                               recompute_scale_factor=True)),
    ("interpolate", [floats(1, 2, 1, 4)], dict(size=(3, 1), mode="bilinear",
                                               align_corners=True)),
    ("interpolate", [floats(2, 3, 7)], dict(scale_factor=1.5, mode="linear")),
    ("interpolate", [floats(2, 3, 7)], dict(size=12, mode="linear", align_corners=True)),
    ("interpolate", [floats(2, 3, 7)], dict(size=5, mode="nearest")),
    # the 2-D nearest kernel maps same / double sizes by index whatever the factor; 1-D, 3-D not
    ("interpolate", [floats(1, 2, 5)], dict(scale_factor=1.1, mode="nearest")),
    ("interpolate", [floats(1, 2, 5)], dict(scale_factor=2.1, mode="nearest")),
    ("interpolate", [floats(1, 2, 5, 5)], dict(scale_factor=(1.1, 2.1), mode="nearest")),
    ("interpolate", [floats(1, 2, 5, 5)], dict(scale_factor=(1.1, 2.1), mode="nearest-exact")),
    ("interpolate", [floats(1, 1, 2, 5, 5)], dict(scale_factor=(1.0, 1.1, 2.1), mode="nearest")),
    ("interpolate", [floats(1, 2, 3, 4, 5)], dict(scale_factor=2, mode="nearest")),
    ("pixel_shuffle", [floats(2, 8, 3, 4)], dict(upscale_factor=2)),
    ("pixel_shuffle", [floats(9, 2, 2)], dict(upscale_factor=3)),
    ("pixel_unshuffle", [floats(2, 2, 6, 4)], dict(downscale_factor=2)),
    ("one_hot", [ints(5, 2, 3)], {}),
    ("one_hot", [ints(3, 4)], dict(num_classes=6)),
    ("normalize", [floats(3, 4)], {}),
    ("normalize", [floats(2, 3, 4)], dict(p=1.0, dim=-1)),
    ("normalize", [floats(2, 3, 4)], dict(p=3.0, dim=0, eps=0.5)),
    ("normalize", [np.array([[0.0, 0.0], [1e-14, 0.0]])], dict(dim=1)),
    ("cosine_similarity", [floats(4, 5), floats(4, 5)], {}),
    ("cosine_similarity", [floats(3, 1, 5), floats(4, 5)], dict(dim=-1)),
    ("cosine_similarity", [floats(2, 3), floats(2, 3) * 1e-9], dict(dim=1, eps=1e-6)),
    ("cosine_similarity", [floats(6), floats(6)], dict(dim=0)),
    ("pairwise_distance", [floats(4, 5), floats(4, 5)], {}),
    ("pairwise_distance", [floats(4, 5), floats(5)], dict(p=1.0, keepdim=True)),
    ("pairwise_distance", [floats(2, 3, 5), floats(3, 5)], dict(p=3.0, eps=1e-3)),
    ("pairwise_distance", [floats(5), floats(5)], {}),
    ("scaled_dot_product_attention", [floats(2, 3, 4), floats(2, 5, 4), floats(2, 5, 6)], {}),
    ("scaled_dot_product_attention", [floats(2, 2, 3, 4), floats(2, 2, 5, 4), floats(2, 2, 5, 4),
                                      causal_ok(3, 5)], {}),
    ("scaled_dot_product_attention", [floats(2, 2, 3, 4), floats(2, 2, 5, 4), floats(2, 2, 5, 4),
                                      floats(2, 1, 3, 5)], {}),
    ("scaled_dot_product_attention", [floats(2, 2, 4, 3), floats(2, 2, 4, 3), floats(2, 2, 4, 3)],
     dict(is_causal=True)),
    ("scaled_dot_product_attention", [floats(2, 3, 4), floats(2, 5, 4), floats(2, 5, 6)],
     dict(is_causal=True, scale=0.3)),
    ("scaled_dot_product_attention", [floats(1, 4, 3, 2), floats(1, 2, 5, 2), floats(1, 2, 5, 3)],
     dict(enable_gqa=True)),
    ("scaled_dot_product_attention",  # a 2-D call whose second query sees no key
     [floats(3, 4), floats(5, 4), floats(5, 2),
      np.array([[True] * 5, [False] * 5, [True, False] * 2 + [True]])], {}),
]

ERRORS = [
    ("embedding", [np.array([7]), floats(7, 2)], {}),
    ("embedding", [np.array([-1]), floats(7, 2)], {}),
    ("embedding", [np.array([1.0]), floats(7, 2)], {}),
    ("interpolate", [floats(1, 1, 3, 3)], dict(size=4, scale_factor=2)),
    ("interpolate", [floats(1, 1, 3, 3)], {}),
    ("interpolate", [floats(1, 1, 3, 3)], dict(size=4, align_corners=True)),
    ("interpolate", [floats(1, 1, 3)], dict(size=4, mode="bilinear")),
    ("interpolate", [floats(1, 1, 3, 3)], dict(size=(4, 4, 4))),
    ("interpolate", [floats(1, 1, 3, 3)], dict(size=4, mode="bogus")),
    ("pixel_shuffle", [floats(1, 3, 2, 2)], dict(upscale_factor=2)),
    ("pixel_shuffle", [floats(4, 2)], dict(upscale_factor=2)),
    ("pixel_unshuffle", [floats(1, 1, 3, 4)], dict(downscale_factor=2)),
    ("one_hot", [np.array([1.0])], {}),
    ("one_hot", [np.array([-1, 2])], dict(num_classes=4)),
    ("one_hot", [np.array([1, 4])], dict(num_classes=4)),
    ("one_hot", [np.zeros(0, dtype=np.int64)], {}),
    ("scaled_dot_product_attention", [floats(1, 3, 4), floats(1, 3, 4), floats(1, 3, 4),
                                      bools(3, 3)], dict(is_causal=True)),
    ("scaled_dot_product_attention", [floats(1, 3, 4), floats(1, 3, 4), floats(1, 3, 4),
                                      ints(2, 3, 3)], {}),
]

MHA = [
    (dict(embed_dim=8, num_heads=2), dict()),
    (dict(embed_dim=8, num_heads=2, batch_first=True), dict(average_attn_weights=False)),
    (dict(embed_dim=6, num_heads=3, kdim=5, vdim=4, bias=False), dict()),
    (dict(embed_dim=8, num_heads=4, add_bias_kv=True, add_zero_attn=True),
     dict(key_padding_mask="bool")),
    (dict(embed_dim=8, num_heads=2, batch_first=True), dict(attn_mask="bool2d",
                                                           key_padding_mask="bool")),
    (dict(embed_dim=8, num_heads=2), dict(attn_mask="float3d", key_padding_mask="float")),
    (dict(embed_dim=8, num_heads=2), dict(attn_mask="causal", is_causal=True)),
    (dict(embed_dim=8, num_heads=2), dict(unbatched=True, need_weights=False)),
]


def to_torch(a, requires_grad):
    t = torch.from_numpy(np.array(a, copy=True))  # a copy: max_norm writes the weight
    return t.requires_grad_() if requires_grad else t


def function_case(store, k, name, inputs, kwargs):
    diff = [bool(np.issubdtype(np.asarray(a).dtype, np.floating)) and name != "one_hot"
            for a in inputs]
    if name == "scaled_dot_product_attention" and len(inputs) == 4:
        diff[3] = inputs[3].dtype != np.bool_
        kwargs = dict(kwargs)
        inputs, mask = inputs[:3], inputs[3]
    else:
        mask = None
    tensors = [to_torch(a, d) for a, d in zip(inputs, diff)]
    call = dict(kwargs)
    if mask is not None:
        mask_t = to_torch(mask, diff[3])
        call["attn_mask"] = mask_t
        tensors.append(mask_t)
        inputs = list(inputs) + [mask]
    out = getattr(F, name)(*tensors[:len(inputs) - (mask is not None)], **call)
    store[f"{k}/spec"] = json.dumps(dict(function=name, kwargs=kwargs, diff=diff))
    for i, a in enumerate(inputs):
        store[f"{k}/in{i}"] = np.asarray(a)
    store[f"{k}/out"] = out.detach().numpy()
    if any(diff):
        if name == "embedding" and "max_norm" in kwargs:
            store[f"{k}/in1_after"] = tensors[1].detach().numpy().copy()
        cot = RNG.standard_normal(out.shape)
        out.backward(torch.from_numpy(cot))
        store[f"{k}/cotangent"] = cot
        for i, (t, d) in enumerate(zip(tensors, diff)):
            if d:
                store[f"{k}/grad{i}"] = t.grad.numpy()
        if name == "interpolate" and kwargs.get("mode", "nearest") == "nearest":
            nearest_adjoint(store, k, inputs[0], kwargs, cot)


def nearest_adjoint(store, k, x, kwargs, cot):
    """PyTorch's 1-D and 3-D nearest backward maps an output of the input's size (or twice it)
    by index, while their forward does not: there its gradient is not the forward's adjoint.
    Record the adjoint (each output's gradient added to the input it was read from) when the
    two differ."""
    positions = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    source = F.interpolate(torch.from_numpy(positions), **kwargs).numpy().astype(np.int64)
    adjoint = np.zeros(x.size)
    np.add.at(adjoint, source.reshape(-1), cot.reshape(-1))
    adjoint = adjoint.reshape(x.shape)
    if not np.allclose(adjoint, store[f"{k}/grad0"]):
        store[f"{k}/adjoint_grad0"] = adjoint


def error_case(store, e, name, inputs, kwargs):
    tensors = [to_torch(a, False) for a in inputs]
    call = dict(kwargs)
    if name == "scaled_dot_product_attention" and len(tensors) == 4:
        call["attn_mask"] = tensors.pop()
        tensors[0].requires_grad_()  # the math path, which checks is_causal with a mask
    try:
        getattr(F, name)(*tensors, **call)
    except Exception as exc:  # noqa: BLE001 - the class is what is recorded
        store[f"err{e}/spec"] = json.dumps(dict(function=name, kwargs=kwargs,
                                                exception=type(exc).__name__, message=str(exc)))
        for i, a in enumerate(inputs):
            store[f"err{e}/in{i}"] = np.asarray(a)
        return
    raise SystemExit(f"error case {e} ({name} {kwargs}) did not raise")


def mha_case(store, m, init_kwargs, forward_kwargs):
    torch.manual_seed(m)
    module = torch.nn.MultiheadAttention(**init_kwargs, dtype=torch.float64).train(False)
    E, H = init_kwargs["embed_dim"], init_kwargs["num_heads"]
    kdim, vdim = init_kwargs.get("kdim", E), init_kwargs.get("vdim", E)
    forward_kwargs = dict(forward_kwargs)
    unbatched = forward_kwargs.pop("unbatched", False)
    N, L, S = 2, 3, 4
    if forward_kwargs.get("is_causal"):
        S = L
    if unbatched:
        shapes = [(L, E), (S, kdim), (S, vdim)]
    elif init_kwargs.get("batch_first"):
        shapes = [(N, L, E), (N, S, kdim), (N, S, vdim)]
    else:
        shapes = [(L, N, E), (S, N, kdim), (S, N, vdim)]
    arrays = {name: floats(*shape) for name, shape in zip(("query", "key", "value"), shapes)}
    call = {}
    kind = forward_kwargs.pop("key_padding_mask", None)
    if kind == "bool":
        pad = np.zeros((N, S), dtype=bool)
        pad[0, -1] = pad[1, 1] = True
        call["key_padding_mask"] = pad
    elif kind == "float":
        call["key_padding_mask"] = floats(N, S)
    kind = forward_kwargs.pop("attn_mask", None)
    if kind == "bool2d":
        mask = ~causal_ok(L, S)  # True = masked out, column 0 always open
        call["attn_mask"] = mask
    elif kind == "float3d":
        call["attn_mask"] = floats(N * H, L, S)
    elif kind == "causal":
        call["attn_mask"] = np.triu(np.ones((L, S), dtype=bool), 1)
    tensors = {name: to_torch(a, True) for name, a in arrays.items()}
    out, weights = module(tensors["query"], tensors["key"], tensors["value"],
                          **{name: torch.from_numpy(a) for name, a in call.items()},
                          **forward_kwargs)
    store[f"mha{m}/spec"] = json.dumps(dict(init=init_kwargs, forward=forward_kwargs))
    for name, value in module.state_dict().items():
        store[f"mha{m}/state/{name}"] = value.numpy()
    for name, a in {**arrays, **call}.items():
        store[f"mha{m}/{name}"] = a
    store[f"mha{m}/out"] = out.detach().numpy()
    if weights is not None:
        store[f"mha{m}/weights"] = weights.detach().numpy()
    cot = RNG.standard_normal(out.shape)
    out.backward(torch.from_numpy(cot))
    store[f"mha{m}/cotangent"] = cot
    for name, t in tensors.items():
        store[f"mha{m}/grad_{name}"] = t.grad.numpy()


def main():
    store = {"torch_version": np.array(torch.__version__)}
    for k, (name, inputs, kwargs) in enumerate(CASES):
        function_case(store, k, name, inputs, kwargs)
    for e, (name, inputs, kwargs) in enumerate(ERRORS):
        error_case(store, e, name, inputs, kwargs)
    for m, (init_kwargs, forward_kwargs) in enumerate(MHA):
        mha_case(store, m, init_kwargs, forward_kwargs)
    np.savez_compressed(OUT, **store)
    print(f"wrote {OUT}: {len(CASES)} cases, {len(ERRORS)} errors, {len(MHA)} MultiheadAttention")


if __name__ == "__main__":
    main()
