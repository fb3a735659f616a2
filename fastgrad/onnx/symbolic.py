"""The table from fastgrad's graph nodes to ONNX nodes: one entry per ``GradFn`` class.

An entry is ``fn(g, node, *inputs) -> output name``: ``node`` is the traced ``GradFn`` (its
attributes and ``input_shapes``), ``inputs`` the ONNX value names of its inputs (None for a
constant the node took no gradient for), ``g`` the graph being written (``g.op``,
``g.constant``, ``g.output_shape``), as in PyTorch's symbolic functions. Supporting another op
is one entry here (``batch_norm`` below is a typical one).
"""
import numpy as np

SYMBOLICS = {}


class UnsupportedOperatorError(RuntimeError):
    """The traced graph has a node that fastgrad.onnx cannot write (PyTorch's class name)."""


def symbolic(*node_names):
    """Register ``fn`` as the conversion of the nodes whose class has one of ``node_names``."""
    def register(fn):
        for name in node_names:
            SYMBOLICS[name] = fn
        return fn
    return register


def op_name(node):
    """The op a node class records: ``MaxPool2dGradFn`` -> ``MaxPool2d``."""
    name = type(node).__name__
    return name[:-len("GradFn")] if name.endswith("GradFn") else name


def unsupported(node, why):
    return UnsupportedOperatorError(f"cannot export {op_name(node)} ({type(node).__name__}): {why}")


def _known(node, *inputs):
    """The inputs of an op whose every operand must come from the traced graph."""
    if any(i is None for i in inputs):
        raise unsupported(node, "one of its operands is a constant that the node keeps no copy "
                                "of; make it a parameter or buffer of the model, or an input")
    return inputs


def _operands_with_saved_constants(g, node, a, b):
    """For mul / matmul, whose nodes keep each operand as the other's partial derivative: a
    constant operand is written as an initializer of the other operand's dtype."""
    saved = node.saved_tensors  # (partial wrt a, partial wrt b) = (b, a)
    names = [a, b]
    for i in (0, 1):
        if names[i] is None:
            other = 1 - i
            names[i] = g.constant(np.asarray(saved[other], dtype=node.input_dtypes[other]))
    return names


# ---------------------------------------------------------------------- elementwise, one input
def _elementwise(onnx_op):
    def convert(g, node, x):
        return g.op(onnx_op, *_known(node, x))
    return convert


for _node, _onnx_op in {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp",
                        "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "Neg": "Neg",
                        "Clone": "Identity"}.items():
    SYMBOLICS[f"{_node}GradFn"] = _elementwise(_onnx_op)


@symbolic("SoftmaxGradFn")
def softmax(g, node, x):
    return g.op("Softmax", *_known(node, x), axis=int(node.axis))


@symbolic("LogSoftmaxGradFn")
def log_softmax(g, node, x):
    return g.op("LogSoftmax", *_known(node, x), axis=int(node.axis))


# ------------------------------------------------------------------------------- binary ops
@symbolic("AddGradFn", "SubGradFn")
def add_sub(g, node, a, b):
    """a + alpha * b, a - alpha * b."""
    a, b = _known(node, a, b)
    is_add = type(node).__name__ == "AddGradFn"
    _, d_b = node.saved_tensors  # alpha for add, -alpha for sub
    alpha = d_b if is_add else -d_b
    if alpha != 1:
        b = g.op("Mul", b, g.constant(np.asarray(alpha, dtype=node.input_dtypes[1])))
    return g.op("Add" if is_add else "Sub", a, b)


@symbolic("MulGradFn")
def mul(g, node, a, b):
    return g.op("Mul", *_operands_with_saved_constants(g, node, a, b))


@symbolic("MatMulGradFn")
def matmul(g, node, a, b):
    return g.op("MatMul", *_operands_with_saved_constants(g, node, a, b))


@symbolic("CatGradFn")
def cat(g, node, *tensors):
    return g.op("Concat", *_known(node, *tensors), axis=int(node.axis))


# -------------------------------------------------------------------------------- layers
@symbolic("LinearGradFn")
def linear(g, node, x, weight, bias):
    x, weight = _known(node, x, weight)
    if len(node.input_shapes[0]) == 2:  # y = x W^T + b is one Gemm
        return g.op("Gemm", x, weight, *([bias] if bias is not None else []), transB=1)
    y = g.op("MatMul", x, g.op("Transpose", weight, perm=[1, 0]))
    return y if bias is None else g.op("Add", y, bias)


@symbolic("Conv2dGradFn", "NaiveConv2dGradFn")
def conv2d(g, node, x, weight, bias):
    x, weight = _known(node, x, weight)
    c = node.geometry
    return g.op("Conv", x, weight, *([bias] if bias is not None else []),
                kernel_shape=[c.kh, c.kw], strides=[c.sh, c.sw], pads=[c.ph, c.pw, c.ph, c.pw],
                dilations=[c.dh, c.dw], group=1)


@symbolic("GroupedConv2dGradFn", "DepthwiseConv2dGradFn")
def grouped_conv(g, node, x, weight, bias):
    """conv2d with groups / conv1d: ONNX Conv's ``group``; 'same' padding's extra row is the
    Pad node before it."""
    x, weight = _known(node, x, weight)
    c = node.geometry
    unbatched = len(node.input_shapes[0]) == node.spatial + 1
    if unbatched:  # ONNX Conv takes a batch: one of one image
        batch_axis = g.constant(np.asarray([0], dtype=np.int64))
        x = g.op("Unsqueeze", x, batch_axis)
    if node.spatial == 2:
        attributes = dict(kernel_shape=[c.kh, c.kw], strides=[c.sh, c.sw],
                          pads=[c.ph, c.pw, c.ph, c.pw], dilations=[c.dh, c.dw])
    else:
        attributes = dict(kernel_shape=[c.kw], strides=[c.sw], pads=[c.pw, c.pw],
                          dilations=[c.dw])
    y = g.op("Conv", x, weight, *([bias] if bias is not None else []), group=c.groups,
             **attributes)
    return g.op("Squeeze", y, batch_axis) if unbatched else y


@symbolic("Conv2dInputGradGradFn")
def conv_transpose2d(g, node, x, weight):
    """conv_transpose2d (its bias is the Add after it): ONNX ConvTranspose, with the
    output_padding that gives the traced output size."""
    x, weight = _known(node, x, weight)
    c = node.geometry
    if len(node.input_shapes[0]) != 4:
        raise unsupported(node, f"an input of shape {node.input_shapes[0]} (ONNX ConvTranspose "
                                "takes a batch)")
    output_padding = [c.h - ((c.out_h - 1) * c.sh - 2 * c.ph + c.dh * (c.kh - 1) + 1),
                      c.w - ((c.out_w - 1) * c.sw - 2 * c.pw + c.dw * (c.kw - 1) + 1)]
    return g.op("ConvTranspose", x, weight, kernel_shape=[c.kh, c.kw], strides=[c.sh, c.sw],
                pads=[c.ph, c.pw, c.ph, c.pw], dilations=[c.dh, c.dw], group=c.groups,
                output_padding=output_padding)


@symbolic("PadGradFn")
def pad(g, node, x):
    """F.pad: ONNX Pad (opset 17: constant, reflect, edge; its 'wrap' needs opset 19)."""
    (x,) = _known(node, x)
    modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}
    if node.mode not in modes:
        raise unsupported(node, f"mode={node.mode!r} (ONNX Pad's 'wrap' needs opset 19)")
    rank = len(node.input_shapes[0])
    begins, ends = [0] * rank, [0] * rank
    for axis, lo, hi in node.widths:
        begins[axis], ends[axis] = lo, hi
    pads = g.constant(np.asarray(begins + ends, dtype=np.int64))
    value = g.constant(np.asarray(node.value, dtype=node.input_dtypes[0]))
    return g.op("Pad", x, pads, value, mode=modes[node.mode])


def _pool_attributes(node, p):
    """ONNX's kernel_shape / strides / pads / dilations / ceil_mode of a pool of geometry ``p``
    (a ``PoolGeometry`` on (N, C, H, W) planes; a 1-D pool's have H = 1)."""
    floor_h = (p.h + 2 * p.ph - p.dh * (p.kh - 1) - 1) // p.sh + 1
    floor_w = (p.w + 2 * p.pw - p.dw * (p.kw - 1) - 1) // p.sw + 1
    ceil_mode = int((p.out_h, p.out_w) != (floor_h, floor_w))
    rank = len(node.input_shapes[0])
    if rank == 4:
        return dict(kernel_shape=[p.kh, p.kw], strides=[p.sh, p.sw],
                    pads=[p.ph, p.pw, p.ph, p.pw], dilations=[p.dh, p.dw], ceil_mode=ceil_mode)
    if rank == 3 and (p.h, p.kh, p.ph) == (1, 1, 0):  # a 1-D pool of (N, C, L)
        return dict(kernel_shape=[p.kw], strides=[p.sw], pads=[p.pw, p.pw], dilations=[p.dw],
                    ceil_mode=ceil_mode)
    raise unsupported(node, f"an input of shape {node.input_shapes[0]} (ONNX pools take a "
                            "batch: (N, C, H, W), or (N, C, L) for a 1-D pool)")


def _global_pool(g, node, x, onnx_op, out_hw):
    if tuple(out_hw) != (1, 1) or len(node.input_shapes[0]) != 4:
        raise unsupported(node, f"an adaptive pool to {tuple(out_hw)} of an input of "
                                f"shape {node.input_shapes[0]}: only a batch pooled to 1x1, "
                                f"ONNX's {onnx_op}, is written")
    return g.op(onnx_op, *_known(node, x))


@symbolic("MaxPool2dGradFn", "NaiveMaxPool2dGradFn")
def max_pool2d(g, node, x):
    if node.geometry is None:  # adaptive_max_pool2d
        return _global_pool(g, node, x, "GlobalMaxPool", node.layout.planes_out[2:])
    if getattr(node, "adaptive", False):  # the naive oracle's adaptive_max_pool2d
        return _global_pool(g, node, x, "GlobalMaxPool", (node.geometry.out_h, node.geometry.out_w))
    return g.op("MaxPool", *_known(node, x), **_pool_attributes(node, node.geometry))


@symbolic("AvgPool2dGradFn")
def avg_pool2d(g, node, x):
    if node.layout.divisor_override:
        raise unsupported(node, "divisor_override (ONNX's AveragePool divides by the window)")
    attributes = _pool_attributes(node, node.geometry)
    del attributes["dilations"]  # AveragePool has none before opset 19 (avg pools are undilated)
    return g.op("AveragePool", *_known(node, x),
                count_include_pad=int(node.layout.count_include_pad), **attributes)


@symbolic("AdaptiveAvgPool2dGradFn")
def adaptive_avg_pool2d(g, node, x):
    return _global_pool(g, node, x, "GlobalAveragePool", node.layout.planes_out[2:])


@symbolic("BatchNormGradFn")
def batch_norm(g, node, x, weight, bias):
    """Eval mode: normalised with the running statistics, which become initializers. With
    batch statistics (training, or no running statistics) ONNX's inference op does not fit."""
    if node.fixed_stats is None:
        raise unsupported(node, "normalising with the batch's statistics (training mode, or "
                                "track_running_stats=False); export a model in eval mode")
    (x,) = _known(node, x)
    mean, var = node.fixed_stats
    if bias is None and node.input_shapes[2] is not None:
        raise unsupported(node, "a constant bias that the node keeps no copy of; make it a "
                                "parameter of the model")
    if weight is None:  # affine=False, or a constant weight, which the node saved
        saved_weight = node.saved_tensors[0]
        weight = g.constant(np.ones_like(mean) if saved_weight is None else saved_weight)
    bias = bias if bias is not None else g.constant(np.zeros_like(mean))
    return g.op("BatchNormalization", x, weight, bias, g.constant(mean), g.constant(var),
                epsilon=float(node.eps))


# -------------------------------------------------------------------------------- shapes
def reshape_target(source, target):
    """The ``shape`` input of an ONNX Reshape from ``source`` to ``target`` that also holds
    for another batch size: the leading dims kept from the input are written 0 (ONNX: "as in
    the input"); when none is kept, the first dim is -1, the one that absorbs the batch."""
    kept = 0
    while kept < min(len(source), len(target)) and source[kept] == target[kept]:
        kept += 1
    shape = [0] * kept + list(target[kept:])
    if kept == 0 and shape:
        shape[0] = -1
    return shape


@symbolic("ReshapeGradFn")
def reshape(g, node, x):
    """reshape / view / flatten / squeeze / unsqueeze: one node class in fastgrad."""
    (x,) = _known(node, x)
    source, target = node.input_shapes[0], g.output_shape(node)
    if tuple(source) == tuple(target):
        return g.op("Identity", x)
    shape = g.constant(np.asarray(reshape_target(source, target), dtype=np.int64))
    return g.op("Reshape", x, shape)


@symbolic("PermuteGradFn")
def permute(g, node, x):
    return g.op("Transpose", *_known(node, x), perm=[int(a) for a in np.argsort(node.inverse)])


@symbolic("DropoutGradFn")
def dropout(g, node, x):
    raise unsupported(node, "dropout in training mode; export drops nn.Dropout by putting the "
                            "model in eval mode, but F.dropout(training=True) was called")


# ------------------------------------------------ pointwise math and activations (ops/pointwise.py,
# ops/activation.py): the nodes carry their keyword parameters in ``node.params``
for _node, _onnx_op in {"Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos",
                        "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh",
                        "Acosh": "Acosh", "Atanh": "Atanh", "Floor": "Floor", "Ceil": "Ceil",
                        "Sign": "Sign", "Sgn": "Sign", "Reciprocal": "Reciprocal", "Erf": "Erf",
                        "Softsign": "Softsign", "Hardswish": "HardSwish"}.items():
    SYMBOLICS[f"{_node}GradFn"] = _elementwise(_onnx_op)


def _scalar(g, node, value):
    """A 0-d initializer of the node's input dtype."""
    return g.constant(np.asarray(value, dtype=node.input_dtypes[0]))


@symbolic("RoundGradFn")
def round_(g, node, x):
    if node.params["decimals"] != 0:
        raise unsupported(node, "round with decimals (ONNX's Round has none)")
    return g.op("Round", *_known(node, x))


@symbolic("RsqrtGradFn")
def rsqrt(g, node, x):
    return g.op("Reciprocal", g.op("Sqrt", *_known(node, x)))


@symbolic("SquareGradFn")
def square(g, node, x):
    (x,) = _known(node, x)
    return g.op("Mul", x, x)


@symbolic("GeluGradFn")
def gelu(g, node, x):
    """Opset 17 has no Gelu: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form."""
    (x,) = _known(node, x)
    if node.params["approximate"] == "tanh":
        cube = g.op("Mul", x, g.op("Mul", x, x))
        inner = g.op("Add", x, g.op("Mul", cube, _scalar(g, node, 0.044715)))
        t = g.op("Tanh", g.op("Mul", inner, _scalar(g, node, np.sqrt(2 / np.pi))))
    else:
        t = g.op("Erf", g.op("Div", x, _scalar(g, node, np.sqrt(2.0))))
    half_x = g.op("Mul", x, _scalar(g, node, 0.5))
    return g.op("Mul", half_x, g.op("Add", t, _scalar(g, node, 1.0)))


@symbolic("SiluGradFn")
def silu(g, node, x):
    (x,) = _known(node, x)
    return g.op("Mul", x, g.op("Sigmoid", x))


@symbolic("EluGradFn")
def elu(g, node, x):
    """elu, and selu (elu with a scale)."""
    alpha, scale = float(node.params["alpha"]), float(node.params["scale"])
    if scale != 1.0:
        return g.op("Selu", *_known(node, x), alpha=alpha, gamma=scale)
    return g.op("Elu", *_known(node, x), alpha=alpha)


@symbolic("CeluGradFn")
def celu(g, node, x):
    return g.op("Celu", *_known(node, x), alpha=float(node.params["alpha"]))


@symbolic("LeakyReluGradFn")
def leaky_relu(g, node, x):
    return g.op("LeakyRelu", *_known(node, x), alpha=float(node.params["negative_slope"]))


@symbolic("HardtanhGradFn")
def hardtanh(g, node, x):
    """hardtanh and relu6: Clip."""
    return g.op("Clip", *_known(node, x), _scalar(g, node, node.params["min_val"]),
                _scalar(g, node, node.params["max_val"]))


@symbolic("HardsigmoidGradFn")
def hardsigmoid(g, node, x):
    return g.op("HardSigmoid", *_known(node, x), alpha=1.0 / 6.0, beta=0.5)


def _softplus(g, node, x):
    """ONNX's Softplus has no beta and no linear tail: log(1 + exp(beta x)) / beta, and x
    where beta x > threshold."""
    beta, threshold = node.params.get("beta", 1.0), node.params.get("threshold", None)
    scaled = x if beta == 1 else g.op("Mul", x, _scalar(g, node, beta))
    soft = g.op("Softplus", scaled)
    if beta != 1:
        soft = g.op("Div", soft, _scalar(g, node, beta))
    if threshold is None:
        return soft
    linear = g.op("Greater", scaled, _scalar(g, node, threshold))
    return g.op("Where", linear, x, soft)


@symbolic("SoftplusGradFn")
def softplus(g, node, x):
    return _softplus(g, node, *_known(node, x))


@symbolic("MishGradFn")
def mish(g, node, x):
    """Mish is opset 18: x tanh(softplus(x))."""
    (x,) = _known(node, x)
    return g.op("Mul", x, g.op("Tanh", g.op("Softplus", x)))


@symbolic("LogsigmoidGradFn")
def logsigmoid(g, node, x):
    """-softplus(-x)."""
    (x,) = _known(node, x)
    return g.op("Neg", g.op("Softplus", g.op("Neg", x)))


@symbolic("TanhshrinkGradFn")
def tanhshrink(g, node, x):
    (x,) = _known(node, x)
    return g.op("Sub", x, g.op("Tanh", x))
