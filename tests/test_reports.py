"The committed reports are current: each names the generator its generated views came from, and that is the shipped one (or the results page says it is not)."
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def generator_hash(d: Path):
    "The generator tensors hash a report's run used: run.json's generator_hash, else the one its results or note name."
    rec = json.loads((d / 'run.json').read_text())
    if rec.get('generator_hash'): return rec['generator_hash']
    found = re.findall(r'tensors hash ([0-9a-f]{16})', (d / 'results.md').read_text() + rec.get('note', ''))
    return found[0] if found else None

def uses_generated_views(d: Path) -> bool:
    return any(v in (d / 'results.md').read_text() for v in ('W-search', 'W-perturb'))

def results_block(preset: str) -> str:
    "The report of `preset` on the results page (docs/RESULTS.md, where tools/paste_report.py pastes it)."
    s = (ROOT / 'docs' / 'RESULTS.md').read_text()
    o, e = f'<!-- {preset} -->', f'<!-- /{preset} -->'
    return s[s.index(o):s.index(e)] if o in s else ''

def test_reports_use_the_shipped_generator():
    shipped = json.loads((ROOT / 'a2lit' / 'weights' / 'shapes10-demo-generator.safetensors.json').read_text())['tensors_hash']
    reports = [d for d in sorted((ROOT / 'reports').iterdir()) if (d / 'run.json').exists() and (d / 'results.md').exists()]
    assert {'demo', 'shapes10-full'} <= {d.name for d in reports}
    for d in reports:
        if not uses_generated_views(d): continue
        h = generator_hash(d)
        assert h, f"reports/{d.name} does not say which generator made its views"
        if h != shipped:   # an old report may stay only while the results page says, next to it, that its generator was replaced
            block = results_block(d.name)
            assert h in block and 'replaced' in block, f"reports/{d.name} was made with generator {h}, not the shipped {shipped}, and docs/RESULTS.md does not say so"

def test_notebook_outputs_name_the_shipped_generator():
    "Every generator hash a notebook's saved outputs print (provenance() lines, report excerpts) is the shipped generator's."
    shipped = json.loads((ROOT / 'a2lit' / 'weights' / 'shapes10-demo-generator.safetensors.json').read_text())['tensors_hash']
    for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        if p.name == 'index.ipynb': continue          # README: test_reports_use_the_shipped_generator
        for c in json.loads(p.read_text())['cells']:
            for o in c.get('outputs', []):
                text = ''.join(o.get('text', [])) + ''.join(o.get('data', {}).get('text/plain', []))
                for h in re.findall(r'tensors hash ([0-9a-f]{16})', text):
                    assert h == shipped, f"{p.relative_to(ROOT)} prints generator {h}, not the shipped {shipped}: re-execute it"


def _text(o) -> str: return ''.join(o.get('text', [])) + ''.join(o.get('data', {}).get('text/plain', []))

def test_notebooks_with_outputs_of_the_shipped_weights_print_their_provenance():
    "A notebook that loads the shipped weights and keeps outputs made after that prints the generator's hash and the commit (`provenance()`) in them."
    for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        cells = [c for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'code']
        src = lambda c: ''.join(c['source'])
        first = next((i for i, c in enumerate(cells) if re.search(r'(?<!def )load_demo\(', src(c))), None)
        if first is None or not any(c.get('outputs') for c in cells[first:]): continue
        said = [m for c in cells for o in c.get('outputs', []) for m in re.findall(r'tensors hash [0-9a-f]{16}, [0-9]+ kimg; a2lit commit [0-9a-f]{7}', _text(o))]
        assert said, f"{p.relative_to(ROOT)} keeps outputs of the shipped weights but never prints provenance(): add it and re-execute"

def test_readme_reading_path_matches_the_recorded_notebook_times():
    "README's reading path is what tools/reading_path.py writes from the notebooks' titles and reports/notebook_times.json."
    import subprocess, sys
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'reading_path.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
