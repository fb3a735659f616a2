"""Adam and AdamW (Adam with decoupled weight decay)."""
import math

import numpy as np

from fastgrad.optim.optimizer import Optimizer, _float_hyper, _implementation_options, _lerp_


def _check_adam_args(lr, betas, eps, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), with PyTorch's update rule.

    For each parameter ``p`` with gradient ``grad``; ``t`` counts this parameter's steps::

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p          (L2 penalty, coupled)
        m = beta1 * m + (1 - beta1) * g                          (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g * g
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        if amsgrad:  v_max = max(v_max, v);  v_hat = v_max  else  v_hat = v
        denom = sqrt(v_hat) / sqrt(bias_correction2) + eps
        p = p - lr / bias_correction1 * m / denom

    State per parameter: ``'step'`` (int), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v) and, with
    amsgrad, ``'max_exp_avg_sq'``; arrays in the parameter's dtype.
    """

    _decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        **_implementation_options(foreach, differentiable, fused=fused,
                                                 capturable=capturable),
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            self._refuse_capturable(group)
            lr = _float_hyper(group["lr"])
            beta1, beta2 = (_float_hyper(b) for b in group["betas"])
            eps = _float_hyper(group["eps"])
            weight_decay = _float_hyper(group["weight_decay"])
            amsgrad = group["amsgrad"]
            for p in self._params_with_grad(group):
                g = self._grad_array(p, group["maximize"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.arr)
                    state["exp_avg_sq"] = np.zeros_like(p.arr)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(p.arr)
                state["step"] += 1
                t = state["step"]

                if weight_decay != 0:
                    if group.get("decoupled_weight_decay", self._decoupled_weight_decay):
                        # AdamW: shrink p directly, before (and apart from) the Adam step.
                        p.arr *= 1.0 - lr * weight_decay
                    else:
                        g = g + weight_decay * p.arr

                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                # m's moving average is a lerp in PyTorch (same value, its rounding).
                _lerp_(exp_avg, g, 1.0 - beta1)
                exp_avg_sq *= beta2
                exp_avg_sq += (1.0 - beta2) * (g * g)

                bias_correction1 = 1.0 - beta1 ** t
                bias_correction2 = 1.0 - beta2 ** t
                step_size = lr / bias_correction1
                bias_correction2_sqrt = math.sqrt(bias_correction2)
                if amsgrad:
                    max_sq = state.get("max_exp_avg_sq")
                    if max_sq is None:
                        # amsgrad switched on (e.g. by load_state_dict) after the first step.
                        max_sq = state["max_exp_avg_sq"] = np.zeros_like(p.arr)
                    np.maximum(max_sq, exp_avg_sq, out=max_sq)
                    v_hat = max_sq
                else:
                    v_hat = exp_avg_sq
                denom = np.sqrt(v_hat) / bias_correction2_sqrt + eps
                self._apply_update(p, exp_avg / denom, -step_size)
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as PyTorch's.

    Each step first shrinks the parameter, ``p = p * (1 - lr * weight_decay)``, then applies
    the Adam update of :class:`Adam` (with ``weight_decay`` not added to the gradient)::

        g = -grad if maximize else grad
        p = p * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_max, v) if amsgrad else v
        p = p - lr / (1 - beta1 ** t) * m / (sqrt(v_hat) / sqrt(1 - beta2 ** t) + eps)

    Defaults as PyTorch: ``weight_decay=1e-2``.
    """

    _decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
