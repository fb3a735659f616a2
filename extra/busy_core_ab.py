"""CNN step of two source trees with and without a process spinning on one core, alternating:
python extra/busy_core_ab.py TREE_A TREE_B (see docs/performance.md, "A helper that has not started")."""
import subprocess, sys, json, os, time
CHILD = r'''
import sys, time, json
sys.path.insert(0, sys.argv[1] + "/benchmarks"); sys.path.insert(0, sys.argv[1])
import cases
from timing import median_seconds
print(json.dumps(median_seconds(cases.train_step_case("cnn", "im2col"), 150)))
'''
def run(tree):
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, "-c", CHILD, tree], env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) * 1e3
print("load", os.getloadavg())
for hog in (False, True):
    h = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if hog else None
    time.sleep(0.3)
    for rep in range(3):
        res = {t: run(t) for t in (sys.argv[1:] if rep % 2 == 0 else sys.argv[:0:-1])}
        print("hog" if hog else "no hog", {k.split('/')[-1]: round(v, 2) for k, v in res.items()}, flush=True)
    if h: h.kill()
print("load", os.getloadavg())
