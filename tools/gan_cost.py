"""What one thousand images (kimg) of GAN training costs: counted floating-point operations and, where it runs, measured time.

    python tools/gan_cost.py --config paper --batch 64 [--device cpu|cuda] [--steps 32] [--threads 2] [--json out.json]

Builds a `GANTrainer` exactly as tools/train_generator.py does (random 32-px images stand in for the data: the cost of a step
does not depend on what the pixels show), counts the floating-point operations of one step with R1 and one without with torch's FlopCounterMode (forward and backward
of convolutions and matrix products; elementwise work is not counted) and weighs them as a run does (R1 on one step in
`r1_every`), and times `--steps` steps without R1 and a quarter as many with it on `--device` (medians, after a warm-up). It prints TFLOP per kimg, the measured kimg/h, and
the hours per 1000 kimg that the counted work would take at a few sustained rates, so that a GPU user can place their own
measurement (the trainer's log prints kimg/h as it runs).
"""
import argparse, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='paper', choices=['paper', 'demo', 'tiny'])
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=8, help='timed steps without R1 (and a quarter as many with it)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: leave the default)')
    p.add_argument('--json', default=None, help='also write the numbers to this JSON file')
    a = p.parse_args(argv)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from a2lit import generator as gen
    from a2lit.data import ImageSet
    if a.threads: torch.set_num_threads(a.threads)
    g = {'paper': gen.paper_config, 'demo': gen.demo_config, 'tiny': gen.tiny_config}[a.config](a.size)
    cfg = gen.GANConfig(g, batch_size=a.batch)
    n = max(4 * a.batch, 256)
    data = ImageSet(torch.randint(0, 256, (n, 3, a.size, a.size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)),
                    torch.zeros(n, dtype=torch.long), ['x'], name='random')
    with tempfile.TemporaryDirectory() as tmp:
        tr = gen.GANTrainer(cfg, data, tmp, device=a.device)
        sync = (lambda: torch.cuda.synchronize()) if tr.dev.type == 'cuda' else (lambda: None)
        r1_step = lambda: setattr(tr, 'step', cfg.r1_every * (tr.step // cfg.r1_every + 1))   # the next step runs R1
        plain_step = lambda: setattr(tr, 'step', tr.step + (tr.step % cfg.r1_every == 0))      # the next step does not
        def counted(prepare):
            prepare()
            with FlopCounterMode(display=False) as fc: tr.train_step()
            return fc.get_total_flops()
        f_r1, f_plain = counted(r1_step), counted(plain_step)
        flops_step = (f_r1 + (cfg.r1_every - 1) * f_plain) / cfg.r1_every    # R1 runs on one step in r1_every
        def timed(prepare, n):
            out = []
            for _ in range(n):
                prepare(); sync(); t0 = time.perf_counter(); tr.train_step(); sync(); out.append(time.perf_counter() - t0)
            return out
        timed(plain_step, 1); timed(r1_step, 1)     # warm-up
        t_plain, t_r1 = timed(plain_step, a.steps), timed(r1_step, max(1, a.steps // 4))
    params = {k: sum(q.numel() for q in m.parameters()) for k, m in (('G', tr.G), ('D', tr.D))}
    tflop_kimg = flops_step * 1000 / a.batch / 1e12
    s_step = (statistics.median(t_r1) + (cfg.r1_every - 1) * statistics.median(t_plain)) / cfg.r1_every   # what a long run sees per step
    kimg_h = a.batch / 1000 / s_step * 3600
    dev = torch.cuda.get_device_name(tr.dev) if tr.dev.type == 'cuda' else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    rec = {'config': a.config, 'size': a.size, 'batch': a.batch, 'params': params, 'tflop_per_kimg': tflop_kimg,
           'device': dev, 'torch': torch.__version__, 'machine': platform.platform(), 'timed_steps': a.steps,
           's_per_step': s_step, 's_plain_step_median': statistics.median(t_plain), 's_r1_step_median': statistics.median(t_r1), 'kimg_per_h': kimg_h,
           'h_per_1000_kimg': 1000 / kimg_h}
    print(f"{a.config} GAN at {a.size} px, batch {a.batch}: G {params['G'] / 1e6:.2f}M, D {params['D'] / 1e6:.2f}M parameters; torch {torch.__version__}")
    print(f"counted work: {tflop_kimg:.2f} TFLOP per kimg (convolutions and matrix products, forward + backward, R1 every {cfg.r1_every} steps)")
    print(f"measured on {dev}: {s_step:.3f} s/step (medians: {rec['s_plain_step_median']:.3f} s without R1 over {len(t_plain)} steps, "
          f"{rec['s_r1_step_median']:.3f} s with R1 over {len(t_r1)}) = {kimg_h:.1f} kimg/h "
          f"= {rec['h_per_1000_kimg']:.1f} h per 1000 kimg")
    for r in (10, 25, 50):
        print(f"if sustained at {r} TFLOP/s: {tflop_kimg * 1000 / r / 60:.1f} min per 1000 kimg")
    if a.json: Path(a.json).write_text(json.dumps(rec, indent=1) + '\n')

if __name__ == '__main__':
    main()
