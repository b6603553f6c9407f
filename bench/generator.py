"""Modulated convolution, two ways: a2lit's cheap form (scale activations by the style, one shared conv, scale outputs by the
demodulation coefficient) vs the literal form (a per-sample modulated weight, run as a grouped conv), timed on the whole
synthesis network (forward + backward, as in GAN training) and on forward only (as in W-search), plus the demo generator's
sampling throughput.

Usage: python bench/generator.py [--config demo|paper] [--batch 32] [--runs 7]
Runs on one CPU thread (torch.set_num_threads(1)); both forms are timed in one process, interleaved run by run, median reported.
"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import argparse, platform, statistics, time
import torch
from a2lit.generator import Generator, demo_config, paper_config

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', default='demo', choices=['demo', 'paper']); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--runs', type=int, default=7); ap.add_argument('--iters', type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1); torch.manual_seed(0)
    G = Generator({'demo': demo_config, 'paper': paper_config}[a.config]())
    w = G.broadcast(G.map(torch.randn(a.batch, G.z_dim))).detach().clone().requires_grad_(True)
    with torch.no_grad():   # same numbers first
        err = (G.synthesis(w, fused=False) - G.synthesis(w, fused=True)).abs().max().item()
    assert err < 1e-4, err
    def train_step(fused):
        t = time.perf_counter()
        for _ in range(a.iters):
            G.zero_grad(set_to_none=True); w.grad = None
            G.synthesis(w, clamp=False, fused=fused).square().mean().backward()
        return a.iters / (time.perf_counter() - t)
    @torch.no_grad()
    def forward(fused):
        t = time.perf_counter()
        for _ in range(a.iters): G.synthesis(w, fused=fused)
        return a.iters / (time.perf_counter() - t)
    res = {k: [] for k in ('train_ours', 'train_peer', 'fwd_ours', 'fwd_peer')}
    train_step(False); train_step(True)   # warm-up
    for _ in range(a.runs):
        res['train_ours'].append(train_step(False)); res['train_peer'].append(train_step(True))
        res['fwd_ours'].append(forward(False)); res['fwd_peer'].append(forward(True))
    m = {k: statistics.median(v) for k, v in res.items()}
    n_params = sum(p.numel() for p in G.parameters())
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, torch {torch.__version__}, threads 1")
    print(f"generator: {a.config} config, {G.cfg.size} px, num_ws {G.num_ws}, w_dim {G.w_dim}, {n_params / 1e6:.2f}M parameters; "
          f"batch {a.batch}; median of {a.runs} runs x {a.iters} iterations; max |difference| of the two forms {err:.1e}")
    print(f"synthesis forward+backward: ours {m['train_ours']:.2f} it/s ({m['train_ours'] * a.batch:.0f} images/s), "
          f"grouped {m['train_peer']:.2f} it/s ({m['train_peer'] * a.batch:.0f} images/s)")
    print(f"synthesis forward only:     ours {m['fwd_ours']:.2f} it/s ({m['fwd_ours'] * a.batch:.0f} images/s), "
          f"grouped {m['fwd_peer']:.2f} it/s ({m['fwd_peer'] * a.batch:.0f} images/s); forward-only speedup {m['fwd_ours'] / m['fwd_peer']:.2f}x")
    print(f"speedup: {m['train_ours'] / m['train_peer']:.2f}x (ours vs grouped per-sample-weight modulated conv, forward+backward)")

if __name__ == '__main__':
    main()
