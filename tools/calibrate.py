"""Calibrate Shapes-10 (DESIGN.md): raw pixels vs a short SimCLR run on a variant of the data, one JSON line per probe.

    OMP_WAIT_POLICY=PASSIVE python tools/calibrate.py [FIELD=VALUE ...] [--backbone small5] [--epochs 30] [--n 5000] [--tau T] [--batch B] [--lr LR]

FIELD=VALUE set Shapes10Config fields (JSON values: n_hues=2, scale=[0.4,0.8], texture=0). Measured on the 2,000 test images:
5-NN (Euclidean and cosine) and an L-BFGS linear probe, scored as the demo preset scores its rows, on standardised raw pixels and on
the frozen backbone of a SimCLR run with the demo preset's training settings (Adam, its batch and lr unless given, projector 512-128) on the first --n
training images;
with --supervised also the 5-NN of a supervised SmallConvNet. Each probe appends its record to --record.
"""
import argparse, dataclasses, json, os, platform, subprocess, time
from pathlib import Path
import torch, torch.nn as nn
from a2lit.data import load_dataset, Shapes10Config, train_classifier
from a2lit.evaluate import extract_features, knn_accuracy
from a2lit.experiments import PRESETS, _scores
from a2lit.train import Trainer

ROOT = Path(__file__).resolve().parent.parent

def parse_fields(items):
    "Shapes10Config overrides from FIELD=VALUE strings (values are JSON; lists become tuples)."
    names = set(Shapes10Config.__dataclass_fields__)
    kw = {}
    for s in items:
        k, sep, v = s.partition('=')
        if not sep or k not in names: raise SystemExit(f"calibrate: expected FIELD=VALUE with a Shapes10Config field ({', '.join(sorted(names))}), got {s!r}")
        try: val = json.loads(v)
        except json.JSONDecodeError: raise SystemExit(f"calibrate: {k}: {v!r} is not a JSON value (e.g. 2, 0.35, [0.4,0.8])") from None
        kw[k] = tuple(val) if isinstance(val, list) else val
    return kw

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('fields', nargs='*', help='Shapes10Config overrides, FIELD=VALUE')
    p.add_argument('--backbone', default='small5'); p.add_argument('--width', type=int, default=32)
    p.add_argument('--epochs', type=int, default=30); p.add_argument('--n', type=int, default=5000, help='training images (the first N)')
    p.add_argument('--tau', type=float, default=None, help="default: the demo preset's"); p.add_argument('--lr', type=float, default=None, help="default: the demo preset's"); p.add_argument('--batch', type=int, default=None, help="default: the demo preset's"); p.add_argument('--seed', type=int, default=0)
    p.add_argument('--supervised', action='store_true'); p.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    p.add_argument('--note', default='', help='conditions, e.g. what else was running'); p.add_argument('--data', default=str(ROOT / 'data')); p.add_argument('--record', default=str(ROOT / 'reports/calibration/probes.jsonl'))
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    kw = parse_fields(a.fields); cfg = Shapes10Config(**kw)
    t0 = time.time()
    train, test = load_dataset('shapes10', a.data, 'train', shapes10=cfg), load_dataset('shapes10', a.data, 'test', shapes10=cfg)
    if not 256 <= a.n <= len(train): raise SystemExit(f"calibrate: --n must be between 256 and {len(train)}, got {a.n}")
    train = train.subset(torch.arange(a.n))
    demo = PRESETS['demo']()   # its evaluation (5-NN, cosine 5-NN, L-BFGS probe) and its SimCLR training settings
    for k, field in (('lr', 'lr'), ('batch', 'batch_size'), ('tau', 'tau')):   # unset: the demo preset's value
        if getattr(a, k) is None: setattr(a, k, getattr(demo.train, field))
    rec = dict(note=a.note, data=kw, backbone=a.backbone, width=a.width, epochs=a.epochs, n=a.n, tau=a.tau, lr=a.lr, batch=a.batch, seed=a.seed)
    px = [extract_features(nn.Identity(), d.images, 'shapes10') for d in (train, test)]
    scores = lambda f: _scores(demo, f[0], train.labels, f[1], test.labels, train.num_classes)
    rec['raw'] = scores(px)
    if a.supervised:
        net = train_classifier(train, epochs=10, seed=a.seed)[0]
        fx = [extract_features(net, d.images, 'shapes10') for d in (train, test)]
        rec['supervised_knn5'] = knn_accuracy(fx[0], train.labels, fx[1], test.labels)
    tc = dataclasses.replace(demo.train, backbone=a.backbone, width=a.width, epochs=a.epochs, lr=a.lr, tau=a.tau, batch_size=a.batch, seed=a.seed)
    t1 = time.time(); tr = Trainer(tc, train, progress=False, log=lambda s: None); tr.fit()
    rec['simclr_s'] = round(time.time() - t1, 1)
    fx = [extract_features(tr.model.backbone, d.images, 'shapes10') for d in (train, test)]
    rec['simclr'] = scores(fx)
    commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    rec.update(total_s=round(time.time() - t0, 1), threads=torch.get_num_threads(), torch=torch.__version__, machine=platform.machine(),
               cpus=os.cpu_count(), commit=commit, when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    line = json.dumps(rec)
    print(line)
    Path(a.record).parent.mkdir(parents=True, exist_ok=True)
    with open(a.record, 'a') as f: f.write(line + '\n')

if __name__ == '__main__': main()
