"""Loss modules, PyTorch's arguments and defaults; each calls its function in
``fastgrad.ops.loss`` (``size_average`` / ``reduce`` are PyTorch's deprecated spellings of
``reduction``, turned into it once here)."""
from fastgrad.autograd.tensor import Tensor
from fastgrad.nn.module import Module
from fastgrad.ops import loss as loss_ops


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean", allowed=None):
        super().__init__()
        options = {} if allowed is None else {"allowed": allowed}
        self.reduction = loss_ops._legacy_reduction(size_average, reduce, reduction, **options)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else Tensor(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Logits (N, C), (C,) or (N, C, d1, ...) against class indices or class probabilities:
    log-softmax and NLL in one stable node (``functional.cross_entropy``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return loss_ops.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                      reduction=self.reduction,
                                      label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """log-probabilities (N, C) or (N, C, d1, ...), class indices -> negative log-likelihood."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return loss_ops.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                                 reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Probabilities against binary (or soft) targets of the same shape, logs clamped at -100."""

    def forward(self, input, target):
        return loss_ops.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and BCE in one stable node; ``pos_weight`` weighs the positives (one per class)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else Tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else Tensor(pos_weight))

    def forward(self, input, target):
        return loss_ops.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight)


class MSELoss(_Loss):
    def forward(self, input, target):
        return loss_ops.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return loss_ops.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return loss_ops.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return loss_ops.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """``input`` log-probabilities, ``target`` probabilities (log ones with ``log_target``);
    ``reduction='batchmean'`` gives the KL divergence per sample."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction,
                         allowed=("mean", "batchmean", "sum", "none"))
        self.log_target = log_target

    def forward(self, input, target):
        return loss_ops.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
