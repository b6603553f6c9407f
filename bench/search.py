"""W-search throughput, each lever on its own, in converged views per second:
  (i)   ours: `w_search` as the package runs it (the start on the eps1 sphere along directions centred across an image's views,
        Adam warmed up over 3 steps, all images in one pool, per-image stopping, fp32);
        and the same with g and f under bf16 autocast (`cpu_bf16=True`, on CPUs that have bf16; every image judged in fp32);
  (ii)  the authors' start with per-image stopping: `w_search(start='noise')` (w0 + sigma N(0, I), then the same loop);
  (iii) the authors' schedule: that start, a batch of 128 images (their CIFAR-10 value), one torch.optim.Adam over the batch,
        one shared stopping test (the batch stops when its mean loss is <= tol, or at max_steps; a `.item()` every step).
Ours counts the views of images whose own loss reached tol; the authors' schedule is credited with every view of a batch that
stopped on its mean (whatever each image's own loss), so the ratio is, if anything, in the authors' favour.
Same g, f, latents, objective, hyperparameters (the paper's CIFAR-10 values unless set) and tolerance, on two problems:
  toy:      a small conv generator and encoder (16 px), 8 views per image;
  shapes10: the shipped Shapes-10 generator at psi 0.7 on inverted training images, and a SimCLR encoder f
            (--f CHECKPOINT, e.g. runs/demo/train/simclr-s0/checkpoint.safetensors; otherwise trained here for --f-epochs).
Prints, per problem and method, views/s, steps and the views' distances (to f0 and between siblings), so that a speedup is
shown to come with the same views. The last line is the Shapes-10 ratio of (i) to (iii).

    python bench/search.py [--images 256] [--views 4] [--repeats 3] [--f CHECKPOINT]   (about 15 minutes on 2 cores)
"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, os, platform, statistics, tempfile, time
import torch, torch.nn as nn, torch.nn.functional as F
from a2lit.search import w_search, search_objective, view_features, mean_pairwise, uses_bf16

class ConvGenerator(nn.Module):
    "A small conv generator: W+-like latents [B,L,D] -> linear -> 4x4 -> two (upsample, 3x3 conv) -> tanh images [B,3,16,16]."
    def __init__(self, L=4, D=32, c=32):
        super().__init__()
        self.c, self.fc = c, nn.Linear(L * D, c * 16)
        self.c1, self.c2 = nn.Conv2d(c, c // 2, 3, padding=1), nn.Conv2d(c // 2, 3, 3, padding=1)
    def forward(self, w):
        x = F.leaky_relu(self.fc(w.flatten(1)).view(-1, self.c, 4, 4), 0.2)
        x = F.leaky_relu(self.c1(F.interpolate(x, scale_factor=2)), 0.2)
        return torch.tanh(self.c2(F.interpolate(x, scale_factor=2)))

class ConvEncoder(nn.Module):
    "A small conv encoder: two stride-2 3x3 convs, 2x2 pool, standardised with statistics of g's images, linear head, L2-normalised."
    def __init__(self, c=16, dim=32, decay=1.0):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(8 * c, dim)
        self.register_buffer('mu', torch.zeros(8 * c)); self.register_buffer('sd', torch.ones(8 * c))
        self.register_buffer('scale', (torch.arange(dim) + 1.0) ** -decay)   # anisotropic, like a trained encoder
    @torch.no_grad()
    def calibrate(self, x):
        h = self.net(x); self.mu.copy_(h.mean(0)); self.sd.copy_(h.std(0) + 1e-5); return self
    def forward(self, x): return F.normalize(self.head((self.net(x) - self.mu) / self.sd) * self.scale, dim=1)

def authors_schedule(g, f, w0, n, eps1, eps2, lam, sigma, lr, max_steps, tol, generator, batch=128):
    "The authors' loop, plainly: `batch` images at a time, one Adam, stop the batch when its mean loss <= tol (a .item() every step) or at max_steps."
    start = w0[:, None] + sigma * torch.randn(len(w0), n, *w0.shape[1:], generator=generator)
    f0 = view_features(g, f, w0)
    converged, steps, latents, own = [], [], [], []
    for i in range(0, len(w0), batch):
        w = start[i:i + batch].clone().requires_grad_()
        opt = torch.optim.Adam([w], lr=lr)
        for step in range(max_steps + 1):
            z = f(g(w.flatten(0, 1))).view(len(w), n, -1)
            loss, _ = search_objective(z, f0[i:i + batch], eps1, eps2, lam)
            done = loss.detach() <= tol
            if loss.detach().mean().item() <= tol or step == max_steps: break
            opt.zero_grad(); loss.mean().backward(); opt.step()
        converged.append(done | (loss.detach().mean() <= tol)); own.append(done); steps += [step] * len(w); latents.append(w.detach())
    return torch.cat(converged), torch.tensor(steps), torch.cat(latents), torch.cat(own)

def shapes10_problem(a):
    "(g, f, w0): the shipped generator at psi 0.7, a SimCLR f, and the inversions (encoder + 20 Adam steps, as the demo) of training images."
    from a2lit.quality import load_demo
    from a2lit.generator import TruncatedSynthesis
    from a2lit.invert import invert
    from a2lit.data import load_dataset, Shapes10Config
    from a2lit.train import Trainer, TrainConfig, load_encoder
    G, E = load_demo()
    g = TruncatedSynthesis(G, 0.7).eval()
    root = os.path.join(tempfile.gettempdir(), 'a2lit-bench')
    train = load_dataset('shapes10', root, shapes10=Shapes10Config(n_train=10_000, n_test=2000))
    if a.f: f, how = load_encoder(a.f), a.f
    else:
        sub = train.subset(torch.arange(2500))
        cfg = TrainConfig(backbone='small5', width=32, proj_dims=(512, 128), epochs=a.f_epochs, batch_size=64, optimizer='adam', lr=3e-3, warmup_epochs=1)
        t = Trainer(cfg, sub, out=None, progress=False, log=lambda *x: None); t.fit()
        from a2lit.train import Encoder
        f, how = Encoder(t.model, train.name), f"SimCLR small5 width 32, {a.f_epochs} epochs on 2,500 images, trained here"
    x = train.images[2500:2500 + a.images]       # images the encoder did not train on
    w0 = g.untruncate(invert(G, E, x, steps=20, lr=0.01))
    return g.requires_grad_(False), f, w0, how

def measure(name, g, f, w0, hp, repeats, pool):
    "Run the three methods `repeats` times in turn; print each one's converged views/s, steps and distances; return views/s medians."
    times = {k: [] for k in ('ours', 'bf16', 'start', 'schedule')}
    for rep in range(repeats):
        t0 = time.perf_counter(); ro = w_search(g, f, w0, chunk=pool, generator=torch.Generator().manual_seed(1), **hp); times['ours'].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); rb = w_search(g, f, w0, chunk=pool, cpu_bf16=True, generator=torch.Generator().manual_seed(1), **hp); times['bf16'].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); rs = w_search(g, f, w0, chunk=pool, start='noise', generator=torch.Generator().manual_seed(1), **hp); times['start'].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); conv_a, steps_a, lat_a, own_a = authors_schedule(g, f, w0, generator=torch.Generator().manual_seed(1), **hp); times['schedule'].append(time.perf_counter() - t0)
    f0 = view_features(g, f, w0)
    rows = {'ours': (ro.converged.all(1), ro.steps, ro.latents), 'bf16': (rb.converged.all(1), rb.steps, rb.latents),
            'start': (rs.converged.all(1), rs.steps, rs.latents), 'schedule': (conv_a, steps_a, lat_a)}
    label = {'ours': "ours (sphere start, pool, per-image stopping)",
             'bf16': f"ours, cpu_bf16=True ({'bf16' if uses_bf16(w0.device, True, True) else 'no native bf16: fp32'})", 'start': "authors' start, pool, per-image stopping",
             'schedule': "authors' schedule (128 per batch, mean stop)"}
    vps = {}
    for k, (conv, steps, lat) in rows.items():
        z = view_features(g, f, lat)
        d, pw = (z - f0[:, None]).norm(dim=-1), mean_pairwise(z)
        t = statistics.median(times[k]); views = int(conv.sum()) * hp['n']
        vps[k] = views / t
        print(f"{name} {label[k]:54s}: {views:4d} converged views in {t:6.2f}s (median of {repeats}: {', '.join(f'{x:.2f}' for x in times[k])}) "
              f"= {vps[k]:7.1f} views/s; steps per image median {float(steps.float().median()):.0f}, max {int(steps.max())}; "
              f"distance to f0 median {float(d.median()):.3f}, between siblings median {float(pw.median()):.3f}"
              + (f"; {float(own_a.float().mean()):.0%} of its images below tol on their own" if k == 'schedule' else ''))
    r = lambda a, b: f"{vps[a] / vps[b]:.2f}x" if vps[b] else 'n/a (nothing converged)'
    print(f"{name}: ours vs authors' schedule {r('ours', 'schedule')}; the start alone {r('ours', 'start')}; bf16 {r('bf16', 'ours')}; "
          f"pool + per-image stopping alone {r('start', 'schedule')}")
    return vps

def main():
    ap = argparse.ArgumentParser()
    # the views stage searches thousands of images: with few, the pool's last slow images set the time
    ap.add_argument('--images', type=int, default=256)
    ap.add_argument('--views', type=int, default=4, help='views per image on Shapes-10 (the toy problem uses the paper\'s 8)')
    ap.add_argument('--pool', type=int, default=64, help='images searched at once by w_search (its `chunk`)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--max-steps', type=int, default=1000)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--f', default=None, help='a SimCLR checkpoint for the Shapes-10 problem (default: train one here)')
    ap.add_argument('--f-epochs', type=int, default=20)
    ap.add_argument('--skip-toy', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    hp = dict(eps1=0.3, eps2=0.5, lam=0.01, sigma=0.001, lr=0.01, max_steps=a.max_steps, tol=1e-3)   # the paper's CIFAR-10 values
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"settings: {hp}; pool {a.pool}; {a.images} images")
    if not a.skip_toy:
        torch.manual_seed(0)
        g = ConvGenerator().eval().requires_grad_(False)
        f = ConvEncoder().eval().requires_grad_(False).calibrate(g(torch.randn(2048, 4, 32)))
        w0 = torch.randn(a.images, 4, 32, generator=torch.Generator().manual_seed(0))
        print(f"toy: latents [4,32], images 3x16x16, features 32, 8 views per image")
        measure('toy', g, f, w0, {**hp, 'n': 8}, a.repeats, a.pool)
    g, f, w0, how = shapes10_problem(a)
    print(f"shapes10: the shipped generator at psi 0.7, W+ {tuple(w0.shape[1:])}, {a.views} views per image; f: {how}")
    vps = measure('shapes10', g, f, w0, {**hp, 'n': a.views}, a.repeats, a.pool)
    print(f"speedup: {vps['ours'] / vps['schedule']:.2f}x (ours vs authors' schedule)")

if __name__ == '__main__':
    main()
