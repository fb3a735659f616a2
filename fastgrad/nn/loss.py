"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss (PyTorch's arguments and defaults)."""
from fastgrad.autograd.tensor import Tensor
from fastgrad.nn.module import Module
from fastgrad.ops import loss as loss_ops


class _WeightedLoss(Module):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        loss_ops._check_reduction(reduction)
        self.register_buffer("weight", None if weight is None else Tensor(weight))
        self.ignore_index = ignore_index
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_WeightedLoss):
    """logits (N, C), class indices (N,) -> log-softmax + NLL in one stable node."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return loss_ops.cross_entropy(input, target, self.weight, self.ignore_index,
                                      self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """log-probabilities (N, C), class indices (N,) -> negative log-likelihood."""

    def forward(self, input, target):
        return loss_ops.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        loss_ops._check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return loss_ops.mse_loss(input, target, self.reduction)
