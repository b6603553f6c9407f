"""Train a2lit's generator (GAN), then its encoder, resumably. Rerunning the same command continues from the newest checkpoint.

The demo weights shipped in a2lit/weights/ come from (one CPU core, hours):
    OMP_WAIT_POLICY=PASSIVE python tools/train_generator.py --out runs/gan-demo --config demo
A GPU user trains the paper-scale generator on CIFAR-10 with:
    python tools/train_generator.py --out runs/gan-cifar10 --config paper --dataset cifar10 --data data --batch 64 \
        --kimg 25000 --threads 0 --device cuda
"""
import argparse, json, math, os, platform, subprocess, sys, time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True, help='run folder (checkpoints, sample grids, log)')
    p.add_argument('--config', default='demo', choices=['demo', 'paper', 'tiny'], help='generator width/depth preset')
    p.add_argument('--dataset', default='shapes10', help="a2lit.data.load_dataset name")
    p.add_argument('--data', default=str(ROOT / 'data'), help='dataset root folder')
    p.add_argument('--size', type=int, default=None, help='image side (default: the dataset\'s)')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=0.0025)
    p.add_argument('--r1-gamma', type=float, default=0.01)
    p.add_argument('--ema-kimg', type=float, default=10.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--kimg', type=float, default=5000, help='GAN training length in thousands of real images shown to D')
    p.add_argument('--encoder-kimg', type=float, default=0, help='encoder training length after the GAN (0: skip)')
    p.add_argument('--ckpt-minutes', type=float, default=5)
    p.add_argument('--sample-minutes', type=float, default=10)
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads (0: leave torch\'s default)')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)

def main(argv=None):
    a = parse(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads); torch.set_num_interop_threads(1)
    sys.path.insert(0, str(ROOT))
    from a2lit.data import load_dataset, write_json
    from a2lit import generator as gen
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    log_path = out / 'log.txt'
    def log(msg):
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"; print(line, flush=True)
        with open(log_path, 'a') as f: f.write(line + '\n')
    data = load_dataset(a.dataset, a.data, 'train')
    size = a.size or data.size
    if size != data.size:   # e.g. a quick 16 px run: area-downsample (or bilinear-upsample) the uint8 images once
        from a2lit.data import ImageSet
        x = torch.nn.functional.interpolate(data.images.float(), size=(size, size), mode='area' if size < data.size else 'bilinear')
        data = ImageSet(x.round().clamp(0, 255).to(torch.uint8), data.labels, data.classes, None, data.name)
    g = {'demo': gen.demo_config, 'paper': gen.paper_config, 'tiny': gen.tiny_config}[a.config](size)
    cfg = gen.GANConfig(g, batch_size=a.batch, lr=a.lr, r1_gamma=a.r1_gamma, ema_kimg=a.ema_kimg, seed=a.seed)
    try: commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: commit = None
    write_json(out / 'command.json', {'argv': sys.argv, 'args': vars(a), 'commit': commit, 'torch': torch.__version__,
                                     'python': platform.python_version(), 'machine': platform.platform(), 'cpus': os.cpu_count()})
    tr = gen.GANTrainer(cfg, data, out, device=a.device)
    resumed = tr.resume()
    log(f"GAN {a.config} {size}px on {a.dataset} ({len(data)} images), batch {a.batch}, device {a.device}, threads {torch.get_num_threads()}; "
        + (f"resumed at step {tr.step} ({tr.kimg:.1f} kimg, {tr.wall / 3600:.2f} h)" if resumed else "from scratch"))
    if tr.kimg < a.kimg:
        t0, k0 = time.time(), tr.kimg
        tr.train(kimg=a.kimg, ckpt_every_s=a.ckpt_minutes * 60, sample_every_s=a.sample_minutes * 60, log=log)
        log(f"GAN done: {tr.kimg:.1f} kimg; {(tr.kimg - k0) / max(time.time() - t0, 1e-9) * 3600:.1f} kimg/h this run")
    tr.sample_grid(out / f"samples-{tr.step:08d}.png")
    if a.encoder_kimg > 0:
        if not hasattr(gen, 'EncoderTrainer'): log("this version has no encoder trainer; stopping after the GAN"); return
        et = gen.EncoderTrainer(gen.EncoderConfig.for_generator(tr.G_ema.cfg, batch_size=a.batch, seed=a.seed), tr.G_ema, data,
                                out / 'encoder', device=a.device, feature_net=tr.D)
        et.resume()
        et.train(kimg=a.encoder_kimg, ckpt_every_s=a.ckpt_minutes * 60, log=log)
        log(f"encoder done: {et.kimg:.1f} kimg")

if __name__ == '__main__':
    main()
