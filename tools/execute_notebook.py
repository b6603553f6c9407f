"""Run notebooks top to bottom at full size (IN_TEST unset) and save their outputs in place, then clean them with nbdev_clean.

    python tools/execute_notebook.py nbs/02_search.ipynb [nbs/06_analysis.ipynb ...]

Each notebook runs in its own folder (as nbdev_test does), so its relative paths (../data) resolve the same way. Cells marked
`#| eval: false` are skipped. A cell that raises stops that notebook and nothing is written for it.
"""
import os, subprocess, sys, time
from pathlib import Path

def execute(path: Path):
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.environ.pop('IN_TEST', None)
    nb = read_nb(path)
    cwd = os.getcwd(); os.chdir(path.parent)
    skip = lambda cell: any(l.replace(' ', '').startswith('#|eval:false') for l in cell.source.splitlines())
    try:
        t = time.time()
        CaptureShell(path=path.parent).run_all(nb, exc_stop=True, preproc=skip)
    finally: os.chdir(cwd)
    write_nb(nb, path)
    print(f"{path}: executed in {time.time() - t:.0f} s", flush=True)

if __name__ == '__main__':
    paths = [Path(p).resolve() for p in sys.argv[1:]]
    if not paths: sys.exit(__doc__)
    for p in paths: execute(p)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean')], check=True)
