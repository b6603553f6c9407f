"""Which Adam learning rate the inversion's refinement should use: class preservation and PSNR of G(invert(x)) per setting.

    python tools/refine_lr_probe.py [--steps 150] [--lrs 0.01 0.03 0.1] [--n 200] [--classifier checkpoints/gan-demo/classifier.safetensors]

Inverts `--n` Shapes-10 training images with the shipped generator and encoder (a2lit/weights) and prints, for each learning
rate, the mean PSNR of the reconstructions and the share of them that the Shapes-10 classifier of the generator's --eval
recognises, beside its accuracy on the real images. The images are positions 500 onward of the seed-0 permutation of the
training set: outside the 500 that `tools/train_generator.py --eval` measures, so choosing a setting here does not tune on
the images the quality numbers are reported on.
"""
import argparse, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=150)
    p.add_argument('--lrs', type=float, nargs='+', default=[0.01, 0.03, 0.1])
    p.add_argument('--n', type=int, default=200)
    p.add_argument('--data', default=str(ROOT / 'data'))
    p.add_argument('--classifier', default=str(ROOT / 'checkpoints' / 'gan-demo' / 'classifier.safetensors'))
    p.add_argument('--threads', type=int, default=0)
    a = p.parse_args(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    sys.path.insert(0, str(ROOT))
    from a2lit import generator as gen
    from a2lit.data import load_dataset, load_artifact, SmallConvNet
    train = load_dataset('shapes10', a.data, 'train')
    G, E = gen.load_demo()
    clf = torch.nn.Sequential(SmallConvNet(32), torch.nn.Linear(128, train.num_classes))
    clf.load_state_dict(load_artifact(a.classifier)[0]); clf.eval()
    i = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[500:500 + a.n]
    x, y = train.images[i], train.labels[i]
    print(f"{a.n} Shapes-10 training images outside those --eval measures; shipped generator {G.cfg.w_dim}-d w, {a.steps} refinement steps; torch {torch.__version__}")
    for lr in a.lrs:
        t0 = time.time(); r = gen.reconstruction_quality(G, E, clf, x, y, steps=a.steps, lr=lr)
        print(f"lr {lr:g}: PSNR {r['psnr']:.2f} dB, classifier on reconstructions {r['acc_recon']:.1%} (real images {r['acc_real']:.1%}), {time.time() - t0:.0f} s", flush=True)

if __name__ == '__main__':
    main()
