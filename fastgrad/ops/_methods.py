"""How an op becomes a Tensor method: each op module attaches its own methods and operators
when it is imported, so adding an op touches one file and the autograd core imports no op."""
from fastgrad.autograd.tensor import Tensor

# The out-of-place method names registered so far (no dunders, no in-place ``fill_``): each
# is also a function of ``fastgrad.ops``.
METHOD_NAMES = []


def tensor_method(*names, reflected=None):
    """Decorator: make the op also the Tensor attributes ``names`` (its own name when none is
    given); a dunder name makes it an operator (``"__add__"``). ``reflected`` names the
    reflected operator (``"__rsub__"``: ``2 - x`` is ``op(2, x)``, the same node).

    The op is stored as a plain function, so ``x.exp()`` calls ``exp(x)``: one implementation.
    The op itself is returned unchanged.
    """

    def register(op):
        for name in names or (op.__name__,):
            setattr(Tensor, name, op)
            if not name.startswith("__") and not name.endswith("_"):
                METHOD_NAMES.append(name)
        if reflected is not None:
            def swapped(self, other):
                return op(other, self)

            swapped.__name__ = reflected
            setattr(Tensor, reflected, swapped)
        return op

    return register
