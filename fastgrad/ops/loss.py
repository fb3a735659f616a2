"""Losses, as PyTorch's ``torch.nn.functional`` ones.

Class-index targets: cross_entropy (log-softmax and NLL fused into one node) and nll_loss.
For both, sample i gets weight w_i = weight[target_i] (1 without ``weight``; 0 when
target_i == ignore_index). 'mean' divides by sum_i w_i, as PyTorch does. Their
K-dimensional form (N, C, d1, ..., dk) moves the class axis last and runs the (N, C) form on
every position; class-probability targets are composed of differentiable ops.

binary_cross_entropy and binary_cross_entropy_with_logits are nodes (PyTorch's clamp of the
log at -100, and a softplus that does not overflow); the regression losses (mse, l1,
smooth_l1, huber) and kl_div are composed of differentiable ops, so they differentiate to any
order with no backward of their own.
"""
import warnings

import numpy as np

from fastgrad.autograd.function import GradFn, derived, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels.softmax import log_softmax_nll, softmax_minus_onehot
from fastgrad.ops import backend
from fastgrad.ops._operands import as_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {_REDUCTIONS}")


def _legacy_reduction(size_average, reduce, reduction, allowed=_REDUCTIONS):
    """``reduction``, or what PyTorch's deprecated ``size_average`` / ``reduce`` ask for
    (either given overrides ``reduction``, with PyTorch's warning)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else "mean" if size_average else "sum"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of "
                         f"{allowed}")
    return reduction


def _shape_of(x):
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _reduced(losses, reduction):
    """A Tensor of per-element losses reduced as ``reduction`` says (mean of none is nan)."""
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else _mean_of_sum(losses.sum(), losses.numel())


def _mean_of_sum(total, count):
    """``total / count``; nan for count 0 as PyTorch, added as a constant so that no
    derivative of any order divides by the zero count (0 / 0 would make them nan)."""
    return total / float(count) if count else total + float("nan")


def _class_targets(input, target, weight, ignore_index):
    """Validate shapes; return (scores 2-D, safe targets, per-sample weights, ignored rows
    (a mask, or None when none is), squeeze?)."""
    scores = input.arr
    target_arr = target.arr if isinstance(target, Tensor) else np.asarray(target)
    if target_arr.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected target of integer class indices (int64), got dtype {target_arr.dtype} "
            f"of shape {target_arr.shape} for input of shape {input.shape} (class "
            "probabilities take the input's shape)"
        )
    if scores.ndim not in (1, 2):
        raise ValueError(f"expected input of shape (N, C, d1, ...) or (C,), got {input.shape}")
    if target_arr.ndim > 1:
        raise RuntimeError(
            f"0D or 1D target tensor expected, multi-target not supported; got target of shape "
            f"{target_arr.shape} for input of shape {input.shape}"
        )
    single = scores.ndim == 1
    if single:
        if target_arr.size != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: "
                f"{target_arr.size} (input shape {input.shape}, target shape {target_arr.shape})"
            )
        scores, target_arr = scores[None, :], target_arr.reshape(1)
    elif target_arr.shape != (scores.shape[0],):
        raise ValueError(
            f"Expected input batch_size ({scores.shape[0]}) to match target batch_size "
            f"({target_arr.shape[0] if target_arr.ndim else 'a 0-d target'}); input shape "
            f"{input.shape}, target shape {target_arr.shape}"
        )
    num_classes = scores.shape[1]
    lowest, highest = (int(target_arr.min()), int(target_arr.max())) if target_arr.size else (0, 0)
    if 0 <= lowest and highest < num_classes and not lowest <= ignore_index <= highest:
        # The usual batch: every target a valid class and none ignored (two reductions
        # instead of the masks below; this runs every training step).
        ignored = None
        safe = target_arr.astype(np.intp)  # a copy: the node keeps it until the backward
    else:
        ignored = target_arr == ignore_index
        bad = (~ignored) & ((target_arr < 0) | (target_arr >= num_classes))
        if bad.any():
            raise IndexError(f"Target {int(target_arr[bad][0])} is out of bounds for {num_classes} classes.")
        safe = np.where(ignored, 0, target_arr).astype(np.intp)
    if weight is not None:
        w = weight.arr if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (num_classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {num_classes} classes or no classes but got weight tensor of shape: {w.shape}")
        sample_weight = w[safe].astype(scores.dtype)
    else:
        sample_weight = np.ones(safe.shape, dtype=scores.dtype)
    if ignored is not None:
        if not ignored.any():
            ignored = None
        else:
            sample_weight[ignored] = 0
    return scores, safe, sample_weight, ignored, single


def _picked_losses(values, safe, sample_weight, ignored):
    """-w_i * values[i, t_i]; ignored rows are skipped, as PyTorch does: 0, even where their
    values are not finite (a masked -inf logit would otherwise make the sum NaN)."""
    picked = values[np.arange(values.shape[0]), safe]
    if ignored is not None:
        picked[ignored] = 0  # (a copy: fancy indexing)
    return -picked * sample_weight


def _reduce(losses, sample_weight, reduction, single):
    if reduction == "none":
        return losses[0] if single else losses
    total = losses.sum(dtype=losses.dtype)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / sample_weight.sum(dtype=losses.dtype)


def _reduction_factor(grad_output, sample_weight, reduction):
    """d loss / d loss_i for each sample (loss_i before its weight is applied)."""
    if reduction == "none":
        return grad_output.reshape(-1)
    if reduction == "sum":
        return backend.broadcast_to(grad_output, sample_weight.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return backend.broadcast_to(grad_output / sample_weight.sum(dtype=sample_weight.dtype),
                                    sample_weight.shape)


def _per_sample_factor(grad_output, sample_weight, reduction):
    """d loss / d loss_i for each sample, times its weight."""
    with np.errstate(invalid="ignore"):
        return sample_weight * _reduction_factor(grad_output, sample_weight, reduction)


class _ClassTargetGradFn(GradFn):
    """What the class-index losses' backwards share: they save the targets, per-sample
    weights and ignored rows (in that order, first), and keep the reduction."""

    fresh_grads = True

    def __init__(self, input, safe_target, sample_weight, ignored, reduction):
        super().__init__(input)
        self.in_shape = input.arr.shape
        self.save_for_backward(safe_target, sample_weight, ignored)
        self.reduction = reduction


class CrossEntropyGradFn(_ClassTargetGradFn):
    """d/dx of -w_i log softmax(x_i)[t_i] is w_i (softmax(x_i) - onehot(t_i)); with label
    smoothing e over C classes, loss_i = (1 - e) nll_i + (e / C) sum_c -w_c log p_ic, which
    adds (e / C) (sum(w) p_i - w)."""

    def __init__(self, input, log_probs, safe_target, sample_weight, ignored, reduction,
                 smoothing=0.0, class_weight=None, plain=False):
        super().__init__(input, safe_target, sample_weight, ignored, reduction)
        self.save_for_backward(derived(log_probs, _log_probs, input), class_weight)
        self.smoothing = smoothing
        self.plain = plain  # no class weights, nothing ignored, no smoothing: one kernel each way

    def backward(self, grad_output):
        target, sample_weight, ignored, log_probs, class_weight = self.saved_tensors
        if self.plain and isinstance(log_probs, np.ndarray):
            scale = grad_output
            if self.reduction == "mean":
                with np.errstate(invalid="ignore", divide="ignore"):
                    scale = grad_output / sample_weight.sum(dtype=sample_weight.dtype)
            grad = np.empty(log_probs.shape, dtype=log_probs.dtype)
            softmax_minus_onehot(log_probs, target, log_probs.dtype.type(scale), grad)
            return (grad.reshape(self.in_shape),)
        probs = backend.exp(log_probs)
        rows = np.arange(probs.shape[0])
        onehot = np.zeros(probs.shape, dtype=probs.dtype)
        onehot[rows, target] = 1
        grad = (probs - onehot) * ((1 - self.smoothing) * sample_weight)[:, None]
        if self.smoothing:
            classes = probs.shape[1]
            w = class_weight
            total = classes if w is None else w.sum()
            grad = grad + (self.smoothing / classes) * (total * probs - (1 if w is None else w))
        with np.errstate(invalid="ignore"):
            grad = grad * _reduction_factor(grad_output, sample_weight, self.reduction)[:, None]
        if ignored is not None:
            # skipped rows get no gradient, whatever their logits
            grad = backend.where(ignored[:, None], 0, grad)
        return (grad.reshape(self.in_shape),)


def _cross_entropy_plain(input, scores, safe, sample_weight, reduction):
    """cross_entropy for the usual batch (no class weights, nothing ignored, no smoothing,
    'mean' or 'sum'), log-softmax and the picked NLL in one kernel (``kernels/softmax.py``)."""
    log_probs = np.empty(scores.shape, dtype=scores.dtype)
    total = log_softmax_nll(np.ascontiguousarray(scores), safe, log_probs)
    if reduction == "mean":
        total /= scores.shape[0]
    out = np.asarray(total, dtype=scores.dtype)
    fn = None
    if needs_grad(input):
        fn = CrossEntropyGradFn(input, log_probs, safe, sample_weight, None, reduction,
                                plain=True)
    return Tensor._wrap(out, fn)


def _log_probs(input):
    """log_softmax of the logits as (N, C): what cross_entropy's backward differentiates through
    (a create_graph backward recomputes it from the input)."""
    from fastgrad.ops.softmax import log_softmax

    return log_softmax(input.reshape(-1, input.shape[-1]), 1)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Logits ``input`` (N, C), (C,) or (N, C, d1, ..., dk) against ``target``, as PyTorch:

    - class indices (int): target (N,), () or (N, d1, ..., dk); ``weight`` (C,) weighs each
      sample by its class, ``ignore_index`` skips samples, 'mean' divides by the summed
      weights of the samples kept;
    - class probabilities (float, the shape of ``input``): loss_i = -sum_c w_c t_ic log p_ic,
      'mean' divides by the number of samples N * d1 * ... * dk (not by the weights).

    Stable for any logits (log-softmax is shifted by the max). ``label_smoothing`` e mixes the
    target with the uniform distribution: (1 - e) t + e / C for probabilities; for indices
    (1 - e) of the NLL plus e / C of the (weighted) sum of -log p over the classes.
    ``size_average`` / ``reduce`` are PyTorch's deprecated spellings of ``reduction``.
    """
    input = as_tensor(input)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if _shape_of(target) == input.shape and input.ndim >= 1:
        return _cross_entropy_probabilities(input, as_tensor(target), weight, reduction,
                                            label_smoothing)
    if input.ndim > 2 or (input.ndim == 2 and input.shape[0] == 0 and reduction == "mean"):
        return _over_positions(cross_entropy, input, target, reduction, weight=weight,
                               ignore_index=ignore_index, label_smoothing=label_smoothing)
    scores, safe, sample_weight, ignored, single = _class_targets(input, target, weight,
                                                                   ignore_index)
    if scores.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy expects float logits, got dtype {scores.dtype}")
    if (weight is None and ignored is None and not label_smoothing and reduction != "none"
            and scores.dtype in (np.float32, np.float64) and scores.shape[1]):
        return _cross_entropy_plain(input, scores, safe, sample_weight, reduction)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = _picked_losses(log_probs, safe, sample_weight, ignored)
    class_weight = None
    if label_smoothing:
        if weight is not None:
            w = weight.arr if isinstance(weight, Tensor) else np.asarray(weight)
            class_weight = w.astype(scores.dtype)
        with np.errstate(invalid="ignore"):
            smooth = -(log_probs if class_weight is None else log_probs * class_weight).sum(axis=1)
        if ignored is not None:
            smooth[ignored] = 0
        losses = (1 - label_smoothing) * losses + (label_smoothing / scores.shape[1]) * smooth
    out = np.asarray(_reduce(losses, sample_weight, reduction, single))
    fn = None
    if needs_grad(input):
        fn = CrossEntropyGradFn(input, log_probs, safe, sample_weight, ignored, reduction,
                                label_smoothing, class_weight)
    return Tensor._wrap(out, fn)


class NLLGradFn(_ClassTargetGradFn):
    def backward(self, grad_output):
        target, sample_weight, ignored = self.saved_tensors
        rows = target.shape[0]
        picked = np.zeros((rows, self.in_shape[-1]), dtype=bool)
        picked[np.arange(rows), target] = True
        if ignored is not None:
            picked[ignored] = False  # skipped rows get no gradient (0 * inf when all are)
        factor = _per_sample_factor(grad_output, sample_weight, self.reduction)
        return (backend.where(picked, -factor[:, None], 0).reshape(self.in_shape),)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """input (N, C), (C,) or (N, C, d1, ..., dk) log-probabilities, target (N,), () or
    (N, d1, ..., dk) class indices -> -w_t input[i, t_i] reduced (weights as cross_entropy's)."""
    input = as_tensor(input)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input.ndim > 2 or (input.ndim == 2 and input.shape[0] == 0 and reduction == "mean"):
        return _over_positions(nll_loss, input, target, reduction, weight=weight,
                               ignore_index=ignore_index)
    scores, safe, sample_weight, ignored, single = _class_targets(input, target, weight,
                                                                   ignore_index)
    losses = _picked_losses(scores, safe, sample_weight, ignored)
    out = np.asarray(_reduce(losses, sample_weight, reduction, single))
    fn = NLLGradFn(input, safe, sample_weight, ignored, reduction) if needs_grad(input) else None
    return Tensor._wrap(out, fn)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2 reduced; shapes broadcast. ``weight`` (the input's shape) multiplies
    each element's loss, 'mean' then divides by sum(weight), as PyTorch's."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target, "mse_loss")
    diff = input - target
    return _weighted(diff * diff, weight, input.shape, reduction, mean_by_weight=True)


# --------------------------------------------------------------- cross_entropy, other forms
def _over_positions(loss, input, target, reduction, **options):
    """``loss`` on (N, C, d1, ..., dk) input and (N, d1, ..., dk) class indices: the (N, C)
    form over the N * d1 * ... * dk positions, with the class axis moved last; 'none' gives
    the (N, d1, ..., dk) losses back. Also takes an empty (0, C) batch, whose 'mean' is nan
    with derivatives free of 0 / 0."""
    target = as_tensor(target)
    positions = (input.shape[0],) + input.shape[2:]
    if target.shape != positions:
        if target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
        raise RuntimeError(f"Expected target size {list(positions)}, got {list(target.shape)}")
    classes_last = (0,) + tuple(range(2, input.ndim)) + (1,)
    flat = input.permute(classes_last).reshape(-1, input.shape[1])
    if reduction == "mean" and flat.shape[0] == 0:
        return _mean_of_sum(loss(flat, target.reshape(-1), reduction="sum", **options), 0)
    losses = loss(flat, target.reshape(-1), reduction=reduction, **options)
    return losses.reshape(positions) if reduction == "none" else losses


def _class_weight_axis(weight, num_classes, ndim, dtype, name="cross_entropy"):
    """``weight`` (C,) as a constant array of ``dtype`` shaped to multiply along the class
    axis (axis 1, or 0 for an unbatched (C,) input)."""
    weight = as_tensor(weight).arr.astype(dtype)
    if weight.shape != (num_classes,):
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {num_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    return weight.reshape((num_classes,) + (1,) * (ndim - 2)) if ndim >= 2 else weight


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """loss = -sum_c w_c t_c log softmax(input)_c over the class axis (PyTorch's composite:
    differentiable in ``input`` and ``target`` to any order)."""
    from fastgrad.ops.softmax import log_softmax

    if not np.issubdtype(target.dtype, np.floating):
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {target.dtype}")
    class_axis = 0 if input.ndim == 1 else 1
    num_classes = input.shape[class_axis]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    terms = log_softmax(input, class_axis) * target
    if weight is not None:
        terms = terms * _class_weight_axis(weight, num_classes, input.ndim, input.dtype)
    losses = -terms.sum(class_axis)
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return _mean_of_sum(total, input.numel() // num_classes if num_classes else 0)


# ------------------------------------------------------------------------- binary targets
def _check_same_size(input, target, message):
    if target.shape != input.shape:
        raise ValueError(message.format(target=tuple(target.shape), input=tuple(input.shape)))



def _clamp_min(x, low):
    """max(x, low) for ndarrays and Tensors (the gradient passes where x > low)."""
    return x.clamp(min=low) if isinstance(x, Tensor) else np.maximum(x, low)


def _softplus(x):
    """log(1 + exp(x)) without overflow, for ndarrays and Tensors."""
    return _clamp_min(x, 0.0) + backend.log(1 + backend.exp(-abs(x)))


class BinaryCrossEntropyGradFn(GradFn):
    """loss = -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100)).

    d/dx = w (x - t) / max(x (1 - x), 1e-12): PyTorch's gradient, finite at x = 0 and 1 where
    the clamped log has none; d/dt = w (log(1 - x) - log x), unclamped, as PyTorch's.
    """

    fresh_grads = True

    def __init__(self, input, target, weight, reduction):
        super().__init__(input, target)
        self.save_for_backward(input, target, weight)
        self.reduction = reduction
        self.shape = input.shape

    def backward(self, grad_output):
        x, t, w = self.saved_tensors
        g = _elementwise_factor(grad_output, self.shape, self.reduction)
        if w is not None:
            g = g * w
        need_x, need_t = self.needs_input_grad
        grad_x = grad_t = None
        if need_x:
            grad_x = g * (x - t) / _clamp_min(x * (1 - x), 1e-12)
        if need_t:
            # PyTorch's target gradient takes the logs unclamped (infinite at x = 0 and 1)
            grad_t = g * (backend.log(1 - x) - backend.log(x))
        return grad_x, grad_t


def _elementwise_factor(grad_output, shape, reduction):
    """d loss / d loss_i for each element of ``shape`` under an unweighted reduction."""
    if reduction == "none":
        return grad_output
    if reduction == "mean":
        count = int(np.prod(shape))
        grad_output = grad_output / count if count else grad_output
    return backend.broadcast_to(grad_output, shape)


def _reduce_array(losses, reduction):
    if reduction == "none":
        return losses
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(losses.sum(dtype=losses.dtype) if reduction == "sum"
                          else losses.mean(dtype=losses.dtype) if losses.size
                          else np.array(np.nan, losses.dtype))


def _weight_for(weight, shape, dtype):
    """``weight`` broadcast to ``shape`` as an array of ``dtype`` (a constant of the loss,
    as in PyTorch, which gives it no gradient)."""
    if weight is None:
        return None
    w = weight.arr if isinstance(weight, Tensor) else np.asarray(weight)
    try:
        return np.broadcast_to(w, shape).astype(dtype)
    except ValueError:
        raise RuntimeError(f"The size of weight {tuple(w.shape)} must be broadcastable to the "
                           f"input size {tuple(shape)}") from None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Probabilities ``input`` in [0, 1] against ``target`` of the same shape:
    -w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch (so x = 0 or 1
    gives a finite loss). ``weight`` broadcasts to the input; 'mean' divides by the number of
    elements."""
    input, target = as_tensor(input), as_tensor(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "Using a target size {target} that is different to the "
                     "input size {input} is deprecated. Please ensure they have the same size.")
    x, t = input.arr, target.arr
    if x.dtype.kind != "f":
        raise RuntimeError(f"binary_cross_entropy expects a float input, got dtype {x.dtype}")
    if ((x < 0) | (x > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = _weight_for(weight, x.shape, x.dtype)
    with np.errstate(divide="ignore"):
        losses = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))
    losses = losses.astype(x.dtype, copy=False)
    if w is not None:
        losses = losses * w
    out = _reduce_array(losses, reduction)
    fn = None
    if needs_grad(input, target):
        fn = BinaryCrossEntropyGradFn(input, target, w, reduction)
    return Tensor._wrap(out, fn)


class BinaryCrossEntropyWithLogitsGradFn(GradFn):
    """loss = w ((1 - t) x + l softplus(-x)) with l = 1 + (pos_weight - 1) t.

    d/dx = w ((1 - t) - l sigmoid(-x)); d/dt = w (-x + (pos_weight - 1) softplus(-x)).
    """

    fresh_grads = True

    def __init__(self, input, target, weight, pos_weight, reduction):
        super().__init__(input, target)
        self.save_for_backward(input, target, weight, pos_weight)
        self.reduction = reduction
        self.shape = input.shape

    def backward(self, grad_output):
        x, t, w, pos_weight = self.saved_tensors
        g = _elementwise_factor(grad_output, self.shape, self.reduction)
        if w is not None:
            g = g * w
        need_x, need_t = self.needs_input_grad
        grad_x = grad_t = None
        if need_x:
            log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
            grad_x = g * ((1 - t) - log_weight * backend.sigmoid(-x))
        if need_t:
            grad_t = -x if pos_weight is None else -x + (pos_weight - 1) * _softplus(-x)
            grad_t = g * grad_t
        return grad_x, grad_t


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """sigmoid and binary cross-entropy in one stable node: logits ``input``, ``target`` of
    its shape, w ((1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))), with the softplus
    computed as max(-x, 0) + log1p(exp(-|x|)) so no logit overflows. ``pos_weight``
    broadcasts against the input (usually (C,), one per class), ``weight`` too."""
    input, target = as_tensor(input), as_tensor(target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "Target size {target} must be the same as input size "
                     "{input}")
    x, t = input.arr, target.arr
    if x.dtype.kind != "f":
        raise RuntimeError(f"binary_cross_entropy_with_logits expects a float input, got dtype "
                           f"{x.dtype}")
    w = _weight_for(weight, x.shape, x.dtype)
    pw = _weight_for(pos_weight, x.shape, x.dtype)
    softplus = np.logaddexp(0, -x)
    if pw is None:
        losses = (1 - t) * x + softplus
    else:
        losses = (1 - t) * x + (1 + (pw - 1) * t) * softplus
    losses = losses.astype(x.dtype, copy=False)
    if w is not None:
        losses = losses * w
    out = _reduce_array(losses, reduction)
    fn = None
    if needs_grad(input, target):
        fn = BinaryCrossEntropyWithLogitsGradFn(input, target, w, pw, reduction)
    return Tensor._wrap(out, fn)


# ----------------------------------------------------------------------- regression losses
def _broadcast_pair(input, target, name):
    """``input`` and ``target`` as Tensors, with PyTorch's warning when their shapes differ
    (they broadcast, which is rarely what a loss means)."""
    input, target = as_tensor(input), as_tensor(target)
    if input.shape != target.shape:
        warnings.warn(f"{name}: using a target size {tuple(target.shape)} that is different "
                      f"to the input size {tuple(input.shape)}. This will likely lead to "
                      "incorrect results due to broadcasting. Please ensure they have the same "
                      "size.", UserWarning, stacklevel=3)
    return input, target


def _weighted(losses, weight, input_shape, reduction, mean_by_weight):
    """PyTorch's elementwise ``weight`` (of the input's shape) on regression losses: 'mean' is
    sum(w l) / sum(w) for l1_loss and mean(w l) for huber_loss."""
    if weight is None:
        return _reduced(losses, reduction)
    weight = as_tensor(weight)
    if weight.shape != tuple(input_shape):
        raise ValueError("Weights and input must have the same size.")
    losses = losses * weight
    if reduction == "mean" and mean_by_weight:
        return losses.sum() / weight.sum()
    return _reduced(losses, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target| reduced; shapes broadcast (with a warning, as PyTorch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target, "l1_loss")
    return _weighted(abs(input - target), weight, input.shape, reduction, mean_by_weight=True)


def _smooth_l1(input, target, beta):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    from fastgrad.ops.select import where

    diff = input - target
    size = abs(diff)
    return where(backend.value(size) < beta, 0.5 * diff * diff / beta, size - 0.5 * beta)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """The l1 loss with its kink at 0 rounded into a parabola of width ``beta``; beta = 0 is
    the l1 loss (PyTorch's rule: no division by zero)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    input, target = _broadcast_pair(input, target, "smooth_l1_loss")
    if beta == 0:
        return _reduced(abs(input - target), reduction)
    return _reduced(_smooth_l1(input, target, beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): ``delta`` * smooth_l1 with
    beta = delta. ``weight`` (the input's shape) multiplies each element's loss."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input, target = _broadcast_pair(input, target, "huber_loss")
    losses = delta * _smooth_l1(input, target, delta)
    return _weighted(losses, weight, input.shape, reduction, mean_by_weight=False)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || q) with ``input`` = log q, pointwise target (log target - input), 0 where
    target is 0 (PyTorch's xlogy); ``log_target=True`` takes target as log-probabilities.

    'batchmean' divides the sum by input.shape[0] (the KL divergence per sample); 'mean'
    divides by the number of elements, as PyTorch (which warns that it is not the KL).
    """
    from fastgrad.ops.select import where

    reduction = _legacy_reduction(size_average, reduce, reduction,
                                  allowed=("mean", "batchmean", "sum", "none"))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    input, target = as_tensor(input), as_tensor(target)
    if log_target:
        pointwise = backend.exp(target) * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0; its target gradient there is nan, as PyTorch's
        with np.errstate(invalid="ignore", divide="ignore"):
            entropy = where(backend.value(target) == 0, 0.0, target * backend.log(target))
        pointwise = entropy - target * input
    if reduction != "batchmean":
        return _reduced(pointwise, reduction)
    total = pointwise.sum()
    return total if input.ndim == 0 else _mean_of_sum(total, input.shape[0])
