"""Row encoders in Python against the compiled ones, interleaved in one process in blocks of 20
steps: python extra/compiled_encoders_ab.py cnn|mlp [BLOCKS] (docs/performance.md, "Hand-offs in
two calls"). The old encoders are chunk_programs.py of a copy of the tree before b747257 in
/tmp/treeA (git worktree or cp), loaded beside this one as fastgrad.kernels.old_chunk_programs."""
import sys, time, importlib.util, numpy as np
sys.path.insert(0, 'benchmarks')
import cases
from fastgrad.kernels import chunk_programs as new
spec = importlib.util.spec_from_file_location("fastgrad.kernels.old_chunk_programs", "/tmp/treeA/fastgrad/kernels/chunk_programs.py")
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
names = [n for n in dir(new) if n.startswith('encode_')]
newf = {n: getattr(new, n) for n in names}; oldf = {n: getattr(old, n) for n in names}
def use(fs):
    for n, f in fs.items(): setattr(new, n, f)
run = cases.train_step_case(sys.argv[1], 'im2col')
for _ in range(100): run()
res = {'old': [], 'new': []}
pc = time.perf_counter
for block in range(int(sys.argv[2]) if len(sys.argv) > 2 else 60):
    for name, fs in (('old', oldf), ('new', newf)) if block % 2 == 0 else (('new', newf), ('old', oldf)):
        use(fs)
        for _ in range(5): run()
        ts = []
        for _ in range(20):
            t = pc(); run(); ts.append(pc() - t)
        res[name].append(np.median(ts))
o, n = np.array(res['old']), np.array(res['new'])
r = o / n
print(f"{sys.argv[1]}: old {np.median(o)*1e3:.3f} ms new {np.median(n)*1e3:.3f} ms; per-block ratio old/new median {np.median(r):.3f} IQR {np.percentile(r,25):.3f}-{np.percentile(r,75):.3f}")
