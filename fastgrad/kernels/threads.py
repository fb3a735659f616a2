"""Threading policy (placeholder until measured)."""


def describe():
    return {}
