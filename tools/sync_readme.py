"""Write README.md from nbs/index.ipynb (Quarto, which nbdev_readme needs, cannot be installed offline).
Usage: python tools/sync_readme.py [--check]   (--check exits 1 when README.md is out of date)."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / 'nbs' / 'index.ipynb').read_text())
parts = []
for c in nb['cells']:
    src = ''.join(c['source'])
    if c['cell_type'] == 'markdown':
        if src.startswith('# a2lit\n> '):   # nbdev's title + summary -> a heading and a quote
            title, summary = src.split('\n', 1); src = f"{title}\n\n{summary}"
        parts.append(src)
    elif not src.lstrip().startswith('#| hide'):
        parts.append(f"```python\n{src}\n```")
        outs = ''.join(''.join(o.get('text', '')) for o in c.get('outputs', []) if o.get('output_type') == 'stream')
        if outs: parts.append(f"```\n{outs.rstrip()}\n```")
text = "<!-- generated from nbs/index.ipynb by tools/sync_readme.py: edit the notebook, not this file -->\n\n" + '\n\n'.join(parts) + '\n'
if '--check' in sys.argv:
    if (root / 'README.md').read_text() != text: sys.exit("README.md is out of date: run python tools/sync_readme.py")
else:
    (root / 'README.md').write_text(text)
