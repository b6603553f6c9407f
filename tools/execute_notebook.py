"""Run notebooks top to bottom at full size (IN_TEST unset) and save their outputs in place, then clean them with nbdev_clean.

    python tools/execute_notebook.py nbs/02_search.ipynb [nbs/06_analysis.ipynb ...]

Each notebook runs in its own folder (as nbdev_test does), so its relative paths (../data) resolve the same way. Cells marked
`#| eval: false` are skipped. A cell that raises stops that notebook and nothing is written for it. Each notebook's wall time,
with the commit and the machine, is merged into reports/notebook_times.json, which README's reading path reads.
"""
import json, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMES = ROOT / 'reports' / 'notebook_times.json'

def commit() -> str:
    "The commit the notebook runs at (commit its code first: uncommitted edits are not named)."
    return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()

def record(path: Path, seconds: float, at: str):
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[path.name] = {'seconds': round(seconds, 1), 'commit': at, 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                        'cpus': os.cpu_count(), 'machine': platform.platform(), 'threads_env': os.environ.get('OMP_NUM_THREADS')}
    tmp = TIMES.with_suffix('.tmp'); tmp.write_text(json.dumps(dict(sorted(times.items())), indent=1) + '\n'); tmp.replace(TIMES)

def execute(path: Path):
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.environ.pop('IN_TEST', None)
    nb, at = read_nb(path), commit()
    cwd = os.getcwd(); os.chdir(path.parent)
    skip = lambda cell: any(l.replace(' ', '').startswith('#|eval:false') for l in cell.source.splitlines())
    try:
        t = time.time()
        CaptureShell(path=path.parent).run_all(nb, exc_stop=True, preproc=skip)
        seconds = time.time() - t
    finally: os.chdir(cwd)
    write_nb(nb, path)
    record(path, seconds, at)
    print(f"{path}: executed in {seconds:.0f} s", flush=True)

if __name__ == '__main__':
    paths = [Path(p).resolve() for p in sys.argv[1:]]
    if not paths: sys.exit(__doc__)
    for p in paths: execute(p)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean')], check=True)
