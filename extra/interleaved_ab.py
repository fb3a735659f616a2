"""Old against new code in one process: blocks of 20 timed steps, the order swapped every block,
so that the host's slow and fast periods fall on both alike (docs/performance.md, "Hand-offs in
two calls"). Used by extra/handoff_two_calls_ab.py and extra/compiled_encoders_ab.py."""
import time

import numpy as np


def interleaved_ab(run, use_old, use_new, blocks=60, steps=20, label=""):
    """Time ``run()`` with ``use_old()`` / ``use_new()`` in force, alternating; print the medians
    and the per-block old / new ratio (median, interquartile range); return the ratios."""
    for _ in range(100):
        run()
    res = {"old": [], "new": []}
    pc = time.perf_counter
    for block in range(blocks):
        order = (("old", use_old), ("new", use_new))
        for name, use in order if block % 2 == 0 else order[::-1]:
            use()
            for _ in range(5):
                run()
            ts = []
            for _ in range(steps):
                t = pc(); run(); ts.append(pc() - t)
            res[name].append(np.median(ts))
    o, n = np.array(res["old"]), np.array(res["new"])
    r = o / n
    print(f"{label}: old {np.median(o)*1e3:.3f} ms new {np.median(n)*1e3:.3f} ms; per-block ratio "
          f"old/new median {np.median(r):.3f} IQR {np.percentile(r, 25):.3f}-{np.percentile(r, 75):.3f}")
    return r
