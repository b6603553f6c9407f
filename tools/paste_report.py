"""Keep a real run's report in the repository and paste its tables into the results page (docs/RESULTS.md).

    python tools/paste_report.py RUN_DIR --log LOG --wall-s SECONDS [--commit SHA] [--note "..."] [--dest reports/PRESET]

RUN_DIR is a finished run folder (out/PRESET, with report/ and train/). Its results.md, results.csv, scores.csv, view_pairs.csv,
training_curves.png, paired.csv, banks.csv and paired_vs_class_change.png (those it has), each training run's metrics.csv, the log and a run.json (command, commit, machine, wall time) are copied
to --dest; the section of --page between <!-- PRESET --> and <!-- /PRESET --> is replaced by the report as written (or
appended), headed by where and how it ran and by what its SimCLR row means next to raw pixels.
"""
import argparse, csv, json, os, platform, shutil, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('run', help='the finished run folder, e.g. /tmp/clone/runs/shapes10-full')
    p.add_argument('--log', required=True, help="the run's console output")
    p.add_argument('--wall-s', type=int, required=True, help="the run's wall time in seconds")
    p.add_argument('--commit', default='', help='the commit the run used')
    p.add_argument('--note', default='', help='one sentence on the conditions (what else ran, ...)')
    p.add_argument('--dest', default=None, help='default: reports/<preset>')
    p.add_argument('--page', default='docs/RESULTS.md', help='the Markdown page the report is pasted into')
    a = p.parse_args(argv)
    import torch
    src = Path(a.run); preset = src.name; dst = Path(a.dest or f'reports/{preset}')
    if not (src / 'report' / 'results.md').exists(): raise SystemExit(f"{src} has no report/results.md: is the run finished?")
    (dst / 'metrics').mkdir(parents=True, exist_ok=True)
    for f in ('results.md', 'results.csv', 'scores.csv', 'view_pairs.csv', 'training_curves.png', 'paired.csv', 'banks.csv', 'paired_vs_class_change.png'):
        if (src / 'report' / f).exists(): shutil.copyfile(src / 'report' / f, dst / f)
    for d in sorted(q for q in (src / 'train').iterdir() if q.is_dir()): shutil.copyfile(d / 'metrics.csv', dst / 'metrics' / f'{d.name}.csv')
    shutil.copyfile(a.log, dst / 'log.txt')
    rec = {'command': f'a2lit run {preset}', 'where': 'a fresh git clone', 'commit': a.commit, 'wall_s_a2lit_run': a.wall_s,
           'finished': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime((src / 'report' / 'results.md').stat().st_mtime)), 'machine': platform.platform(), 'cpus': os.cpu_count(),
           'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'torch': torch.__version__, 'note': a.note}
    gen = src / 'gan' / 'generator.safetensors.json'   # the generator its generated views came from (tests/test_reports.py compares it with the shipped one)
    if gen.exists(): rec.update(generator_hash=json.loads(gen.read_text())['tensors_hash'], generator_kimg=json.loads(gen.read_text()).get('kimg'))
    (dst / 'run.json').write_text(json.dumps(rec, indent=1) + '\n')
    md = (dst / 'results.md').read_text()
    raw = {k: 100 * v for k, v in json.loads((src / 'eval' / 'raw-pixels.json').read_text()).items()}   # fractions, as the eval stage wrote them
    sim = next(r for r in csv.DictReader(open(dst / 'results.csv')) if r['row'] == 'simclr')
    k, lin = float(sim['knn5_mean']), float(sim['linear_mean'])
    caveat = (f"SimCLR's 5-NN accuracy here ({k:.2f}%) is {'below' if k < raw['knn5'] else 'above'} raw pixels' ({raw['knn5']:.2f}%)"
              + (", so the 5-NN column compares rows with each other only" if k < raw['knn5'] else '')
              + f"; on the linear probe SimCLR ({lin:.2f}%) {'is far above' if lin > 1.5 * raw['linear'] else 'is not far above'} raw pixels ({raw['linear']:.2f}%).")
    body = md.split('\n', 1)[1].strip().replace('\n## ', '\n#### ')
    head = (f"## Shapes-10, every row: `a2lit run {preset}`\n" if preset == 'shapes10-full' else f"## `a2lit run {preset}`\n") + (
            f"The report of a real run (`{dst}/`, pasted as it was written): {rec['where']}, {rec['cpus']} CPU cores, "
            f"{'GPU ' + rec['gpu'] if rec['gpu'] else 'no GPU'}, torch {rec['torch']}, {a.wall_s / 60:.0f} minutes. {a.note} {caveat}\n\n")
    page = Path(a.page); s = page.read_text()
    o, e = f'<!-- {preset} -->', f'<!-- /{preset} -->'
    block = f"{o}\n{head}{body}\n{e}\n"
    if o in s:
        rest = s[s.index(e) + len(e):].lstrip('\n')
        s = s[:s.index(o)] + block + ('\n' + rest if rest else '')
    else: s = s.rstrip('\n') + '\n\n' + block
    page.write_text(s)
    print(block)

if __name__ == '__main__': main()
