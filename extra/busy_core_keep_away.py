"""Would the helper take a core's share from a spinning process if it were kept off the main
thread's CPU? python extra/busy_core_keep_away.py [TREE] [REPEATS]

Copies TREE's fastgrad and benchmarks to a temporary directory and patches the copy's
kernels/threads.py (the patch is below, as text replacements): with X_PIN=1, before every
hand-off the main thread reads its CPU (sched_getcpu) and, when it has changed, pins the helpers
to every allowed CPU but that one; X_LOOKS sets the helper's idle looks before it parks
(2000 as shipped); X_SHARE gives the caller that share of a batch cut in two (0.5 as
shipped). Then runs the CNN step (200 timed steps after 30, fresh processes,
configurations alternating) quiet and beside a `while True: pass` process, and prints the step
time, the cores the process used (os.times over the timed steps) and how often it re-pinned.
docs/performance.md, "With a core busy: one core, whatever the split".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PATCH = [
    ('''        for i in range(count):
            threading.Thread(target=self._loop, args=(i,), daemon=True,
                             name=f"fastgrad-chunk-{i + 1}").start()
''', '''        self.threads = []
        for i in range(count):
            t = threading.Thread(target=self._loop, args=(i,), daemon=True,
                                 name=f"fastgrad-chunk-{i + 1}")
            t.start()
            self.threads.append(t)
        self.away_from = -1
        self.allowed = os.sched_getaffinity(0)

    def keep_away(self):
        global _repins
        if not _PIN:
            return
        cpu = _getcpu()
        if cpu != self.away_from:
            others = self.allowed - {cpu}
            if others:
                for t in self.threads:
                    os.sched_setaffinity(t.native_id, others)
            self.away_from = cpu
            _repins += 1
'''),
    ('''_SPIN_LOOKS = 2000
''', '''_SPIN_LOOKS = int(os.environ.get("X_LOOKS", "2000"))
_PIN = os.environ.get("X_PIN", "0") == "1"
_repins = 0
_getcpu = ctypes.CDLL(None).sched_getcpu
_SHARE = float(os.environ.get("X_SHARE", "0.5"))
'''),
    ('''    parts = max(min(_num_threads, n), 1)
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]''',
     '''    parts = max(min(_num_threads, n), 1)
    if parts == 2 and _SHARE != 0.5:
        cut = min(max(int(round(n * _SHARE)), 1), n - 1)
        return [(0, cut), (cut, n)]
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]'''),
    ('''        workers = _helpers(parts - 1)
        count = parts - 1
''', '''        workers = _helpers(parts - 1)
        workers.keep_away()
        count = parts - 1
'''),
    ('''        workers = _helpers(parts - 1)
        blas_get, blas_set''', '''        workers = _helpers(parts - 1)
        workers.keep_away()
        blas_get, blas_set'''),
]

CHILD = r'''
import json, os, sys
sys.path.insert(0, "benchmarks"); sys.path.insert(0, ".")
import cases
from timing import median_seconds
import fastgrad.kernels.threads as threads
run = cases.train_step_case("cnn", "im2col")
for _ in range(30):
    run()
t0 = os.times()
seconds = median_seconds(run, 200)
t1 = os.times()
cores = (t1.user + t1.system - t0.user - t0.system) / (t1.elapsed - t0.elapsed)
print(json.dumps([seconds * 1e3, cores, threads._repins]))
'''

CONFIGS = [{"X_PIN": "0"}, {"X_PIN": "1"}, {"X_PIN": "1", "X_LOOKS": "2"},
           {"X_PIN": "1", "X_LOOKS": "2", "X_SHARE": "0.67"},
           {"X_PIN": "1", "X_LOOKS": "2", "X_SHARE": "0.75"}]


def patched_copy(tree):
    work = tempfile.mkdtemp(prefix="keep_away_")
    for part in ("fastgrad", "benchmarks"):
        shutil.copytree(os.path.join(tree, part), os.path.join(work, part),
                        ignore=shutil.ignore_patterns("*.nbi", "*.nbc", "__pycache__"))
    path = os.path.join(work, "fastgrad", "kernels", "threads.py")
    source = open(path).read()
    for old, new in PATCH:
        if source.count(old) != 1:
            raise SystemExit(f"patch does not apply to {path}: {old[:60]!r}")
        source = source.replace(old, new)
    open(path, "w").write(source)
    return work


def run(work, config):
    env = dict(os.environ, PYTHONPATH=work, **config)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         cwd=work)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    tree = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = patched_copy(tree)
    run(work, CONFIGS[0])  # compiles into the copy's cache
    print("load before", os.getloadavg())
    for busy in (False, True):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        time.sleep(0.3)
        try:
            for r in range(repeats):
                for config in (CONFIGS if r % 2 == 0 else CONFIGS[::-1]):
                    ms, cores, repins = run(work, config)
                    print("busy " if busy else "quiet", config,
                          f"{ms:.2f} ms, {cores:.2f} cores, re-pinned {repins}x", flush=True)
        finally:
            if spinner:
                spinner.kill()
    print("load after", os.getloadavg())
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
