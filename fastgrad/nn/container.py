"""Containers: ``Sequential`` (applies its modules in order) and ``ModuleList``."""
import collections

from fastgrad.nn.module import Module


class _ModuleSequence(Module):
    """Indexing, length, iteration and append over the registered sub-modules, in order."""

    def _index(self, idx):
        size = len(self._modules)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {size}")
        return idx % size

    def _key(self, idx):
        return list(self._modules.keys())[self._index(idx)]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self._slice(list(self._modules.items())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        for key in (keys[idx] if isinstance(idx, slice) else [self._key(idx)]):
            del self._modules[key]
        # Renumbered "0", "1", ... afterwards, as PyTorch does, so that a later append never
        # reuses the name of a module still there.
        self._renumber(list(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index`` (PyTorch: -len <= index <= len)."""
        size = len(self)
        if not -size <= index <= size:
            raise IndexError(f"Index out of range: {index} (length {size})")
        modules = list(self._modules.values())
        modules.insert(index + size if index < 0 else index, module)
        self._renumber(modules)
        return self

    def pop(self, index=-1):
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules):
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)


class Sequential(_ModuleSequence):
    """``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict(name=module))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for idx, module in enumerate(modules):
                self.add_module(str(idx), module)

    @staticmethod
    def _slice(items):
        return Sequential(collections.OrderedDict(items))

    def __add__(self, other):
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (names "0", "1", ...)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @staticmethod
    def _slice(items):
        return ModuleList([module for _, module in items])

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward; iterate over it in your own forward")
