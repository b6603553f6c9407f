"""W-search on the CPU: how many latents one generator batch should hold. Our default pool on the CPU is 256 // n images
(about 256 latents per generator + encoder batch); the peer is the GPU default, a pool of 256 images (2,048 latents at
n = 8), which on a CPU falls out of cache. Same demo-size generator (weights do not change the cost), the demo encoder f,
the same latents; every image runs exactly `--steps` Adam steps (tol = 0), so both do the same work.
Measures latent-steps per second, ours and peer interleaved in one process, median of `--repeats`.

    OMP_WAIT_POLICY=PASSIVE python bench/search_pool.py [--images 256] [--n 8] [--steps 4] [--repeats 3]
"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, os, platform, statistics, time
import torch
from a2lit import generator as gen
from a2lit.search import w_search
from a2lit.models import ContrastiveModel
from a2lit.train import Encoder
from a2lit.generator import TruncatedSynthesis

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--images', type=int, default=256); ap.add_argument('--n', type=int, default=8)
    ap.add_argument('--steps', type=int, default=4); ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    G = gen.Generator(gen.demo_config(32)).eval().requires_grad_(False); G.estimate_mean_w(1024)
    g = TruncatedSynthesis(G)
    f = Encoder(ContrastiveModel('small5', 32, (512, 128)).eval(), 'shapes10').requires_grad_(False)
    w0 = G.broadcast(G.map(torch.randn(a.images, G.cfg.z_dim, generator=torch.Generator().manual_seed(1))))
    hp = dict(n=a.n, max_steps=a.steps, tol=0.0)
    ours_pool, peer_pool = max(1, 256 // a.n), 256
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.2f}")
    print(f"sizes: {a.images} images x {a.n} views x {a.steps} steps; demo generator (W+ {G.num_ws} x {G.w_dim}, 32 px), SmallConvNet(32, 5 stages) f; "
          f"ours: pool {ours_pool} images ({ours_pool * a.n} latents per batch), peer: pool {peer_pool} images ({min(peer_pool, a.images) * a.n} latents)")
    work = a.images * a.n * (a.steps + 1)                 # forward passes of the searched views (the last step only measures)
    t = {'ours': [], 'peer': []}
    for _ in range(a.repeats):
        for name, pool in (('ours', None), ('peer', peer_pool)):
            t0 = time.perf_counter()
            r = w_search(g, f, w0, chunk=pool, generator=torch.Generator().manual_seed(2), **hp)
            t[name].append(time.perf_counter() - t0)
            assert int(r.steps.min()) == a.steps
    med = {k: statistics.median(v) for k, v in t.items()}
    for k in t: print(f"{k}: {work / med[k]:.0f} latent-steps/s (median of {a.repeats}: {', '.join(f'{x:.2f}s' for x in t[k])})")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print(f"speedup: {med['peer'] / med['ours']:.2f}x (ours vs a 256-image pool)")

if __name__ == '__main__':
    main()
