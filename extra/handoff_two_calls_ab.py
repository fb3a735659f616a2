"""The hand-off of run_compiled_chunks before (a dozen Python steps around the rows) and after
(two compiled calls, handoff.post_rows / run_and_collect), interleaved in one process in blocks
of 20 steps, so that the host's slow and fast periods fall on both alike:
python extra/handoff_two_calls_ab.py cnn|mlp [BLOCKS] (docs/performance.md, "Hand-offs in two calls")."""
import sys, time, numpy as np
sys.path.insert(0,'benchmarks')
import cases
from fastgrad.kernels import threads, handoff
from fastgrad.kernels.threads import _helpers, blas_limit, run_row, STATE, _local
import fastgrad.ops.conv as conv, fastgrad.ops.gemm as gemm, fastgrad.ops.pooling as pooling, fastgrad.optim.sgd as sgd
def old_rcc(chunk_rows):
    parts = chunk_rows.shape[0]
    if getattr(_local, "in_chunk", False) or parts <= 1 or not threads._run_lock.acquire(blocking=False):
        with blas_limit(1):
            for row in chunk_rows: run_row(row)
        return
    try:
        workers = _helpers(parts - 1); count = parts - 1
        with blas_limit(1):
            rows = workers.rows
            rows[:count, 1:] = chunk_rows[1:, 1:]
            workers.post(count)
            run_row(chunk_rows[0])
            mine = handoff.claim_unstarted(rows, count)
            for i in range(count):
                if mine >> i & 1:
                    run_row(rows[i]); rows[i, STATE] = handoff.DONE
            handoff.wait_finished(rows, count)
            failed = any(rows[i, STATE] == handoff.FAILED for i in range(count))
            rows[:count, STATE] = handoff.FREE
        if failed: raise RuntimeError
    finally:
        threads._run_lock.release()
new_rcc = threads.run_compiled_chunks
def use(f):
    for mod in (conv, gemm, pooling, sgd): mod.run_compiled_chunks = f
run = cases.train_step_case(sys.argv[1], 'im2col')
for _ in range(100): run()
res = {'old': [], 'new': []}
pc = time.perf_counter
for block in range(int(sys.argv[2]) if len(sys.argv) > 2 else 60):
    for name, f in (('old', old_rcc), ('new', new_rcc)) if block % 2 == 0 else (('new', new_rcc), ('old', old_rcc)):
        use(f)
        for _ in range(5): run()
        ts = []
        for _ in range(20):
            t = pc(); run(); ts.append(pc() - t)
        res[name].append(np.median(ts))
o, n = np.array(res['old']), np.array(res['new'])
r = o / n
print(f"{sys.argv[1]}: old {np.median(o)*1e3:.3f} ms new {np.median(n)*1e3:.3f} ms; per-block ratio old/new median {np.median(r):.3f} IQR {np.percentile(r,25):.3f}-{np.percentile(r,75):.3f}")
