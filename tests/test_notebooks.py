"Every notebook in nbs/ runs top to bottom through nbdev's own runner (IN_TEST set, `slow`/`notest` cells skipped): one test item per notebook."
from pathlib import Path
import pytest
import nbdev.test as nbt

NBS = Path(__file__).resolve().parent.parent / 'nbs'
NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb') if not p.name.startswith('_') and '.ipynb_checkpoints' not in p.parts)

def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS][:1] == ['00_data.ipynb'] and (NBS / 'index.ipynb') in NOTEBOOKS

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(NBS).with_suffix('')) for p in NOTEBOOKS])
def test_notebook(nb):
    ok, secs = nbt.test_nb(nb, skip_flags=['slow', 'notest'], basepath=NBS.parent)
    assert ok, f"{nb.name} failed (see the traceback above)"
