"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and (de)serialisation.

Subclasses implement ``step``. Every update works on the ndarrays directly (``p.arr``,
``p.grad.arr``), so no graph is ever recorded, and writes into ``p.arr`` in place, so views
and references of a parameter's array keep seeing its current value.
"""
import copy
import warnings
from collections import defaultdict

import numpy as np

from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.autograd.tensor import Tensor


def _type_name(obj):
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _float_hyper(value):
    """A hyper-parameter as a Python float.

    A Python float multiplies a float32 array in float32 (NumPy's weak scalar rule), whereas a
    ``np.float64`` scalar (e.g. a learning rate read from an array) would promote the whole
    update, and any state array built from it, to float64.
    """
    return float(value)


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of Tensors (a list, a generator, a set), of (name, Tensor) pairs
    (``model.named_parameters()``: the names are kept as the group's ``'param_names'``), or of
    dicts each holding ``'params'`` (such an iterable, but not a set) and any per-group
    hyper-parameters; ``defaults`` fills the options a group does not set. Attributes:
    ``param_groups`` (list of dicts), ``state`` (dict keyed by the parameter object, one dict
    of state per parameter) and ``defaults``.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {_type_name(params)}"
            )
        # Any iterable, a generator or (as PyTorch 2.13 allows at this level) a set; a set
        # inside a param group dict is refused below, as PyTorch does.
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------------- groups
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``'params'`` and optional hyper-parameters).

        Options the group leaves out take the optimizer's defaults. A parameter may belong to
        only one group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_type_name(param_group)}")
        param_group = dict(param_group)  # the caller's dict is left as it was given
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        named = [p for p in params if isinstance(p, tuple)]
        if named:
            # ``model.named_parameters()``: the names go to the group's 'param_names', as PyTorch
            if len(named) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = [name for name, _ in named]
            params = [p for _, p in named]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_type_name(p)}"
                )
            if not p.is_leaf:
                # Writing into a computed tensor would not change the leaves it came from.
                raise ValueError("can't optimize a non-leaf Tensor")
        if len(params) == 0:
            raise ValueError("optimizer got an empty parameter list")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)

        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            # As PyTorch: a warning, not an error; such a parameter is updated twice per step.
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error",
                stacklevel=3,
            )
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters.

        ``set_to_none=True`` sets ``p.grad = None`` (the next backward then allocates a fresh
        gradient, and ``step`` skips parameters that got none). ``False`` keeps each ``.grad``
        Tensor but gives it a new zero array: the old array is left alone because something
        else (a caller, a saved copy) may still hold a reference to it.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif grad.grad_fn is not None:
                    # A gradient built with a graph: replace it by a plain leaf of zeros, as
                    # PyTorch detaches it before zeroing.
                    p.grad = Tensor._wrap(np.zeros_like(grad.arr))
                else:
                    grad.requires_grad_(False)
                    grad.arr = np.zeros_like(grad.arr)

    # ----------------------------------------------------------------------------- step
    def step(self, closure=None):
        """Perform one update; ``closure`` (optional) re-evaluates the loss and returns it."""
        raise NotImplementedError

    @staticmethod
    def _evaluate_closure(closure):
        if closure is None:
            return None
        # The closure usually calls backward(): it needs a graph even under no_grad.
        with enable_grad():
            return closure()

    @staticmethod
    def _grad_array(p, maximize):
        """The gradient of ``p`` as an array of p's dtype, negated when maximising.

        The result may be ``p.grad.arr`` itself: callers must not write into it.
        """
        g = p.grad.arr
        if g.dtype != p.arr.dtype:
            g = g.astype(p.arr.dtype)
        if maximize:
            g = np.negative(g)
        return g

    @staticmethod
    def _refuse_capturable(group):
        """PyTorch's error at the step of a ``capturable=True`` group on CPU tensors (its
        CUDA-graph form needs a GPU; fastgrad has only the CPU)."""
        if group.get("capturable"):
            raise AssertionError("If capturable=True, params and state_steps must be on "
                                 "supported devices: ['cuda', 'xpu', 'hpu', 'privateuseone'] "
                                 "(fastgrad runs on the CPU only)")

    @staticmethod
    def _params_with_grad(group):
        return [p for p in group["params"] if p.grad is not None]

    @staticmethod
    def _apply_update(p, update, scale):
        """``p.arr += scale * update`` in place, recorded as an in-place change of ``p``."""
        p.arr += scale * update
        p._bump_version()

    # -------------------------------------------------------------------- serialisation
    def _index_of_params(self):
        """Parameters numbered 0, 1, ... in group order: the keys state_dict() uses."""
        index = {}
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
        return index

    def state_dict(self):
        """The optimizer's state in PyTorch's format.

        ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index, ...]}]}``
        where parameters are numbered in group order. Arrays are copies, so the snapshot does
        not change as the optimizer keeps stepping.
        """
        index = self._index_of_params()
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for key, value in self.state.items():
            new_key = index[id(key)] if isinstance(key, Tensor) and id(key) in index else key
            state[new_key] = {name: _copy_state_value(v) for name, v in value.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()``: the groups' hyper-parameters and the state.

        The saved groups must match this optimizer's in number and sizes (``ValueError``
        otherwise). Saved arrays are copied; floating-point ones are cast to the dtype of
        their parameter.
        """
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = {}
        for group, saved in zip(groups, saved_groups):
            for p, saved_index in zip(group["params"], saved["params"]):
                id_map[saved_index] = p

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                # State of a parameter this optimizer does not know: kept as PyTorch does.
                state[key] = copy.deepcopy(value)
                continue
            state[param] = {
                name: _load_state_value(name, v, param) for name, v in value.items()
            }

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            new_groups.append(new_group)
        self.state = state
        self.param_groups = new_groups


_ABSENT = object()  # an option the optimizer's PyTorch signature does not have


def _implementation_options(foreach, differentiable, *, fused=_ABSENT, capturable=_ABSENT):
    """PyTorch's choices of implementation as ``defaults`` entries (those the optimizer's
    PyTorch signature has, so that ``defaults`` and the state dict's groups hold its keys).

    ``foreach``, ``fused`` and ``capturable`` pick among PyTorch kernels computing the same
    update: fastgrad has one (in place on the arrays, a whole tensor at a time), which serves
    them all. ``differentiable=True`` asks for a step recorded in the graph, which fastgrad's
    in-place array updates are not: refused rather than silently ignored.
    """
    if foreach and fused is not _ABSENT and fused:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable and fused is not _ABSENT and fused:
        raise RuntimeError("`fused` does not support `differentiable`")
    if differentiable:
        raise NotImplementedError(
            "differentiable=True is not supported: fastgrad's optimizers update the parameters' "
            "arrays in place and record no graph of the step")
    options = {"foreach": foreach, "differentiable": differentiable}
    if fused is not _ABSENT:
        options["fused"] = fused
    if capturable is not _ABSENT:
        options["capturable"] = capturable
    return options


def _copy_state_value(value):
    if isinstance(value, Tensor):
        return Tensor._wrap(value.arr.copy())
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def _load_state_value(name, value, param):
    if isinstance(value, Tensor):
        value = value.arr
    if name == "step":
        # A step count (PyTorch keeps it as a one-element float tensor): a Python int here.
        return int(np.asarray(value).item()) if isinstance(value, np.ndarray) else value
    if isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.floating):
            return value.astype(param.arr.dtype, copy=True)
        return value.copy()
    return copy.deepcopy(value)


def _lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, evaluated as ``torch.lerp_`` does.

    For ``weight >= 0.5`` PyTorch computes ``end - (end - start) * (1 - weight)``: the same
    value in exact arithmetic, rounded differently.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)
    return start
