"""Train a2lit's generator (GAN), then its encoder, resumably. Rerunning the same command continues from the newest checkpoint.

The demo weights shipped in a2lit/weights/ come from (one CPU core, many hours; the same line resumes it):
    OMP_WAIT_POLICY=PASSIVE python tools/train_generator.py --out runs/gan-demo --config demo --kimg 5000 --encoder-kimg 300
A session's processes end with it and runs/ is not kept: before stopping, snapshot the newest checkpoint into the repo
(commit it), and the next session resumes from it (the snapshot is copied into --out when --out has no checkpoint):
    python tools/train_generator.py --out runs/gan-demo --config demo --snapshot checkpoints/gan-demo
    OMP_WAIT_POLICY=PASSIVE python tools/train_generator.py --out runs/gan-demo --config demo --kimg 5000 --encoder-kimg 300 \
        --resume-from checkpoints/gan-demo
Measure the newest checkpoint (and export the weights: refused unless every target of issue 3 is met, or --allow-unmet,
which records the unmet targets in the sidecars under 'targets_met'):
    OMP_WAIT_POLICY=PASSIVE python tools/train_generator.py --out runs/gan-demo --config demo --eval [--export a2lit/weights [--allow-unmet]]
(--eval builds the config from the same flags, so pass the training run's --batch/--lr/--r1-gamma/--ema-kimg/--seed if they differ from the defaults.)
A GPU user trains the paper-scale generator on CIFAR-10 with:
    python tools/train_generator.py --out runs/gan-cifar10 --config paper --dataset cifar10 --data data --download --batch 64 \
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
    p.add_argument('--download', action='store_true', help='let load_dataset download CIFAR/TinyImageNet into --data')
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
    p.add_argument('--eval', action='store_true', help='measure the newest checkpoint (no training): samples, and inversion if an encoder exists')
    p.add_argument('--eval-samples', type=int, default=2000)
    p.add_argument('--eval-recon', type=int, default=500, help='images per split to invert in --eval')
    p.add_argument('--eval-steps', type=int, default=150, help='refinement steps in --eval')
    p.add_argument('--eval-lr', type=float, default=0.03, help='Adam learning rate of the refinement in --eval')
    p.add_argument('--snapshot', default=None, help='copy the newest whole checkpoint (and encoder checkpoint), log, commands and evals of --out here, then stop')
    p.add_argument('--resume-from', default=None, help='a snapshot folder: copied into --out first when --out holds no checkpoint')
    p.add_argument('--export', default=None, help='with --eval: write the weights + measured numbers here (e.g. a2lit/weights) if every target is met')
    p.add_argument('--allow-unmet', action='store_true', help='with --export: export even if some targets are not met (the sidecar records which)')
    return p.parse_args(argv)

def load_split(a, split):
    "A split of the dataset, resized once to --size if that differs (area-downsampling or bilinear upsampling of the uint8 images)."
    import torch
    from a2lit.data import load_dataset, ImageSet
    data = load_dataset(a.dataset, a.data, split, download=a.download)
    size = a.size or data.size
    if size == data.size: return data
    x = torch.nn.functional.interpolate(data.images.float(), size=(size, size), mode='area' if size < data.size else 'bilinear')
    return ImageSet(x.round().clamp(0, 255).to(torch.uint8), data.labels, data.classes, None, data.name)

def evaluate(a, cfg, data, out, log):
    "Measure the newest checkpoint with a2lit.generator.evaluate_generator; the Shapes-10 classifier is trained once and cached in the run folder."
    import torch
    from a2lit.data import load_dataset, train_classifier, save_artifact, load_artifact, write_json, SmallConvNet
    from a2lit import generator as gen
    tr = gen.GANTrainer(cfg, data, out, device=a.device)
    if not tr.resume(): raise SystemExit(f"no checkpoint in {out}")
    G = tr.G_ema.eval()
    test = load_split(a, 'test')
    cp = out / 'classifier.safetensors'
    clf = torch.nn.Sequential(SmallConvNet(32), torch.nn.Linear(128, data.num_classes))
    if cp.exists(): clf.load_state_dict(load_artifact(cp)[0])
    else:
        t0 = time.time(); clf = train_classifier(data, epochs=8, seed=0)
        save_artifact(cp, clf.state_dict(), {'epochs': 8, 'seed': 0, 'train_s': time.time() - t0}); log(f"classifier trained in {time.time() - t0:.0f} s")
    clf.eval()
    acc = (gen.classifier_outputs(clf, test.images)[1].argmax(1) == test.labels).float().mean().item()
    E, enc = None, gen.latest_checkpoint(out / 'encoder')
    if enc is not None:
        et = gen.EncoderTrainer(gen.EncoderConfig.for_generator(G.cfg, batch_size=a.batch, seed=a.seed), G, data, out / 'encoder', device=a.device)
        et.resume(); E = et.E.eval().requires_grad_(False)
    q = gen.sample_quality(G, clf, data.images, test.images, n=a.eval_samples) if E is None else \
        gen.evaluate_generator(G, E, clf, data, test, n_samples=a.eval_samples, n_recon=a.eval_recon, steps=a.eval_steps, lr=a.eval_lr)
    q = {k: v for k, v in q.items() if not k.startswith('examples_')}
    q.update(step=tr.step, kimg=tr.kimg, classifier_test_acc=acc, psi=1.0)
    write_json(out / f"eval-{tr.step:08d}.json", q)
    log(f"eval at {tr.kimg:.1f} kimg: " + json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in q.items()}))
    gen.show_samples(G, 64, path=out / f"eval-samples-{tr.step:08d}.png")
    if a.export:
        if E is None: raise SystemExit("no encoder yet: nothing exported")
        checks = gen.check_quality(q)
        unmet = {k: v for k, v in checks.items() if not v[2]}
        if unmet and not a.allow_unmet: raise SystemExit(f"targets not met, nothing exported (--allow-unmet exports anyway and records it): {unmet}")
        log(f"exported {gen.export_weights(out, a.export, q)}" + (f"; targets NOT met, recorded in the sidecars: {unmet}" if unmet else "; every target met"))

SNAPSHOT_FILES = ('log.txt', 'command.json', 'invocations.jsonl', 'classifier.safetensors', 'classifier.safetensors.json')

def _copy(f, dst_dir):
    "Copy file `f` into `dst_dir` atomically."
    import shutil
    from a2lit.data import atomic_path
    with atomic_path(dst_dir / f.name) as tmp: shutil.copyfile(f, tmp)

def _copy_checkpoint(src_dir, dst_dir, gen):
    "Copy the newest whole checkpoint of `src_dir` (with its JSON sidecar) into `dst_dir` atomically; drop older ones there."
    p = gen.latest_checkpoint(src_dir)
    if p is None: return None
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in (p, Path(str(p) + '.json')):
        if f.exists(): _copy(f, dst_dir)
    for old in dst_dir.glob('ckpt-*.safetensors*'):
        if not old.name.startswith(p.name): old.unlink()
    return dst_dir / p.name

def snapshot(out: Path, dest: Path, gen, log):
    "What a later session needs to resume and judge the run: newest GAN and encoder checkpoints, the log, commands, evals, newest samples."
    ck = _copy_checkpoint(out, dest, gen)
    if ck is None: raise SystemExit(f"no whole checkpoint in {out}: nothing to snapshot")
    enc = _copy_checkpoint(out / 'encoder', dest / 'encoder', gen) if (out / 'encoder').is_dir() else None
    extra = [out / f for f in SNAPSHOT_FILES if (out / f).exists()] + sorted(out.glob('eval-*.json'))
    extra += sorted(out.glob('eval-samples-*.png'))[-1:] + sorted(out.glob('samples-*.png'))[-1:]
    for old in dest.glob('*samples-*.png'):                  # only the newest grids travel
        if old.name not in {f.name for f in extra}: old.unlink()
    for f in extra: _copy(f, dest)
    log(f"snapshot of {out} in {dest}: {ck.name}" + (f", encoder {enc.name}" if enc else '') + f", {len(extra)} other files")

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
    data = load_split(a, 'train')
    size = data.size
    g = {'demo': gen.demo_config, 'paper': gen.paper_config, 'tiny': gen.tiny_config}[a.config](size)
    cfg = gen.GANConfig(g, batch_size=a.batch, lr=a.lr, r1_gamma=a.r1_gamma, ema_kimg=a.ema_kimg, seed=a.seed)
    try: commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: commit = None
    if a.snapshot: return snapshot(out, Path(a.snapshot), gen, log)
    if a.resume_from and gen.latest_checkpoint(out) is None:
        src = Path(a.resume_from)
        if _copy_checkpoint(src, out, gen) is None: raise SystemExit(f"--resume-from {src}: no whole checkpoint there")
        if (src / 'encoder').is_dir(): _copy_checkpoint(src / 'encoder', out / 'encoder', gen)
        for f in SNAPSHOT_FILES:
            if (src / f).exists() and not (out / f).exists(): _copy(src / f, out)
        log(f"copied the snapshot {src} into {out}")
    if not a.eval:
        rec = {'argv': sys.argv, 'args': vars(a), 'commit': commit, 'torch': torch.__version__, 'started': time.strftime('%Y-%m-%d %H:%M:%S'),
               'python': platform.python_version(), 'machine': platform.platform(), 'cpus': os.cpu_count()}
        if not (out / 'command.json').exists(): write_json(out / 'command.json', rec)   # the command that started the run
        with open(out / 'invocations.jsonl', 'a') as f: f.write(json.dumps(rec) + '\n')   # every start and resume
    if a.eval: return evaluate(a, cfg, data, out, log)
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
