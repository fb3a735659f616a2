"""The hand-off of run_compiled_chunks before (a dozen Python steps around the rows) and after
(two compiled calls, handoff.post_rows / run_and_collect), interleaved in one process in blocks
of 20 steps, so that the host's slow and fast periods fall on both alike:
python extra/handoff_two_calls_ab.py cnn|mlp [BLOCKS] (docs/performance.md, "Hand-offs in two calls")."""
import sys, time, numpy as np
sys.path.insert(0,'benchmarks')
import cases
from interleaved_ab import interleaved_ab
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
interleaved_ab(run, lambda: use(old_rcc), lambda: use(new_rcc),
               int(sys.argv[2]) if len(sys.argv) > 2 else 60, label=sys.argv[1])
