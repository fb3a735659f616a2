"""Where the scheduler puts fastgrad's two threads while another process spins on one core:
python extra/busy_core_placement.py [TREE] [VAR=VALUE ...] samples, every 10 ms for 2 s, the CPU
of the training step's main thread, of its helper and of the spinning process, and counts the
CPU ticks each got (docs/performance.md, "With a core busy: one core, whatever the split")."""
import sys, os, time, subprocess, collections
CHILD = r'''
import sys, time
sys.path.insert(0, "benchmarks")
import cases
run = cases.train_step_case("cnn", "im2col")
for _ in range(30): run()
print("ready", flush=True)
t = time.time()
while time.time() - t < 6: run()
'''
tree = sys.argv[1] if len(sys.argv) > 1 else "/work/main"
env = dict(os.environ, PYTHONPATH=tree, **dict(a.split("=") for a in sys.argv[2:]))
hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
ch = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=tree, stdout=subprocess.PIPE, text=True)
ch.stdout.readline(); time.sleep(0.5)
def stat(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    f = open(path).read().rsplit(")", 1)[1].split()
    return f[0], int(f[36]), int(f[11]) + int(f[12])  # state, processor, utime+stime
tids = os.listdir(f"/proc/{ch.pid}/task")
names = {t: open(f"/proc/{ch.pid}/task/{t}/comm").read().strip() for t in tids}
c0 = {t: stat(ch.pid, t)[2] for t in tids}; h0 = stat(hog.pid)[2]
time.sleep(0.3)
c0_busy = {t: stat(ch.pid, t)[2] - c0[t] > 0 for t in tids}
samples = collections.Counter()
for _ in range(200):
    main_cpu = stat(ch.pid, str(ch.pid))[1]
    helper = [t for t in tids if t != str(ch.pid) and c0_busy.get(t)]
    hcpu = stat(ch.pid, helper[0])[1] if helper else -1
    hogcpu = stat(hog.pid)[1]
    samples[(main_cpu, hcpu, hogcpu)] += 1
    time.sleep(0.01)
c1 = {t: stat(ch.pid, t)[2] for t in tids}; h1 = stat(hog.pid)[2]
print("(main cpu, helper cpu, hog cpu) counts:", dict(samples))
print("CPU ticks:", {("main" if t == str(ch.pid) else t): c1[t] - c0[t] for t in tids if c1[t] - c0[t] > 0}, "hog", h1 - h0)
ch.wait(); hog.kill()
