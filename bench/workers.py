"""Trainings at once on a CPU: the demo's SimCLR row (2,500 Shapes-10 images, small5 width 32, batch 64, the demo's
precision), timed per epoch as one training with every thread, and as `map_in_processes` runs them: two at once in
one-thread workers. Same process tree, same machine, interleaved, medians; the ratio is what `workers=2` buys the
train stage of `a2lit run demo`.
Run: .venv/bin/python bench/workers.py [--epochs 3] [--repeats 3]"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, dataclasses, os, platform, statistics, tempfile, time
from pathlib import Path
import torch
from a2lit.config import PRESETS
from a2lit.data import load_dataset
from a2lit.dist import map_in_processes

def epoch_seconds(epochs, log=print):
    "Seconds per epoch of the demo's SimCLR row after one warm-up epoch, in this process (its threads as they are set)."
    from a2lit.train import Trainer
    tr = load_dataset('shapes10', os.path.join(tempfile.gettempdir(), 'a2lit-bench-data'), 'train').subset(slice(0, 2_500))
    t = Trainer(dataclasses.replace(PRESETS['demo']().train, epochs=epochs + 1), tr, out=Path(tempfile.mkdtemp()), progress=False, log=lambda s: None)
    t.fit(1); t0 = time.perf_counter(); t.fit(); return (time.perf_counter() - t0) / epochs, torch.get_num_threads()

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--epochs', type=int, default=3); p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"demo SimCLR row, 2,500 images, {a.epochs} timed epochs, median of {a.repeats} interleaved repeats")
    alone, pair = [], []
    for _ in range(a.repeats):
        s, n = epoch_seconds(a.epochs); alone.append(s)
        res = map_in_processes(epoch_seconds, [(a.epochs,), (a.epochs,)], workers=2); pair.append([r[0] for r in res])
    one, two = statistics.median(alone), statistics.median(x for r in pair for x in r)
    print(f"one training, {n} threads: {one:.3f} s/epoch (runs: {', '.join(f'{x:.3f}' for x in alone)})")
    print(f"two at once, {res[0][1]} thread each: {two:.3f} s/epoch each (runs: {', '.join(f'{x:.3f}' for r in pair for x in r)})")
    print(f"throughput: one {1 / one:.3f} epochs/s, two at once {2 / two:.3f} epochs/s")
    print(f"speedup: {2 * one / two:.2f}x (two one-thread trainings at once vs one after another)")
