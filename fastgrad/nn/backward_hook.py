"""Full backward hooks: ``hook(module, grad_input, grad_output)`` in the backward of a module
call, as ``torch.nn.Module.register_full_backward_hook``.

A hooked call routes its tensor inputs and outputs through identity nodes (as PyTorch's
``BackwardHook`` does): an output node collects ``grad_output``, an input node
``grad_input``; when the last input that requires grad has its gradient, the hooks run (when
no input requires grad, they run once the output gradients are in, with ``grad_input`` all
None). ``grad_input`` has one entry per Tensor positional argument, ``grad_output`` one per
Tensor in the output; entries are None where no gradient flows.

Limits of this mechanism (fastgrad's nodes have one output each): a hook may replace
``grad_input`` only for a call with a single input that requires grad, and a call with
several such inputs reports only when every one of them receives a gradient.
"""
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor


class HookedCall:
    """The backward-hook state of one module call: the gradients reported so far."""

    def __init__(self, module, hooks, args):
        self.module = module
        self.hooks = hooks
        self.input_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.grad_inputs = [None] * len(self.input_slots)
        self.grad_outputs = []
        self.inputs_wrapped = 0
        self.outputs_wrapped = 0
        self._reset()

    def _reset(self):
        self.inputs_left = self.inputs_wrapped
        self.outputs_left = self.outputs_wrapped

    def wrap_inputs(self, args):
        """``args`` with each Tensor that requires grad replaced by an identity of it."""
        args = list(args)
        for position, slot in enumerate(self.input_slots):
            if needs_grad(args[slot]):
                args[slot] = _identity(args[slot], _InputHookFn(args[slot], self, position))
                self.inputs_wrapped += 1
        self._reset()
        return tuple(args)

    def wrap_outputs(self, result):
        """``result`` (a Tensor or a tuple/list of them) with each Tensor that requires grad
        replaced by an identity of it."""
        single = isinstance(result, Tensor)
        items = [result] if single else list(result) if isinstance(result, (tuple, list)) else []
        tensors = [i for i, item in enumerate(items) if isinstance(item, Tensor)]
        self.grad_outputs = [None] * len(tensors)
        for position, index in enumerate(tensors):
            if needs_grad(items[index]):
                items[index] = _identity(items[index], _OutputHookFn(items[index], self, position))
                self.outputs_wrapped += 1
        self._reset()
        if single:
            return items[0]
        return type(result)(items) if isinstance(result, (tuple, list)) and items else result

    def output_reported(self, position, grad):
        self.grad_outputs[position] = Tensor._wrap(grad)
        self.outputs_left -= 1
        if self.outputs_left == 0 and self.inputs_wrapped == 0:
            self._run_hooks(replaceable=False)

    def input_reported(self, position, grad):
        """The gradient to pass on for input ``position`` (a hook may replace it)."""
        self.grad_inputs[position] = Tensor._wrap(grad)
        self.inputs_left -= 1
        if self.inputs_left:
            return grad
        replaced = self._run_hooks(replaceable=self.inputs_wrapped == 1)
        new = replaced[position]
        return grad if new is None else (new.arr if isinstance(new, Tensor) else new)

    def _run_hooks(self, replaceable):
        grad_inputs, grad_outputs = tuple(self.grad_inputs), tuple(self.grad_outputs)
        for hook in list(self.hooks.values()):
            result = hook(self.module, grad_inputs, grad_outputs)
            if result is None:
                continue
            if not replaceable:
                raise RuntimeError(
                    f"backward hook {getattr(hook, '__name__', hook)!r} returned a new grad_input, "
                    f"but fastgrad can only apply one for a call with exactly one input that "
                    f"requires grad ({self.inputs_wrapped} here)")
            result = tuple(result)
            if len(result) != len(grad_inputs):
                raise RuntimeError(
                    f"backward hook returned {len(result)} gradients, expected {len(grad_inputs)}")
            grad_inputs = result
        # Ready for another backward through the same graph (retain_graph=True).
        self.grad_inputs = [None] * len(self.input_slots)
        self.grad_outputs = [None] * len(self.grad_outputs)
        self._reset()
        return grad_inputs


def _identity(x, fn):
    """A tensor with ``x``'s data and version counter, produced by ``fn``."""
    out = Tensor._wrap(x.arr, fn)
    out._version_counter = x._version_counter  # in-place writes stay visible to saved-data checks
    return out


class _OutputHookFn(GradFn):
    def __init__(self, x, call, position):
        super().__init__(x)
        self.call, self.position = call, position

    def backward(self, grad_output):
        self.call.output_reported(self.position, grad_output)
        return (grad_output,)


class _InputHookFn(GradFn):
    def __init__(self, x, call, position):
        super().__init__(x)
        self.call, self.position = call, position

    def backward(self, grad_output):
        return (self.call.input_reported(self.position, grad_output),)
