"""Write README's reading path (in nbs/index.ipynb, between its markers) from the notebooks' own titles and the full-size
run times that tools/execute_notebook.py recorded in reports/notebook_times.json; then run tools/sync_readme.py.
Usage: python tools/reading_path.py [--check]   (--check exits 1 when the table in nbs/index.ipynb is out of date)."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPEN, CLOSE = '<!-- reading path -->', '<!-- /reading path -->'
PATH = [   # (notebook, part): the method in reading order, then the infrastructure it stands on
    ('00_data', 'method'), ('00a_augment', 'method'), ('00b_baselines', 'method'), ('01_generator', 'method'),
    ('01b_invert', 'method'), ('01c_quality', 'method'), ('02_search', 'method'), ('02b_oracle', 'method'),
    ('03_losses', 'method'), ('04_models', 'method'), ('04_train', 'method'), ('05_evaluate', 'method'), ('05a_mi', 'method'),
    ('06_analysis', 'method'), ('06a_stats', 'method'),
    ('01a_gan_train', 'infrastructure'), ('01d_gan', 'infrastructure'), ('02a_viewbank', 'infrastructure'),
    ('07_config', 'infrastructure'), ('07a_pipeline', 'infrastructure'), ('07b_cli', 'infrastructure'),
    ('infra/core', 'infrastructure'), ('infra/dist', 'infrastructure'), ('infra/rundir', 'infrastructure')]

def title(nb: Path) -> tuple:
    "The notebook's '# Title' and '> summary' lines."
    for c in json.loads(nb.read_text())['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] == 'markdown' and s.startswith('# '):
            lines = s.splitlines()
            return lines[0][2:].strip(), next((l[1:].strip() for l in lines[1:] if l.startswith('>')), '')
    return nb.stem, ''

def took(rec) -> str:
    if rec is None: return 'not yet run at full size'
    s = rec['seconds']
    return (f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min") + f" ({rec['commit']})"

def table() -> str:
    times = json.loads((ROOT / 'reports' / 'notebook_times.json').read_text())
    rows = {part: [] for part in ('method', 'infrastructure')}
    for name, part in PATH:
        nb = ROOT / 'nbs' / f'{name}.ipynb'
        t, summary = title(nb)
        rows[part].append(f"| `{name}` | **{t}**: {summary} | {took(times.get(nb.name))} |")
    head = '| Notebook | What it answers | Full size on 2 CPU cores (commit) |\n|---|---|---|'
    return (f"{OPEN}\nThe method, in reading order (each notebook opens with its question and runs top to bottom):\n\n{head}\n"
            + '\n'.join(rows['method'])
            + f"\n\nThe infrastructure they stand on (file formats, the generator's training loop, configuration, pipeline, CLI):\n\n{head}\n"
            + '\n'.join(rows['infrastructure'])
            + "\n\nTimes are wall times of `tools/execute_notebook.py` (`reports/notebook_times.json`), some measured while a long"
              " run shared the cores: upper bounds.\n" + CLOSE)

def main():
    p = ROOT / 'nbs' / 'index.ipynb'
    nb = json.loads(p.read_text())
    cell = next(c for c in nb['cells'] if OPEN in ''.join(c['source']))
    s = ''.join(cell['source'])
    new = s[:s.index(OPEN)] + table() + s[s.index(CLOSE) + len(CLOSE):]
    if '--check' in sys.argv:
        if new != s: sys.exit("README's reading path is out of date: run python tools/reading_path.py")
        return
    lines = new.split('\n')
    cell['source'] = [l + '\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__': main()
