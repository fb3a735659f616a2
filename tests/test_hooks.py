"""Tensor.register_hook: called with the gradient, may replace it, removable."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import grad


def test_a_leaf_hook_sees_the_gradient_and_may_replace_it():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.arr.copy()) or g * 10)
    (x * 3).sum().backward()
    assert [s.tolist() for s in seen] == [[3.0, 3.0]]
    assert x.grad.arr.tolist() == [30.0, 30.0]
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.arr.tolist() == [3.0, 3.0] and len(seen) == 1


def test_a_non_leaf_hook_changes_what_flows_upstream_and_what_is_retained():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g + 1)
    (h * 3).sum().backward()
    assert h.grad.arr.tolist() == [4.0, 4.0]
    assert x.grad.arr.tolist() == [8.0, 8.0]


def test_a_hook_returning_none_keeps_the_gradient_and_hooks_run_in_order():
    x = fastgrad.tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append("first"))
    x.register_hook(lambda g: order.append("second") or g * 2)
    x.register_hook(lambda g: order.append(g.item()))
    (x * 5).sum().backward()
    assert order == ["first", "second", 10.0] and x.grad.item() == 10.0


def test_hooks_apply_to_autograd_grad_of_their_tensor():
    x = fastgrad.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    gx, = grad((x * 5).sum(), x)
    assert gx.item() == 10.0 and x.grad is None


def test_with_create_graph_a_hook_gets_a_differentiable_gradient_every_time_one_is_made():
    x = fastgrad.tensor([1.5], dtype=fastgrad.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g) or g * 2)
    gx, = grad((x ** 3).sum(), x, create_graph=True)  # hooked: 2 * 3x^2
    assert seen[0].grad_fn is not None and gx.grad_fn is not None
    np.testing.assert_allclose(gx.arr, 6 * 1.5 ** 2)
    # the gradient of gx w.r.t. x is a gradient of x too: the hook doubles it again (PyTorch's
    # hooks run on every gradient computed for their tensor)
    ggx, = grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.arr, 2 * 12 * 1.5)
    assert len(seen) == 2


def test_a_hook_changing_the_shape_raises_and_one_on_a_constant_is_refused():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 2).sum().backward()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fastgrad.tensor([1.0]).register_hook(lambda g: g)


def test_a_removed_non_leaf_hook_no_longer_runs_and_handles_work_as_context_managers():
    x = fastgrad.tensor([1.0], requires_grad=True)
    h = x * 2
    with h.register_hook(lambda g: g * 100):
        pass
    (h * 1).sum().backward()
    assert x.grad.item() == 2.0


def test_hooks_of_a_leaf_differentiated_directly_run_for_backward_and_grad():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 3)
    x.backward(fastgrad.tensor([1.0, 1.0]))
    assert x.grad.arr.tolist() == [3.0, 3.0]
    gx, = grad(x, x, grad_outputs=fastgrad.tensor([1.0, 2.0]))
    assert gx.arr.tolist() == [3.0, 6.0]
