"""``RemovableHandle``: what registering a hook returns; ``remove()`` unregisters it
(``torch.utils.hooks.RemovableHandle``)."""
import itertools
import weakref

_ids = itertools.count()


class RemovableHandle:
    """Removes one entry (``id``) from the hook dicts (``OrderedDict``s) it was made for;
    usable as a context manager that removes the hook on exit. Holds the dicts weakly, so a
    handle does not keep a module alive."""

    def __init__(self, *hooks_dicts):
        self.id = next(_ids)
        self._dicts = tuple(weakref.ref(d) for d in hooks_dicts)

    def remove(self):
        for ref in self._dicts:
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
