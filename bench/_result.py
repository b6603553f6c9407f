"""Every benchmark keeps its last result: what it printed, and its final `speedup: N.NNx (ours vs PEER)`, in
reports/bench/<name>.json, with the machine, torch version, command and commit, so a number quoted elsewhere can be traced."""
import atexit, json, os, platform, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

class _Tee:
    "Write to the real stdout and keep a copy."
    def __init__(self, out): self.out, self.text = out, []
    def write(self, s): self.text.append(s); return self.out.write(s)
    def flush(self): self.out.flush()
    def __getattr__(self, name): return getattr(self.out, name)

def record(script):
    "Call at the top of a benchmark: on a normal exit its output goes to reports/bench/<script name>.json (nothing when it did not finish)."
    tee = _Tee(sys.stdout); sys.stdout = tee
    started = time.strftime('%Y-%m-%d %H:%M:%S')
    def write():
        lines = ''.join(tee.text).splitlines()
        m = next((re.match(r'speedup: ([0-9.]+)x \((.*)\)', l) for l in reversed(lines) if l.startswith('speedup:')), None)
        if m is None: return
        try: commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError: commit = None
        import torch
        rec = dict(benchmark=Path(script).stem, speedup=float(m.group(1)), versus=m.group(2), command=' '.join([Path(sys.executable).name, *sys.argv]),
                   started=started, commit=commit, machine=platform.platform(), processor=platform.processor() or platform.machine(),
                   cpus=os.cpu_count(), torch=torch.__version__, omp_wait_policy=os.environ.get('OMP_WAIT_POLICY'), output=lines)
        out = ROOT / 'reports' / 'bench' / f'{Path(script).stem}.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix('.json.tmp'); tmp.write_text(json.dumps(rec, indent=2) + '\n'); os.replace(tmp, out)
    atexit.register(write)
