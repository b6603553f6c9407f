"""The GPU check: what one GPU does with the paper-scale pieces, in one short run (under 8 minutes on a recent GPU).

    python bench/gpu_check.py [--device cuda] [--out reports/bench/gpu_check.json] [--smoke]

Prints one JSON object (and writes it to --out):
- SimCLR with ResNet-18 (CIFAR stem) at batch 512 on CIFAR-sized synthetic images: the trainer's images/s, fp32 and bf16
  autocast (the trainer's own steps: augmentation on the device, loss, optimiser);
- an A2 step (expert, expert, generated views; A2-InfoNCE) at the same batch, bf16: images/s counting the three views;
- W-search with the paper-scale generator (512 channels, w in R^512, 32 px) and a ResNet-18 f: latent-steps per second
  (latents x Adam steps, every step run: tol 0);
- `load_pretrained` of a rosinality-layout file of the paper-scale generator (written here from random weights) onto the
  device, and its synthesis in images/s.
Without a GPU it says so and exits 0; `--smoke` runs everything on the CPU at toy sizes, to check the script itself.
"""
import argparse, dataclasses, json, os, platform, sys, tempfile, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from a2lit.data import ImageSet
from a2lit.generator import Generator, paper_config, tiny_config, load_pretrained, rosinality_state
from a2lit.models import ContrastiveModel
from a2lit.search import w_search
from a2lit.train import Trainer, TrainConfig, Encoder
from a2lit.viewbank import ViewBank

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def synthetic(n, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g),
                    [str(i) for i in range(10)], None, 'cifar10')

def train_speed(dev, batch, n_images, epochs, amp, views=('expert', 'expert'), loss='simclr', bank=None, backbone='resnet18', width=64):
    "The trainer's images/s (images of the batch, each counted once per view) in its last epoch."
    cfg = TrainConfig(views=views, loss=loss, backbone=backbone, width=width, epochs=epochs, batch_size=batch, amp=amp, warmup_epochs=0,
                      optimizer='sgd', lr=0.06)
    t = Trainer(cfg, synthetic(n_images), bank=bank, device=dev, progress=False, log=lambda *a: None)
    t.fit()
    h = t.history[-1]
    return round(h['images_per_s'] * len(views), 1)

def search_speed(dev, G, f, n_images, n_views, steps):
    w0 = G.broadcast(G.map(torch.randn(n_images, G.z_dim, device=dev)))
    w_search(G.synthesis, f, w0, n=n_views, max_steps=2, tol=0.0)   # warm-up
    sync(dev); t0 = time.time()
    w_search(G.synthesis, f, w0, n=n_views, max_steps=steps, tol=0.0)
    sync(dev)
    return round(n_images * n_views * steps / (time.time() - t0), 1)

def rosinality_file(G, path):
    "G saved as rosinality's checkpoints are."
    torch.save({'g_ema': rosinality_state(G), 'args': argparse.Namespace(size=G.cfg.size, n_mlp=G.cfg.mapping_layers, latent=G.w_dim)}, path)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda')
    p.add_argument('--out', default=str(ROOT / 'reports' / 'bench' / 'gpu_check.json'))
    p.add_argument('--smoke', action='store_true', help='toy sizes on the CPU: checks that the script runs')
    a = p.parse_args(argv)
    rec = dict(machine=platform.platform(), torch=torch.__version__, started=time.strftime('%Y-%m-%d %H:%M:%S'))
    if a.smoke: dev = torch.device('cpu')
    elif not torch.cuda.is_available():
        rec['gpu'] = None; rec['note'] = 'no GPU available: nothing measured'
        print(json.dumps(rec, indent=1)); return rec
    else: dev = torch.device(a.device)
    if dev.type == 'cuda':
        rec['gpu'] = torch.cuda.get_device_name(dev); rec['bf16'] = torch.cuda.is_bf16_supported()
        torch.backends.cudnn.benchmark = True
    S = dict(batch=16, n=64, epochs=2, backbone='small', width=8, search_images=4, views=2, steps=3, synth=16, cfg=tiny_config(32)) if a.smoke else \
        dict(batch=512, n=512 * 12, epochs=2, backbone='resnet18', width=64, search_images=256, views=8, steps=20, synth=2048, cfg=paper_config(32))
    rec['sizes'] = {k: v for k, v in S.items() if k != 'cfg'}
    t_all = time.time()
    kw = dict(backbone=S['backbone'], width=S['width'])
    rec['simclr_images_per_s_fp32'] = train_speed(dev, S['batch'], S['n'], S['epochs'], False, **kw)
    rec['simclr_images_per_s_bf16'] = train_speed(dev, S['batch'], S['n'], S['epochs'], True, **kw)
    data = synthetic(S['n'])
    bank = ViewBank(torch.zeros(S['n'], 1, 1, 1), data.images[:, None].clone(), {'method': 'synthetic', 'dataset_hash': data.hash(), 'n_images': S['n']})
    rec['a2_images_per_s_bf16'] = train_speed(dev, S['batch'], S['n'], S['epochs'], True, ('expert', 'expert', 'generated'), 'a2_infonce', bank, **kw)
    torch.manual_seed(0)
    G = Generator(S['cfg']).to(dev).eval().requires_grad_(False)
    G.estimate_mean_w(1024)
    f = Encoder(ContrastiveModel(S['backbone'], S['width'], (512, 128)).to(dev), 'cifar10')
    rec['w_search_latent_steps_per_s'] = search_speed(dev, G, f, S['search_images'], S['views'], S['steps'])
    with tempfile.TemporaryDirectory() as d:
        rosinality_file(Generator(dataclasses.replace(S['cfg'], resample='fir', conv_clamp=None)), Path(d) / 'g.pt')   # the layout rosinality stores
        sync(dev); t0 = time.time()
        Gp = load_pretrained(Path(d) / 'g.pt', dev)
        sync(dev); rec['load_pretrained_s'] = round(time.time() - t0, 2)
    with torch.no_grad():
        w = Gp.broadcast(Gp.map(torch.randn(S['synth'], Gp.z_dim, device=dev)))
        for dt in (torch.float32, torch.bfloat16):
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dt == torch.bfloat16):
                Gp.synthesis(w[:64]); sync(dev); t0 = time.time()
                for i in range(0, len(w), 256): Gp.synthesis(w[i:i + 256])
                sync(dev)
            rec[f"synthesis_images_per_s_{'bf16' if dt == torch.bfloat16 else 'fp32'}"] = round(len(w) / (time.time() - t0), 1)
    rec['seconds'] = round(time.time() - t_all, 1)
    text = json.dumps(rec, indent=1)
    print(text)
    if not a.smoke:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(text + '\n')
    return rec

if __name__ == '__main__': main()
