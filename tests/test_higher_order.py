"""create_graph, autograd.grad and second derivatives: every op's backward recorded, checked
against finite differences of the gradient (gradgradcheck) in float64."""
import gc
import weakref

import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F
from fastgrad.autograd import GradcheckError, grad, gradgradcheck
from fastgrad.models import MNISTClassificationModel
from fastgrad.ops.conv_grad import conv2d_input_grad, conv2d_weight_grad
from fastgrad.ops.conv_geometry import conv2d_geometry
from fastgrad.ops.naive import conv2d_naive, max_pool2d_naive
from fastgrad.ops.linear_map import linear_map
from fastgrad.ops.pool_grad import scatter_to_argmax


def _t(rng, *shape, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=True)


def _setitem(a, b):
    c = a * 1.0
    c[1] = b * b
    return c * a


# name: (function, input shapes, positive inputs?)
OPS = {
    "add_broadcast": (lambda a, b: (a + b) * a, [(2, 3), (3,)], False),
    "sub_alpha": (lambda a, b: fastgrad.sub(a, b, alpha=2) * b, [(2, 3), (3,)], False),
    "mul": (lambda a, b: a * b, [(2, 3), (3,)], False),
    "div": (lambda a, b: a / b, [(2, 3), (3,)], True),
    "rdiv": (lambda b: 2.0 / b, [(3,)], True),
    "pow": (lambda a, b: a ** b, [(2, 3), (3,)], True),
    "pow_number": (lambda a: a ** 3, [(2, 3)], False),
    "rpow": (lambda b: 2.0 ** b, [(3,)], False),
    "neg": (lambda a: -(a * a), [(3,)], False),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)], False),
    "matmul_1d": (lambda a, b: a @ b, [(3,), (3, 4)], False),
    "matmul_batched": (lambda a, b: a @ b, [(2, 2, 3), (3,)], False),
    "exp": (lambda a: a.exp(), [(3,)], False),
    "log": (lambda a: a.log(), [(3,)], True),
    "sqrt": (lambda a: a.sqrt(), [(3,)], True),
    "sigmoid": (lambda a: a.sigmoid(), [(3,)], False),
    "tanh": (lambda a: a.tanh(), [(3,)], False),
    "relu": (lambda a: a.relu() * a, [(4,)], False),
    "abs": (lambda a: a.abs() * a, [(4,)], False),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, [(5,)], False),
    "clamp_tensors": (lambda a, lo: a.clamp(lo, None) * a, [(5,), (5,)], False),
    "maximum": (lambda a, b: fastgrad.maximum(a * a, b), [(5,), (5,)], False),
    "var": (lambda a: a.var(0), [(3, 4)], False),
    "var_all": (lambda a: a.var(), [(3, 4)], False),
    "std": (lambda a: a.std(1), [(3, 4)], False),
    "sum": (lambda a: (a * a).sum(0), [(3, 4)], False),
    "mean": (lambda a: (a * a).mean(), [(3, 4)], False),
    "max_dim": (lambda a: (a * a).max(1).values, [(3, 4)], False),
    "amax": (lambda a: (a * a).amax(1), [(3, 4)], False),
    "softmax": (lambda a: a.softmax(1), [(3, 4)], False),
    "log_softmax": (lambda a: a.log_softmax(1), [(3, 4)], False),
    "logsumexp": (lambda a: a.logsumexp(1), [(3, 4)], False),
    "getitem_advanced": (lambda a: (a * a)[[0, 0, 2]], [(3, 4)], False),
    "getitem_basic": (lambda a: (a * a)[1:, ::2], [(3, 4)], False),
    "getitem_mixed": (lambda a: (a * a)[0, :, [0, 2, 2]], [(2, 3, 4)], False),
    "setitem": (_setitem, [(3, 4), (4,)], False),
    "cat": (lambda a, b: fastgrad.cat([a * a, b * b], 1), [(2, 3), (2, 2)], False),
    "stack": (lambda a, b: fastgrad.stack([a * b, b], 1), [(2, 3), (2, 3)], False),
    "where": (lambda a, b: fastgrad.where(a.arr > 0, a * a, b * a), [(3,), (3,)], False),
    "permute": (lambda a: (a * a).permute(1, 0, 2), [(2, 3, 4)], False),
    "transpose": (lambda a: (a * a).transpose(0, 1) @ a, [(2, 3)], False),
    "reshape": (lambda a: (a * a).reshape(6, 2), [(3, 4)], False),
    "expand": (lambda a: (a * a).expand(3, 4), [(4,)], False),
    "repeat": (lambda a: (a * a).repeat(2, 1), [(2, 3)], False),
    "clone": (lambda a: (a * a).clone() * a, [(3,)], False),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), [(2, 3), (4, 3), (4,)], False),
    "cross_entropy": (lambda x: F.cross_entropy(x, fastgrad.tensor([0, 2, 1])), [(3, 4)], False),
    "cross_entropy_smoothing_ignore": (
        lambda x: F.cross_entropy(x, fastgrad.tensor([0, 2, -100]), label_smoothing=0.1,
                                  weight=fastgrad.tensor([1.0, 2.0, 0.5, 1.0])), [(3, 4)], False),
    "nll_loss": (lambda x: F.nll_loss(x * x, fastgrad.tensor([0, 2, 1]), reduction="sum"),
                 [(3, 4)], False),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)], False),
    "dropout": (lambda x: F.dropout(x * x, 0.5, generator=np.random.default_rng(0)), [(6,)], False),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b).tanh(), [(2, 2, 5, 5), (3, 2, 3, 3), (3,)], False),
    "conv2d_stride_padding_dilation": (
        lambda x, w: F.conv2d(x, w, None, stride=2, padding=1, dilation=2).tanh(),
        [(2, 2, 6, 7), (3, 2, 2, 3)], False),
    "conv2d_unbatched": (lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(0, 1)) ** 2,
                         [(2, 5, 5), (3, 2, 3, 3)], False),
    "max_pool2d": (lambda x: F.max_pool2d(x * x, 2), [(2, 2, 4, 4)], False),
    "max_pool2d_overlapping": (lambda x: F.max_pool2d(x * x, 3, stride=1, padding=1),
                               [(1, 2, 4, 5)], False),
    "avg_pool2d": (lambda x: F.avg_pool2d(x * x, 3, stride=2, padding=1), [(1, 2, 5, 5)], False),
    "conv2d_naive": (lambda x, w, b: conv2d_naive(x, w, b, stride=2, padding=1).tanh(),
                     [(2, 2, 5, 5), (3, 2, 3, 3), (3,)], False),
    "max_pool2d_naive": (lambda x: max_pool2d_naive(x * x, 3, stride=2, padding=1),
                         [(1, 2, 5, 5)], False),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_second_derivatives_match_finite_differences(name):
    fn, shapes, positive = OPS[name]
    rng = np.random.default_rng(0)
    inputs = [_t(rng, *shape, positive=positive) for shape in shapes]
    assert gradgradcheck(fn, inputs, atol=1e-4)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Cube(fastgrad.GradFn):
        # d(x^3) = 3x^2 g, but written with x detached: right first, wrong second derivative
        def __init__(self, x):
            super().__init__(x)
            self.save_for_backward(x)

        def backward(self, grad_output):
            x, = self.saved_tensors
            return (grad_output * 3 * fastgrad.ops.backend.value(x) ** 2,)

    def cube(x):
        return fastgrad.Tensor._wrap(x.arr ** 3, Cube(x))

    x = _t(np.random.default_rng(0), 4)
    assert fastgrad.autograd.gradcheck(cube, [x])
    with pytest.raises(GradcheckError, match="gradient of input 0"):
        gradgradcheck(cube, [x])


def test_a_backward_that_returns_arrays_under_create_graph_is_refused():
    class Plain(fastgrad.GradFn):
        def backward(self, grad_output):
            return (np.ones(3),)

    x = fastgrad.ones(3, requires_grad=True)
    y = fastgrad.Tensor._wrap(x.arr * 2, Plain(x))
    with pytest.raises(RuntimeError, match="Plain's backward returned an ndarray with "
                                           "create_graph"):
        y.sum().backward(create_graph=True)


def test_create_graph_gives_grad_a_grad_fn_and_the_third_derivative_is_right():
    x = fastgrad.tensor([0.5, -1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    (x ** 4).sum().backward(create_graph=True)
    first = x.grad
    assert first.grad_fn is not None
    np.testing.assert_allclose(first.arr, 4 * x.arr ** 3)
    second, = grad(first.sum(), x, create_graph=True)
    np.testing.assert_allclose(second.arr, 12 * x.arr ** 2)
    third, = grad(second.sum(), x)
    np.testing.assert_allclose(third.arr, 24 * x.arr)
    assert third.grad_fn is None  # no create_graph: a plain gradient


def test_first_order_backward_keeps_array_gradients_without_grad_fn():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_retain_graph_defaults_to_create_graph():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(create_graph=True)
    y.backward()  # the graph was kept: a second backward works and accumulates
    np.testing.assert_allclose(x.grad.arr, 2 * (np.exp(x.arr) * (1 + x.arr)))
    z = (x.exp() * x).sum()
    z.backward(create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_grad_does_not_touch_grad_and_returns_only_the_inputs_asked_for():
    rng = np.random.default_rng(1)
    x, w = _t(rng, 3), _t(rng, 3)
    y = (x * w).sum()
    gx, = grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.arr, w.arr)
    assert x.grad is None and w.grad is None
    gw, gx2 = grad(y, [w, x])
    np.testing.assert_allclose(gw.arr, x.arr)
    np.testing.assert_allclose(gx2.arr, w.arr)


def test_grad_of_a_non_leaf_and_with_grad_outputs():
    rng = np.random.default_rng(2)
    x = _t(rng, 2, 3)
    h = x.exp()
    y = h * 3
    v = rng.standard_normal((2, 3))
    gh, gx = grad(y, (h, x), grad_outputs=v)
    np.testing.assert_allclose(gh.arr, 3 * v)
    np.testing.assert_allclose(gx.arr, 3 * v * np.exp(x.arr))


def test_grad_with_several_outputs_sums_their_contributions():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    gx, = grad([(x * x).sum(), (3 * x).sum()], x)
    np.testing.assert_allclose(gx.arr, 2 * x.arr + 3)


def test_grad_of_an_unused_input_raises_unless_allowed():
    x = fastgrad.tensor([1.0], requires_grad=True)
    z = fastgrad.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors appears to not have "
                                           "been used in the graph. Set allow_unused=True"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.arr.tolist() == [2.0]


def test_grad_refuses_inputs_that_do_not_require_grad_and_outputs_without_graph():
    x = fastgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), fastgrad.tensor([1.0]))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        grad(fastgrad.tensor(1.0), x)


def test_grad_returns_a_copy_not_the_callers_cotangent():
    x = fastgrad.tensor([1.0, 2.0], requires_grad=True)
    v = np.array([5.0, 6.0], dtype=np.float32)
    gx, = grad(x.reshape(2), x, grad_outputs=v)
    assert not np.shares_memory(gx.arr, v)
    gx.arr[0] = 0
    assert v[0] == 5.0


def test_grad_runs_only_the_part_of_the_graph_that_leads_to_the_inputs():
    calls = []

    class Spy(fastgrad.GradFn):
        def backward(self, grad_output):
            calls.append(1)
            return (grad_output,)

    x = fastgrad.tensor([1.0], requires_grad=True)
    w = fastgrad.tensor([1.0], requires_grad=True)
    spied = fastgrad.Tensor._wrap(w.arr.copy(), Spy(w))
    grad((x * 2 + spied).sum(), x)
    assert calls == []


def test_backward_with_inputs_accumulates_into_those_only():
    x = fastgrad.tensor([1.0], requires_grad=True)
    w = fastgrad.tensor([3.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    assert x.grad.arr.tolist() == [3.0] and w.grad is None


def test_hessian_vector_product_by_double_backward():
    rng = np.random.default_rng(3)
    x = _t(rng, 4)
    a = rng.standard_normal((4, 4))
    A = fastgrad.tensor(a + a.T, dtype=fastgrad.float64)
    v = rng.standard_normal(4)
    f = 0.5 * (x @ (A @ x)) + x.exp().sum()
    g, = grad(f, x, create_graph=True)
    hv, = grad(g, x, grad_outputs=v)
    np.testing.assert_allclose(hv.arr, (a + a.T) @ v + np.exp(x.arr) * v)


def test_gradient_penalty_on_the_reference_cnn_matches_finite_differences():
    """WGAN-GP's term ||d out / d input||^2, differentiated w.r.t. the parameters."""
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel(conv_relu=True)
    for p in model.parameters():
        p.arr = p.arr.astype(np.float64)
    rng = np.random.default_rng(4)
    images = fastgrad.tensor(rng.standard_normal((2, 1, 28, 28)), dtype=fastgrad.float64,
                             requires_grad=True)
    weights = rng.standard_normal((2, 10))

    def penalty():
        out = model(images)
        g, = grad((out * weights).sum(), images, create_graph=True)
        return (g * g).sum()

    # (a bias does not reach d out / d input: the ReLU and max-pool masks are constants)
    params = [model.conv1.weight, model.conv2.weight, model.fc1.weight, model.fc3.weight]
    analytic = grad(penalty(), params)
    eps = 1e-6
    for p, g in zip(params, analytic):
        flat = p.arr.reshape(-1)
        for k in rng.choice(flat.size, size=3, replace=False):
            original = flat[k]
            flat[k] = original + eps
            plus = penalty().item()
            flat[k] = original - eps
            minus = penalty().item()
            flat[k] = original
            numeric = (plus - minus) / (2 * eps)
            assert np.isclose(g.arr.reshape(-1)[k], numeric, rtol=1e-4, atol=1e-8), (p.shape, k)


def test_hessian_of_a_small_mlp_loss_matches_finite_differences_of_the_gradient():
    rng = np.random.default_rng(5)
    x = fastgrad.tensor(rng.standard_normal((4, 3)), dtype=fastgrad.float64)
    y = fastgrad.tensor([0, 1, 1, 0])
    shapes = [(5, 3), (5,), (2, 5), (2,)]

    def loss(*params):
        w1, b1, w2, b2 = params
        return F.cross_entropy(F.linear(F.linear(x, w1, b1).tanh(), w2, b2), y)

    params = tuple(fastgrad.tensor(rng.standard_normal(s), dtype=fastgrad.float64) for s in shapes)
    hessian = fastgrad.autograd.functional.hessian(loss, params)
    sizes = [int(np.prod(s)) for s in shapes]
    full = np.block([[hessian[i][j].arr.reshape(sizes[i], sizes[j]) for j in range(4)]
                     for i in range(4)])
    np.testing.assert_allclose(full, full.T, atol=1e-10)

    def gradient(flat):
        pieces = np.split(flat, np.cumsum(sizes)[:-1])
        ps = [fastgrad.tensor(p.reshape(s), dtype=fastgrad.float64, requires_grad=True)
              for p, s in zip(pieces, shapes)]
        return np.concatenate([g.arr.reshape(-1) for g in grad(loss(*ps), ps)])

    flat = np.concatenate([p.arr.reshape(-1) for p in params])
    eps = 1e-6
    numeric = np.stack([(gradient(flat + eps * e) - gradient(flat - eps * e)) / (2 * eps)
                        for e in np.eye(flat.size)], axis=1)
    np.testing.assert_allclose(full, numeric, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), ((1, 2), (2, 0), 2)])
def test_conv2d_gradient_ops_agree_with_the_first_order_backward(stride, padding, dilation):
    rng = np.random.default_rng(6)
    x = _t(rng, 2, 3, 7, 6)
    w = _t(rng, 4, 3, 3, 2)
    out = F.conv2d(x, w, None, stride, padding, dilation)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    geometry = conv2d_geometry(x, w, None, stride, padding, dilation)
    np.testing.assert_allclose(conv2d_input_grad(g, w.arr, geometry), x.grad.arr, atol=1e-12)
    np.testing.assert_allclose(conv2d_weight_grad(x.arr, g, geometry), w.grad.arr, atol=1e-12)


def test_second_derivatives_of_conv_and_pool_agree_with_the_naive_oracle():
    rng = np.random.default_rng(7)
    x_arr, w_arr = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    results = []
    for conv, pool in ((F.conv2d, F.max_pool2d), (conv2d_naive, max_pool2d_naive)):
        x = fastgrad.tensor(x_arr, dtype=fastgrad.float64, requires_grad=True)
        w = fastgrad.tensor(w_arr, dtype=fastgrad.float64, requires_grad=True)
        out = pool(conv(x, w, None, 1, 1), 2).tanh().sum()
        gx, = grad(out, x, create_graph=True)
        results.append([g.arr for g in grad((gx * gx).sum(), [x, w])])
    for fast, naive in zip(*results):
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-12)


def test_a_node_saving_its_own_output_is_freed_without_the_cycle_collector():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    gc.disable()
    try:
        y = x.exp()
        node = weakref.ref(y.grad_fn)
        g, = grad(y.sum(), x, create_graph=True)
        g_node = weakref.ref(g.grad_fn)
        del y, g
        assert node() is None and g_node() is None
    finally:
        gc.enable()


def test_create_graph_refuses_a_derived_source_changed_in_place():
    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    b = x * 1.0
    y = (3.0 / b).sum()
    with fastgrad.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(create_graph=True)


def test_a_maml_inner_step_is_differentiated_through():
    """Outer loss after one inner SGD step, w' = w - lr * grad(inner loss)(w), checked as a
    function of w against finite differences: needs d(grad)/dw (create_graph)."""
    rng = np.random.default_rng(8)
    x_in, y_in = _t(rng, 5, 3), fastgrad.tensor(rng.standard_normal((5, 2)), dtype=fastgrad.float64)
    x_out = _t(rng, 4, 3)
    y_out = fastgrad.tensor(rng.standard_normal((4, 2)), dtype=fastgrad.float64)
    x_in.requires_grad = x_out.requires_grad = False

    def outer_loss(w, b):
        inner = F.mse_loss(F.linear(x_in, w, b).tanh(), y_in)
        gw, gb = grad(inner, [w, b], create_graph=True)
        return F.mse_loss(F.linear(x_out, w - 0.5 * gw, b - 0.5 * gb).tanh(), y_out)

    w, b = _t(rng, 2, 3), _t(rng, 2)
    assert fastgrad.autograd.gradcheck(outer_loss, [w, b])
    assert w.grad.grad_fn is None  # an ordinary backward of the outer loss


def _conv_geometry(x_shape, w_shape, stride, padding, dilation):
    return conv2d_geometry(fastgrad.zeros(*x_shape), fastgrad.zeros(*w_shape), None, stride,
                           padding, dilation)


def _avg_pool_node(x_shape, **options):
    """The backward node of an avg pool of an input of ``x_shape``: its ``spread`` (the input
    gradient) and ``mean`` (the forward) are the linear map and adjoint its backward records."""
    x = fastgrad.zeros(*x_shape, dtype=fastgrad.float64, requires_grad=True)
    return F.avg_pool2d(x, **options).grad_fn


_CONV = _conv_geometry((2, 2, 6, 5), (3, 2, 3, 2), 2, 1, 1)
_AVG = _avg_pool_node((1, 2, 5, 5), kernel_size=3, stride=2, padding=1, ceil_mode=True,
                      count_include_pad=False)

# The ops recorded backwards call: their own second derivatives (conv's third) are checked too.
GRADIENT_OPS = {
    "conv2d_input_grad": (
        lambda g, w: conv2d_input_grad(g, w, _CONV).tanh(),
        [(2, 3, 3, 3), (3, 2, 3, 2)]),
    "conv2d_weight_grad": (
        lambda x, g: conv2d_weight_grad(x, g, _CONV).tanh(),
        [(2, 2, 6, 5), (2, 3, 3, 3)]),
    "avg_pool2d_input_grad": (
        lambda g: linear_map(g * g, _AVG.spread, _AVG.mean), [(1, 2, 3, 3)]),
    "scatter_to_argmax": (
        lambda g: scatter_to_argmax(
            g * g, np.array([[[[0, 3], [3, 5]]]]), (1, 1, 2, 3)), [(1, 1, 2, 2)]),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_OPS))
def test_the_gradient_ops_have_right_derivatives_of_their_own(name):
    fn, shapes = GRADIENT_OPS[name]
    rng = np.random.default_rng(9)
    inputs = [_t(rng, *shape) for shape in shapes]
    assert fastgrad.autograd.gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs, atol=1e-4)
