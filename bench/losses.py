"""Time one forward+backward of each loss in a2lit.losses, relative to nt_xent, and our nt_xent against lightly's NTXentLoss.

Usage: python bench/losses.py [--B 512] [--D 128] [--K 1] [--runs 21]
Runs on one CPU thread (torch.set_num_threads(1)) so that the numbers do not depend on how busy the other cores are;
all losses are timed in one process, interleaved run by run, and the median of `--runs` runs is reported.
"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import argparse, platform, statistics, time
import torch
from lightly.loss import NTXentLoss
from a2lit.losses import nt_xent, info_nce, a1_loss, a2_full, a2_simclr, a2_infonce

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--B', type=int, default=512); ap.add_argument('--D', type=int, default=128)
    ap.add_argument('--K', type=int, default=1); ap.add_argument('--runs', type=int, default=21)
    ap.add_argument('--tau', type=float, default=0.5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(a.B, a.D, generator=g), torch.randn(a.B, a.D, generator=g)      # raw projector outputs: the losses normalise
    z3 = torch.randn(a.B, a.D, generator=g) if a.K == 1 else torch.randn(a.B, a.K, a.D, generator=g)
    lightly_loss = NTXentLoss(temperature=a.tau)
    cases = {
        'nt_xent': lambda x, y, z: nt_xent(x, y, a.tau),
        'info_nce': lambda x, y, z: info_nce(x, y, a.tau),
        'a1_loss': lambda x, y, z: a1_loss(x, z if z.ndim == 2 else z[:, 0], a.tau),
        'a2_full': lambda x, y, z: a2_full(x, y, z, a.tau),
        'a2_simclr': lambda x, y, z: a2_simclr(x, y, z, a.tau, 0.5),
        'a2_infonce': lambda x, y, z: a2_infonce(x, y, z, a.tau, 0.5),
        'lightly NTXentLoss': lambda x, y, z: lightly_loss(x, y),
    }
    # same value first: the comparison with lightly is like for like
    assert abs(nt_xent(z1, z2, a.tau).item() - lightly_loss(z1, z2).item()) < 1e-5
    times = {k: [] for k in cases}
    def once(fn):
        xs = [t.clone().requires_grad_() for t in (z1, z2, z3)]
        t0 = time.perf_counter()
        fn(*xs).backward()
        dt = time.perf_counter() - t0
        return dt
    for fn in cases.values():                          # warm-up
        for _ in range(3): once(fn)
    for _ in range(a.runs):                            # interleaved, so slow drifts of the machine hit every loss alike
        for k, fn in cases.items(): times[k].append(once(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible; "
          f"torch {torch.__version__}; torch.set_num_threads(1)")
    print(f"sizes: B={a.B}, D={a.D}, K={a.K}, tau={a.tau}; float32; one forward+backward; median of {a.runs} runs (after 3 warm-up)")
    base = med['nt_xent']
    print(f"{'loss':20s} {'ms':>8s} {'vs nt_xent':>11s}")
    for k, v in med.items(): print(f"{k:20s} {v * 1e3:8.2f} {v / base:10.2f}x")
    n2, n3 = 2 * a.B, (2 + a.K) * a.B
    print(f"A2 cost vs SimCLR (target < 2x): a2_simclr {med['a2_simclr'] / base:.2f}x, a2_infonce {med['a2_infonce'] / base:.2f}x, "
          f"a2_full {med['a2_full'] / base:.2f}x (a2_full has {n3 * (n3 - 1) / (n2 * (n2 - 1)):.2f}x SimCLR's logits by definition)")
    print(f"speedup: {med['lightly NTXentLoss'] / med['nt_xent']:.2f}x (ours vs lightly NTXentLoss)")

if __name__ == '__main__': main()
