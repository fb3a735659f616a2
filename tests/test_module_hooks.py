"""Module hooks: forward pre-hooks, forward hooks, full backward hooks, handles."""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn


def test_forward_pre_hook_sees_and_replaces_args_then_is_removed():
    model = nn.Linear(3, 2)
    seen = []

    def double_input(module, args):
        seen.append((module, args[0].shape))
        return args[0] * 2  # a non-tuple result becomes the single argument

    x = fastgrad.randn(4, 3)
    handle = model.register_forward_pre_hook(double_input)
    out = model(x)
    assert seen == [(model, (4, 3))]
    np.testing.assert_allclose(out.detach().numpy(), model.forward(x * 2).detach().numpy())
    handle.remove()
    np.testing.assert_allclose(model(x).detach().numpy(), model.forward(x).detach().numpy())
    assert len(seen) == 1
    handle.remove()  # removing twice is harmless, as in PyTorch


def test_forward_hooks_run_in_order_and_can_replace_the_output():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    captured = {}
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: captured.__setitem__(name, out))
               for name, m in model.named_modules() if name]
    y = model(fastgrad.randn(5, 3))
    assert sorted(captured) == ["0", "1", "2"] and captured["2"] is y
    np.testing.assert_array_equal(captured["1"].detach().numpy(),
                                  np.maximum(captured["0"].detach().numpy(), 0))
    for h in handles:
        h.remove()
    order = []
    relu = nn.ReLU()
    relu.register_forward_hook(lambda m, a, o: order.append("second"))
    relu.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True)
    with relu.register_forward_hook(lambda m, a, o: o + 1):
        assert relu(fastgrad.zeros(2)).tolist() == [1.0, 1.0]
    assert relu(fastgrad.zeros(2)).tolist() == [0.0, 0.0]  # the with block removed it
    assert order == ["first", "second"] * 2
    with pytest.raises(TypeError, match="callable"):
        relu.register_forward_hook(3)


def test_full_backward_hook_gets_input_and_output_gradients():
    rng = np.random.default_rng(0)
    model = nn.Linear(3, 2).double()
    calls = []
    model.register_full_backward_hook(lambda m, gi, go: calls.append((m, gi, go)))
    x = fastgrad.tensor(rng.standard_normal((4, 3)), dtype=fastgrad.float64, requires_grad=True)
    cotangent = rng.standard_normal((4, 2))
    y = model(x)
    (y * fastgrad.tensor(cotangent, dtype=fastgrad.float64)).sum().backward()
    assert len(calls) == 1
    module, grad_input, grad_output = calls[0]
    assert module is model and len(grad_input) == 1 and len(grad_output) == 1
    np.testing.assert_allclose(grad_output[0].numpy(), cotangent)
    np.testing.assert_allclose(grad_input[0].numpy(), cotangent @ model.weight.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), grad_input[0].numpy())
    # the parameters' gradients are unaffected by the hook's identity nodes
    np.testing.assert_allclose(model.weight.grad.numpy(), cotangent.T @ x.detach().numpy())


def test_full_backward_hook_can_replace_grad_input():
    layer = nn.Tanh()
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 7,))
    x = fastgrad.randn(3, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.tolist() == [7.0, 7.0, 7.0]


def test_full_backward_hook_without_inputs_requiring_grad_and_after_remove():
    model = nn.Linear(3, 2)
    calls = []
    handle = model.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    model(fastgrad.randn(4, 3)).sum().backward()
    assert len(calls) == 1 and calls[0][0] == (None,)
    np.testing.assert_array_equal(calls[0][1][0].numpy(), np.ones((4, 2), dtype=np.float32))
    handle.remove()
    model(fastgrad.randn(4, 3)).sum().backward()
    assert len(calls) == 1


def test_full_backward_hook_fires_on_each_backward_with_retain_graph():
    layer = nn.Sigmoid()
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(gi[0].numpy().copy()))
    x = fastgrad.randn(3, requires_grad=True)
    y = layer(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert len(calls) == 2
    np.testing.assert_allclose(calls[0], calls[1])


def test_no_hooks_no_wrapping():
    layer = nn.ReLU()
    x = fastgrad.randn(3, requires_grad=True)
    assert type(layer(x).grad_fn) is type(x.relu().grad_fn)
    layer.register_full_backward_hook(lambda m, gi, go: None)
    assert type(layer(x).grad_fn).__name__ == "_OutputHookFn"
