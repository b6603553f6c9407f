"""SimCLR training throughput on Shapes-10 (32 px), one process, same images, batch, model and optimiser:
 (i)   ours: `Trainer.fit` (batched on-device ExpertAugment, both views, our NT-Xent, SGD), one epoch per timed window;
 (ii)  lightly's pipeline: `lightly.transforms.SimCLRTransform` per PIL image in a DataLoader with 2 workers, `lightly.loss.NTXentLoss`;
 (iii) the floor: the model step alone (forward, loss, backward, SGD step) on one fixed pre-augmented batch, in fp32 and under
       bf16 autocast (what `train.cpu_bf16` turns on); ours is timed both ways too.
Images/s count dataset images (each gives two views). Medians of timed windows after warm-up; methods run in blocks, repeated in rounds.
ResNet-18 runs at a small batch and few steps so that it finishes in minutes on 2 CPU cores; the demo backbone's numbers come last.
Run when the machine is quiet, in the default OpenMP setting: .venv/bin/python bench/train.py [--rounds 2] [--skip-resnet]
OMP_WAIT_POLICY=PASSIVE (right when two jobs share the cores) puts every worker thread to sleep after each operation, and waking
them costs more than a small operation itself: measured here (2 cores, 2 threads) the augmentation of 512 views took 18 ms with
PASSIVE vs 7 ms unset, so ours/floor fell from 0.91 to 0.85, while lightly's pipeline (2 worker processes + the main one) was faster
with PASSIVE (915 vs ~730 images/s): run both settings when comparing, the script prints which one it ran under."""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, dataclasses, os, platform, statistics, tempfile, time
import psutil, torch
from PIL import Image
from lightly.loss import NTXentLoss
from lightly.transforms import SimCLRTransform
from a2lit.data import load_dataset, normalize, iterate_batches, Shapes10Config, NORMALIZATION
from a2lit.train import Trainer, TrainConfig, contrastive_loss

p = argparse.ArgumentParser()
p.add_argument('--batch', type=int, default=256)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--workers', type=int, default=2, help="lightly's DataLoader workers")
p.add_argument('--n', type=int, default=4096, help='images per timed window (= one epoch of ours), demo backbone')
p.add_argument('--resnet-n', type=int, default=256, help='images per timed window, ResNet-18')
p.add_argument('--resnet-batch', type=int, default=64, help='batch size, ResNet-18 (model bound on CPU: a small batch keeps the run short)')
p.add_argument('--windows', type=int, default=3, help='timed windows per method per round')
p.add_argument('--rounds', type=int, default=2, help='rounds (floor, ours, lightly in turn), demo backbone')
p.add_argument('--resnet-rounds', type=int, default=1)
p.add_argument('--skip-resnet', action='store_true')
p.add_argument('--root', default=os.path.join(tempfile.gettempdir(), 'a2lit-bench'))
a = p.parse_args()
torch.set_num_threads(a.threads)

full = load_dataset('shapes10', a.root)               # Shapes-10 train, 10,000 images, 32 px
name = full.name
mean, std = (list(v) for v in NORMALIZATION[name])

def make(cfg, ds, **kw):
    "A Trainer: its model and optimiser serve all three measurements, so they are the same."
    return Trainer(cfg, ds, progress=False, log=lambda s: None, **kw)

def cpu_seconds(pids=()):
    "CPU time used so far by this process (all its threads) and by the processes `pids`."
    return time.process_time() + sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)

def windows(step, n_steps, warmup, B, pids=lambda: ()):
    "[(images/s, CPU seconds per image)] of `n_steps` calls of `step` per window, `a.windows` windows after `warmup` untimed calls."
    for _ in range(warmup): step()
    out = []
    for _ in range(a.windows):
        t, c = time.perf_counter(), cpu_seconds(pids())
        for _ in range(n_steps): step()
        out.append((n_steps * B / (time.perf_counter() - t), (cpu_seconds(pids()) - c) / (n_steps * B)))
    return out

def ours(cfg, ds):
    "Trainer.fit as a user runs it, one epoch per window (the first epoch is the warm-up); its own images/s, CPU from epoch to epoch."
    cpu = []
    tr = make(dataclasses.replace(cfg, epochs=a.windows + 1), ds)
    tr.log = lambda line: cpu.append(time.process_time())   # called once per epoch
    hist = tr.fit()
    return [(r['images_per_s'], (c1 - c0) / (r['step'] - p['step']) / cfg.batch_size) for r, p, c0, c1 in zip(hist[1:], hist, cpu, cpu[1:])]

def floor(cfg, ds):
    tr, B = make(cfg, ds), cfg.batch_size
    g = torch.Generator().manual_seed(0)
    idx, xb, _ = next(iterate_batches(tr.train, B, generator=g))
    x = tr.batch(tr.views(idx, xb, g, g))   # fixed, pre-augmented, normalised and laid out as the trainer does
    def step():
        with torch.autocast(tr.dev.type, dtype=tr.amp_dtype, enabled=tr.amp_dtype is not None):   # bf16 when cfg.cpu_bf16
            loss = contrastive_loss(tr.cfg, tr.model(x).split(B))
        tr.opt.zero_grad(set_to_none=True); loss.backward(); tr.opt.step()
    return windows(step, len(ds) // B, 2, B)

class PILViews(torch.utils.data.Dataset):
    "The images as PIL, each returned through lightly's SimCLRTransform (a list of two views)."
    def __init__(self, ds, tf): self.pil, self.tf = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in ds.images], tf
    def __len__(self): return len(self.pil)
    def __getitem__(self, i): return self.tf(self.pil[i])

def lightly_pipeline(cfg, ds, warmup):
    tr, B = make(cfg, ds), cfg.batch_size
    tf = SimCLRTransform(input_size=ds.size, cj_prob=0.8, cj_strength=1.0, cj_bright=0.4, cj_contrast=0.4, cj_sat=0.4, cj_hue=0.1,
                         min_scale=0.2, random_gray_scale=0.2, gaussian_blur=0.0, hf_prob=0.5, normalize=dict(mean=mean, std=std))
    dl = torch.utils.data.DataLoader(PILViews(ds, tf), batch_size=B, shuffle=True, drop_last=True, num_workers=a.workers,
                                     persistent_workers=True, generator=torch.Generator().manual_seed(0))
    crit = NTXentLoss(temperature=cfg.tau)
    def batches():
        while True: yield from dl
    it = batches()
    def step():
        v1, v2 = next(it)
        x = torch.cat([v1, v2])
        if tr.channels_last: x = x.contiguous(memory_format=torch.channels_last)   # the same model, fed as ours is
        z1, z2 = tr.model(x).split(B)
        loss = crit(z1, z2)
        tr.opt.zero_grad(set_to_none=True); loss.backward(); tr.opt.step()
    workers = lambda: [w.pid for w in getattr(dl._iterator, '_workers', [])]   # the DataLoader's worker processes
    out = windows(step, len(ds) // B, warmup, B, workers)
    del it, dl
    return out

def bench(label, cfg, n, rounds, lightly_warmup):
    ds = full.subset(slice(0, n))
    runs = dict(floor=[], floor_bf16=[], ours=[], ours_bf16=[], lightly=[])
    bf = dataclasses.replace(cfg, cpu_bf16=True)
    for r in range(rounds):
        runs['floor'] += floor(cfg, ds); runs['floor_bf16'] += floor(bf, ds)
        runs['ours'] += ours(cfg, ds); runs['ours_bf16'] += ours(bf, ds); runs['lightly'] += lightly_pipeline(cfg, ds, lightly_warmup)
    rate = {k: statistics.median(x[0] for x in v) for k, v in runs.items()}
    cpu = {k: statistics.median(x[1] for x in v) * 1e3 for k, v in runs.items()}
    rng = {k: f"{min(x[0] for x in v):,.0f}-{max(x[0] for x in v):,.0f}" for k, v in runs.items()}
    print(f"\n{label}: batch {cfg.batch_size} (x2 views), {n} images per window, {len(runs['ours'])} windows per method; "
          f"load average now {os.getloadavg()[0]:.2f}")
    print(f"  {'':48s} images/s median (range)    CPU ms per image (all processes)")
    for k, what in [('floor', '(iii) floor: model step alone, fixed batch, fp32'), ('floor_bf16', '      the same step, bf16 autocast'),
                    ('ours', '(i)   ours: Trainer.fit incl. augmentation, fp32'), ('ours_bf16', '      ours, train.cpu_bf16=true'),
                    ('lightly', '(ii)  lightly: SimCLRTransform + NTXentLoss, fp32')]:
        print(f"  {what:48s} {rate[k]:8,.0f}  ({rng[k]:>13s})    {cpu[k]:6.2f}")
    print(f"  ours / floor = {rate['ours'] / rate['floor']:.2f}   lightly / floor = {rate['lightly'] / rate['floor']:.2f}   "
          f"ours / lightly = {rate['ours'] / rate['lightly']:.2f}   (CPU per image: ours / floor = {cpu['ours'] / cpu['floor']:.2f}, "
          f"lightly / ours = {cpu['lightly'] / cpu['ours']:.2f})", flush=True)
    fastest = max(rate['floor'], rate['floor_bf16'])
    print(f"  the fastest model step this CPU runs: {'bf16' if rate['floor_bf16'] > rate['floor'] else 'fp32'}; ours fp32 / fastest = "
          f"{rate['ours'] / fastest:.2f}, ours bf16 / fastest = {rate['ours_bf16'] / fastest:.2f}", flush=True)
    return rate

print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; lightly workers {a.workers}")
print(f"data: Shapes-10 train ({len(full)} images, {full.size}x{full.size}); load average at start: {os.getloadavg()[0]:.2f}", flush=True)
demo = TrainConfig(backbone='small5', width=32, proj_dims=(512, 128), batch_size=a.batch)   # the CPU demo's network
resnet = TrainConfig(backbone='resnet18', width=64, proj_dims=(2048, 2048), batch_size=a.resnet_batch)   # the paper's network
# lightly's warm-up: with a fast model its workers are the bottleneck, and the timed windows must not start on the batches they
# prefetched during start-up (2 per worker), so 2 * workers + 1 untimed steps; with ResNet-18 the queue stays full anyway
if not a.skip_resnet: bench('ResNet18Cifar(64), projector 512-2048-2048', resnet, a.resnet_n, a.resnet_rounds, 2)
m = bench('SmallConvNet(32, 5 stages) (demo backbone), projector 256-512-128', demo, a.n, a.rounds, 2 * a.workers + 1)
print(f"load average at end: {os.getloadavg()[0]:.2f}")
print(f"speedup: {m['ours'] / m['lightly']:.2f}x (ours vs lightly SimCLR pipeline)")
