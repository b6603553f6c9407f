"The house: one module per concept, listed in README's table in import order; no name defined twice; no module too long."
import ast, json, re, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / 'a2lit'
MODULES = sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))

def house():
    "The (notebook, module) rows of README's house table, in order (read from nbs/index.ipynb, README's source)."
    text = '\n'.join(''.join(c['source']) for c in json.loads((ROOT / 'nbs/index.ipynb').read_text())['cells'] if c['cell_type'] == 'markdown')
    return re.findall(r'^\| `([\w/]+)` \| `a2lit\.(\w+)` \|', text[text.index('## The house'):], re.M)

def defined(mod):
    "Top-level names a module defines itself (not the ones it imports)."
    names = set()
    for n in ast.parse((PKG / f'{mod}.py').read_text()).body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)): names.add(n.name)
        elif isinstance(n, ast.Assign): names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
    return names - {'__all__'}

def test_every_module_is_in_the_house_once_with_its_notebook():
    rows = house()
    assert sorted(m for _, m in rows) == MODULES, (rows, MODULES)
    for nb, mod in rows:
        src = (PKG / f'{mod}.py').read_text()
        assert f'File to edit: ../nbs/{nb}.ipynb' in src, (nb, mod)

def test_imports_point_up_the_house():
    order = [m for _, m in house()]
    for mod in order:
        used = set(re.findall(r'^\s*from \.(\w+) import', (PKG / f'{mod}.py').read_text(), re.M))
        later = {u for u in used if order.index(u) >= order.index(mod)}
        assert not later, f"{mod} imports {later}, which are not above it"

def test_no_exported_name_is_defined_in_two_modules():
    seen = {}
    for mod in MODULES:
        for name in defined(mod):
            if name.startswith('_'): continue
            assert name not in seen, f"{name} is defined in both {seen[name]} and {mod}"
            seen[name] = mod

def test_no_module_is_long():
    long = {m: n for m in MODULES if (n := len((PKG / f'{m}.py').read_text().splitlines())) > 500}
    assert not long, long

def test_tools_are_repository_maintenance_and_checkpoints_are_not_tracked():
    assert sorted(p.name for p in (ROOT / 'tools').glob('*.py')) == ['execute_notebook.py', 'paste_report.py', 'reading_path.py', 'sync_readme.py']
    r = subprocess.run(['git', 'ls-files', 'checkpoints'], cwd=ROOT, capture_output=True, text=True)
    if r.returncode: pytest.skip(f"not a git checkout: {r.stderr.strip()}")
    assert r.stdout == '', r.stdout
