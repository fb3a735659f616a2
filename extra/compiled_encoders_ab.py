"""Row encoders in Python against the compiled ones, interleaved in one process in blocks of 20
steps: python extra/compiled_encoders_ab.py cnn|mlp [BLOCKS] (docs/performance.md, "Hand-offs in
two calls"). The old encoders are chunk_programs.py of a copy of the tree before b747257 in
/tmp/treeA (git worktree or cp), loaded beside this one as fastgrad.kernels.old_chunk_programs."""
import sys, time, importlib.util, numpy as np
sys.path.insert(0, 'benchmarks')
import cases
from interleaved_ab import interleaved_ab
from fastgrad.kernels import chunk_programs as new
spec = importlib.util.spec_from_file_location("fastgrad.kernels.old_chunk_programs", "/tmp/treeA/fastgrad/kernels/chunk_programs.py")
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
names = [n for n in dir(new) if n.startswith('encode_')]
newf = {n: getattr(new, n) for n in names}; oldf = {n: getattr(old, n) for n in names}
def use(fs):
    for n, f in fs.items(): setattr(new, n, f)
run = cases.train_step_case(sys.argv[1], 'im2col')
interleaved_ab(run, lambda: use(oldf), lambda: use(newf),
               int(sys.argv[2]) if len(sys.argv) > 2 else 60, label=sys.argv[1])
