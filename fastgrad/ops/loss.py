"""Classification losses on class-index targets: cross_entropy (log-softmax and NLL fused into
one node) and nll_loss; mse_loss is composed of differentiable ops.

For both, sample i gets weight w_i = weight[target_i] (1 without ``weight``; 0 when
target_i == ignore_index). 'mean' divides by sum_i w_i, as PyTorch does.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, derived, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._operands import as_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {_REDUCTIONS}")


def _class_targets(input, target, weight, ignore_index):
    """Validate shapes; return (scores 2-D, safe targets, per-sample weights, ignored rows
    (a mask, or None when none is), squeeze?)."""
    scores = input.arr
    target_arr = target.arr if isinstance(target, Tensor) else np.asarray(target)
    if target_arr.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected target of integer class indices (int64), got dtype {target_arr.dtype}; "
            "probability targets are not supported"
        )
    if scores.ndim not in (1, 2):
        raise ValueError(f"expected input of shape (N, C) or (C,) (K-dimensional inputs are not "
                         f"supported), got {input.shape}")
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
                 smoothing=0.0, class_weight=None):
        super().__init__(input, safe_target, sample_weight, ignored, reduction)
        self.save_for_backward(derived(log_probs, _log_probs, input), class_weight)
        self.smoothing = smoothing

    def backward(self, grad_output):
        target, sample_weight, ignored, log_probs, class_weight = self.saved_tensors
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


def _log_probs(input):
    """log_softmax of the logits as (N, C): what cross_entropy's backward differentiates through
    (a create_graph backward recomputes it from the input)."""
    from fastgrad.ops.softmax import log_softmax

    return log_softmax(input.reshape(-1, input.shape[-1]), 1)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """input (N, C) logits or (C,), target (N,) int class indices or () -> loss.

    Stable for any logits (log-softmax is shifted by the row max). ``label_smoothing`` e
    mixes the target with the uniform distribution, as PyTorch: (1 - e) of the NLL plus e / C
    of the (weighted) sum of -log p over the classes, reduced with the same weights.
    """
    input = as_tensor(input)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    scores, safe, sample_weight, ignored, single = _class_targets(input, target, weight,
                                                                   ignore_index)
    if scores.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy expects float logits, got dtype {scores.dtype}")
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


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """input (N, C) log-probabilities, target (N,) class indices -> -input[i, t_i] reduced."""
    input = as_tensor(input)
    _check_reduction(reduction)
    scores, safe, sample_weight, ignored, single = _class_targets(input, target, weight,
                                                                   ignore_index)
    losses = _picked_losses(scores, safe, sample_weight, ignored)
    out = np.asarray(_reduce(losses, sample_weight, reduction, single))
    fn = NLLGradFn(input, safe, sample_weight, ignored, reduction) if needs_grad(input) else None
    return Tensor._wrap(out, fn)


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or none) of the squared differences; shapes broadcast."""
    from fastgrad.ops.reduction import mean, sum

    _check_reduction(reduction)
    input = as_tensor(input)
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return mean(squared) if reduction == "mean" else sum(squared)
