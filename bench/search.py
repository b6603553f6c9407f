"""W-search throughput: our `w_search` (all images in one pool, per-image stopping, a host sync every
`check_every` steps) against the authors' schedule (8 images per batch, one torch.optim.Adam over the
batch, one shared stopping test: the batch stops when all its images have converged or at max_steps,
with a `.item()` host sync every step). Same g, f, latents, objective, hyperparameters (the paper's
CIFAR-10 values) and tolerance. Measures converged views per second.

    OMP_WAIT_POLICY=PASSIVE python bench/search.py [--images 64] [--repeats 3]
"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, os, platform, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F
from a2lit.search import w_search, search_objective, view_features

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

def authors_schedule(g, f, w0, n, eps1, eps2, lam, sigma, lr, max_steps, tol, generator, batch=8):
    "The authors' loop, plainly: 8 images at a time, one Adam, stop the batch when all converged (a .item() every step) or at max_steps."
    start = w0[:, None] + sigma * torch.randn(len(w0), n, *w0.shape[1:], generator=generator)
    f0 = view_features(g, f, w0)
    converged, steps = [], []
    for i in range(0, len(w0), batch):
        w = start[i:i + batch].clone().requires_grad_()
        opt = torch.optim.Adam([w], lr=lr)
        for step in range(max_steps + 1):
            z = f(g(w.flatten(0, 1))).view(len(w), n, -1)
            loss, _ = search_objective(z, f0[i:i + batch], eps1, eps2, lam)
            done = loss.detach() <= tol
            if done.all().item() or step == max_steps: break
            opt.zero_grad(); loss.mean().backward(); opt.step()
        converged.append(done); steps.append(step)
    return torch.cat(converged), steps

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--images', type=int, default=128)
    ap.add_argument('--pool', type=int, default=64, help='images searched at once by w_search (its `chunk`)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--max-steps', type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    g = ConvGenerator().eval().requires_grad_(False)
    f = ConvEncoder().eval().requires_grad_(False).calibrate(g(torch.randn(2048, 4, 32)))
    w0 = torch.randn(a.images, 4, 32, generator=torch.Generator().manual_seed(0))
    hp = dict(n=8, eps1=0.3, eps2=0.5, lam=0.01, sigma=0.001, lr=0.01, max_steps=a.max_steps, tol=1e-3)   # the paper's CIFAR-10 values
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    print(f"ours: a pool of {a.pool} images refilled as images finish, per-image stopping, a look at the host every step (the CPU default; 10 on a GPU)")
    print(f"sizes: {a.images} images x {hp['n']} views, latents [4,32], images 3x16x16, features 32; {hp}")
    ours_t, auth_t = [], []
    for rep in range(a.repeats):
        t0 = time.perf_counter()
        r = w_search(g, f, w0, chunk=a.pool, generator=torch.Generator().manual_seed(1), **hp)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        conv_a, steps_a = authors_schedule(g, f, w0, generator=torch.Generator().manual_seed(1), **hp)
        auth_t.append(time.perf_counter() - t0)
    views_o = int(r.converged.sum()); views_a = int(conv_a.sum()) * hp['n']
    img_steps_o, img_steps_a = int(r.steps.sum()), 8 * sum(steps_a)
    to, ta = statistics.median(ours_t), statistics.median(auth_t)
    print(f"ours:            {views_o} converged views in {to:.2f}s (median of {a.repeats}: {', '.join(f'{t:.2f}' for t in ours_t)}) "
          f"= {views_o / to:.1f} views/s; {img_steps_o} image-steps; steps per image median {int(r.steps.median())}, max {int(r.steps.max())}")
    print(f"authors' schedule: {views_a} converged views in {ta:.2f}s (median of {a.repeats}: {', '.join(f'{t:.2f}' for t in auth_t)}) "
          f"= {views_a / ta:.1f} views/s; {img_steps_a} image-steps; steps per batch {steps_a}")
    print(f"image-steps saved by per-image stopping: {img_steps_a / img_steps_o:.2f}x; "
          f"time per image-step ours {to / img_steps_o * 1e3:.3f} ms vs {ta / img_steps_a * 1e3:.3f} ms")
    ratios = [(views_o / o) / (views_a / t) for o, t in zip(ours_t, auth_t)]    # the two ran back to back in each repeat
    print(f"per-repeat speedups: {', '.join(f'{x:.2f}x' for x in ratios)}")
    print(f"speedup: {(views_o / to) / (views_a / ta):.2f}x (ours vs authors' schedule)")

if __name__ == '__main__':
    main()
