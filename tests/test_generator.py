"a2lit.generator: shapes, truncation, seeds, save/load, inversion, exact GAN resume, checkpoint faults, shipped weights."
import json
from dataclasses import replace
from pathlib import Path
import pytest
import torch
import torch.nn.functional as F
import fastcore.test as fct
from a2lit.core import load_artifact, save_artifact, state_hash
from a2lit.data import ImageSet
from a2lit.core import latest_checkpoint, flatten_optimizer
from a2lit.data import from_uint8
from a2lit.generator import Generator, GeneratorConfig, ModConv, tiny_config, demo_config, paper_config, save_generator, load_generator
from a2lit.gan_train import Discriminator, GANConfig, GANTrainer
from a2lit.invert import LatentEncoder, LatentEncoderConfig, LatentEncoderTrainer, save_latent_encoder, load_latent_encoder, invert, invert_dataset, reconstruction_loss
from a2lit.quality import frechet_distance, psnr, check_quality, export_weights, load_demo, unmet_targets

@pytest.fixture(scope='module')
def G():
    torch.manual_seed(0)
    g = Generator(tiny_config(16)).requires_grad_(False); g.estimate_mean_w(512); return g

def _data(n=48, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g), torch.zeros(n, dtype=torch.long), ['x'])

@pytest.mark.parametrize('size,num_ws', [(8, 4), (16, 6), (32, 8), (64, 10)])
def test_shapes(size, num_ws):
    g = Generator(replace(tiny_config(size), channel_max=8)).requires_grad_(False)
    fct.test_eq(g.num_ws, num_ws)
    x = g(torch.randn(3, g.z_dim))
    fct.test_eq(x.shape, (3, 3, size, size)); assert x.min() >= -1 and x.max() <= 1
    fct.test_eq(Discriminator(g.cfg)(x).shape, (3,))
    fct.test_eq(LatentEncoder(LatentEncoderConfig.for_generator(g.cfg))(x).shape, (3, num_ws, g.w_dim))

def test_presets():
    fct.test_eq((paper_config().num_ws, paper_config().w_dim, paper_config(64).num_ws), (8, 512, 10))
    fct.test_eq([paper_config().channels(r) for r in (4, 8, 16, 32)], [512] * 4)
    fct.test_eq(demo_config().num_ws, 8)

def test_modconv_cheap_equals_grouped():
    m = ModConv(6, 5, 7).requires_grad_(False)
    x, w = torch.randn(4, 6, 8, 8, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    m = m.double()
    fct.test_close(m(x, w), m(x, w, fused=True), eps=1e-10)
    # and against a per-sample loop written from the definition
    for b in range(4):
        s = m.affine(w[b:b + 1])[0]
        wt = m.weight * m.gain * s[None, :, None, None]
        wt = wt / wt.square().sum((1, 2, 3), keepdim=True).add(1e-8).sqrt()
        fct.test_close(m(x, w)[b], F.conv2d(x[b:b + 1], wt, padding=1)[0], eps=1e-10)

def test_truncation(G):
    w = G.map(torch.randn(7, G.z_dim))
    fct.test_eq(G.truncate(w, 1.0), w)
    fct.test_close(G.truncate(w, 0.0), G.w_avg.expand_as(w), eps=1e-6)
    fct.test_close(G.truncate(w, 0.7), G.w_avg + 0.7 * (w - G.w_avg), eps=1e-6)
    # the stored mean is the mean of 4096 mapped samples, recomputed independently
    mean = G.mapping(torch.randn(4096, G.z_dim, generator=torch.Generator().manual_seed(0))).double().mean(0).float()
    fct.test_close(G.estimate_mean_w(4096).clone(), mean, eps=1e-5)
    fct.test_close(G(torch.randn(5, G.z_dim), psi=0.0), G.synthesis(G.broadcast(G.w_avg.expand(5, -1))), eps=1e-6)

def test_same_seed_same_samples(G):
    fct.test_eq(G.sample(6, seed=11), G.sample(6, seed=11))
    assert not torch.equal(G.sample(6, seed=11), G.sample(6, seed=12))
    fct.test_eq(G.sample(6, seed=11).dtype, torch.uint8)

def test_save_load_roundtrip(G, tmp_path):
    p = save_generator(G, tmp_path / 'g.safetensors', {'kimg': 1})
    G2 = load_generator(p)
    z = torch.randn(4, G.z_dim)
    fct.test_eq(G2(z, psi=0.7), G(z, psi=0.7)); fct.test_eq(state_hash(G2), state_hash(G))
    # fp16 storage loads back into a float32 model (what the shipped weights use)
    sd = {k: v.half() for k, v in G.state_dict().items()}
    save_artifact(tmp_path / 'h.safetensors', sd, {'kind': 'generator', 'config': json.loads(json.dumps(G.cfg.__dict__))})
    fct.test_close(load_generator(tmp_path / 'h.safetensors')(z), G(z), eps=2e-2)
    fct.test_fail(lambda: load_latent_encoder(p), contains='is not an encoder')
    E = LatentEncoder(LatentEncoderConfig.for_generator(G.cfg)).requires_grad_(False)
    pe = save_latent_encoder(E, tmp_path / 'e.safetensors'); x = G.sample(3)
    fct.test_eq(load_latent_encoder(pe)(x), E(x))

def test_bad_input(G):
    fct.test_fail(lambda: GeneratorConfig(size=24), contains='power of two >= 8, got 24')
    fct.test_fail(lambda: G(torch.randn(3, G.z_dim + 1)), contains=f'z must be [B, {G.z_dim}]')
    fct.test_fail(lambda: G.synthesis(torch.randn(3, G.num_ws + 1, G.w_dim)), contains='W+ latents must be')
    fct.test_fail(lambda: G.truncate(torch.randn(3, 5), 0.5), contains='w_dim')
    fct.test_fail(lambda: invert(G, None, torch.zeros(2, 3, 32, 32, dtype=torch.uint8)), contains='images to invert')
    fct.test_fail(lambda: frechet_distance(torch.randn(1, 4), torch.randn(5, 4)), contains='at least 2 samples')

def test_refinement_lowers_loss(G):
    x = G.sample(4, seed=5, psi=0.9)
    w0 = G.broadcast(G.w_avg.expand(4, -1))
    with torch.no_grad(): l0 = reconstruction_loss(G, w0, from_uint8(x))
    w, l = invert(G, None, x, steps=40, return_loss=True)
    assert (l < 0.8 * l0).all(), (l0, l)
    assert psnr(G.synthesis(w), x).mean() > psnr(G.synthesis(w0), x).mean()

def test_invert_dataset_skips_done_chunks(G, tmp_path):
    imgs = G.sample(9, seed=2)
    calls = []
    class Counting(torch.nn.Module):   # a "perceptual" network that counts the batches it sees
        def forward(self, x): calls.append(len(x)); return F.avg_pool2d(x, 4)
    f = Counting()
    W = invert_dataset(G, None, imgs, tmp_path / 'w.safetensors', batch_size=4, steps=2, chunk=4, perceptual=f, progress=False)
    fct.test_eq(W.shape, (9, G.num_ws, G.w_dim))
    n_full = len(calls); calls.clear()
    fct.test_eq(invert_dataset(G, None, imgs, tmp_path / 'w.safetensors', batch_size=4, steps=2, chunk=4, perceptual=f, progress=False), W)
    fct.test_eq(len(calls), 0)                                   # finished: nothing recomputed
    t, m = load_artifact(tmp_path / 'w.safetensors')
    parts = tmp_path / 'w.safetensors.parts'
    save_artifact(parts / '00000000.safetensors', {'w_plus': W[:4], 'loss': t['loss'][:4]}, {'key': m['key'], 'start': 0})
    (tmp_path / 'w.safetensors').unlink()
    W2 = invert_dataset(G, None, imgs, tmp_path / 'w.safetensors', batch_size=4, steps=2, chunk=4, perceptual=f, progress=False)
    fct.test_close(W2, W, eps=1e-6)
    assert 0 < len(calls) < n_full                               # only the two unfinished chunks were inverted

def _cfg(**kw): return GANConfig(tiny_config(16), batch_size=8, r1_every=2, ema_kimg=0.01, **kw)

def test_resumed_gan_equals_uninterrupted(tmp_path):
    data = _data()
    full = GANTrainer(_cfg(), data, tmp_path / 'a').train(steps=7, progress=False)
    GANTrainer(_cfg(), data, tmp_path / 'b').train(steps=3, progress=False)
    b = GANTrainer(_cfg(), data, tmp_path / 'b'); assert b.resume(); fct.test_eq(b.step, 3)
    b.train(steps=5, progress=False)
    c2 = GANTrainer(_cfg(), data, tmp_path / 'b'); c2.resume(); fct.test_eq(c2.step, 5)   # a second interruption
    c2.train(steps=7, progress=False)
    for k in ('G', 'D', 'G_ema'): fct.test_eq(state_hash(getattr(c2, k)), state_hash(getattr(full, k)))
    for o in ('opt_g', 'opt_d'):
        fct.test_eq(state_hash(flatten_optimizer(getattr(c2, o), 'x')), state_hash(flatten_optimizer(getattr(full, o), 'x')))
    fct.test_eq(c2.rng.get_state(), full.rng.get_state())

def test_checkpoint_faults(tmp_path):
    data = _data()
    GANTrainer(_cfg(), data, tmp_path).train(steps=2, progress=False)
    good = latest_checkpoint(tmp_path)
    # another config: the mismatching keys are named
    fct.test_fail(lambda: GANTrainer(_cfg(lr=0.001, seed=3), data, tmp_path).resume(), contains='lr, seed differ')
    fct.test_fail(lambda: GANTrainer(replace(_cfg(), g=replace(tiny_config(16), w_dim=8)), data, tmp_path).resume(), contains='g.w_dim differ')
    # a truncated newest checkpoint is skipped in favour of the previous whole one
    tr = GANTrainer(_cfg(), data, tmp_path); tr.resume(); tr.train(steps=3, progress=False)
    newest = latest_checkpoint(tmp_path); assert newest != good
    newest.write_bytes(newest.read_bytes()[:100])
    fct.test_eq(latest_checkpoint(tmp_path), good)
    # a NaN loss stops training at once, names the step, and leaves the checkpoints alone
    tr = GANTrainer(_cfg(), data, tmp_path); tr.resume()
    with torch.no_grad(): tr.G.synth.const.fill_(float('nan'))
    before = sorted(p.name for p in tmp_path.glob('ckpt-*'))
    fct.test_fail(lambda: tr.train(steps=6, progress=False), contains='non-finite loss at step 2')
    fct.test_eq(sorted(p.name for p in tmp_path.glob('ckpt-*')), before)
    fct.test_fail(lambda: GANTrainer(_cfg(), _data(size=32), tmp_path), contains='32 px but the generator makes 16 px')
    fct.test_fail(lambda: GANTrainer(replace(_cfg(), batch_size=100), data, tmp_path), contains='larger than the dataset')

def test_encoder_training_resumes_exactly(G, tmp_path):
    data = _data()
    cfg = LatentEncoderConfig.for_generator(G.cfg, batch_size=8)
    D = Discriminator(G.cfg)
    full = LatentEncoderTrainer(cfg, G, data, tmp_path / 'a', feature_net=D).train(steps=4, progress=False)
    LatentEncoderTrainer(cfg, G, data, tmp_path / 'b', feature_net=D).train(steps=2, progress=False)
    e = LatentEncoderTrainer(cfg, G, data, tmp_path / 'b', feature_net=D); e.resume(); e.train(steps=4, progress=False)
    fct.test_eq(state_hash(e.E), state_hash(full.E))

WEIGHTS = Path(__file__).resolve().parent.parent / 'a2lit' / 'weights'

@pytest.mark.skipif(not any(WEIGHTS.glob('*.safetensors')), reason='no shipped weights yet')
def test_shipped_weights_match_their_hashes():
    for p in sorted(WEIGHTS.glob('*.safetensors')):
        t, meta = load_artifact(p)   # refuses a file whose tensors do not match the hash in its sidecar
        for k in ('command', 'seed', 'commit', 'kimg', 'wall_s'): assert k in meta, (p, k)
    required = {'psnr_train', 'psnr_test', 'acc_real', 'acc_recon', 'fd_generated', 'fd_real', 'max_prob_mean', 'targets_met'}
    for p in sorted(WEIGHTS.glob('*.safetensors')):
        meta = load_artifact(p, check=False)[1]
        assert required <= set(meta), (p, required - set(meta))
        # what the sidecar says about the targets is what the recorded numbers say, never more
        fct.test_eq(meta['targets_met'], {k: ok for k, (_, _, ok) in check_quality(meta).items()})

QUALITY = dict(psnr_train=27.5, psnr_test=24.0, acc_real=0.95, acc_recon=0.90, fd_generated=1.5, fd_real=0.1, max_prob_mean=0.85,
               class_hist=[0.1] * 10)

def test_export_weights_records_provenance_and_unmet_targets(tmp_path):
    run, data = tmp_path / 'run', _data()
    gcfg = GANConfig(tiny_config(16), batch_size=8)
    gt = GANTrainer(gcfg, data, run).train(steps=2, progress=False)
    LatentEncoderTrainer(LatentEncoderConfig.for_generator(gcfg.g, batch_size=8), gt.G_ema, data, run / 'encoder').train(steps=2, progress=False)
    (run / 'command.json').write_text(json.dumps({'argv': ['-m', 'a2lit.cli', 'gan', 'train', '--out', str(run)], 'args': {'seed': 0},
                                                   'commit': 'abc', 'torch': torch.__version__}))
    paths = export_weights(run, tmp_path / 'w', QUALITY)
    meta = load_artifact(paths['generator'])[1]
    fct.test_eq((meta['kimg'], meta['seed'], meta['commit'], meta['dtype']), (gt.kimg, 0, 'abc', 'float16'))
    fct.test_eq(meta['targets_met'], {'psnr_train': True, 'psnr_test': False, 'max_prob_mean': True, 'class_hist': True, 'acc_gap': True})
    fct.test_eq(unmet_targets(meta), ['psnr_test']); fct.test_eq(meta['invocations'], [])   # no invocations.jsonl in this run folder
    fct.test_eq(unmet_targets(load_artifact(paths['encoder'])[1]), ['psnr_test'])
    G2, E2 = load_demo(folder=tmp_path / 'w')
    z = torch.randn(3, G2.z_dim)
    with torch.no_grad():   # the fp16 copy draws the training run's EMA generator's images up to fp16 rounding
        fct.test_close(G2(z), gt.G_ema.eval()(z), eps=0.02)
    fct.test_fail(lambda: load_demo(folder=tmp_path), contains='no shipped Shapes-10 weights')

def test_gan_cost_counts_work_per_image_independent_of_batch(tmp_path):
    "`a2lit gan cost`: convolutions and matrix products scale with the batch, so the counted TFLOP per kimg is the same at any batch size."
    from a2lit.cli import main
    recs = []
    for b in (8, 16):
        out = tmp_path / f'b{b}.json'
        main(['gan', 'cost', '--config', 'tiny', '--size', '16', '--batch', str(b), '--steps', '1', '--json', str(out)])
        recs.append(json.loads(out.read_text()))
    assert recs[0]['tflop_per_kimg'] > 0
    fct.test_close(recs[0]['tflop_per_kimg'], recs[1]['tflop_per_kimg'], eps=1e-12)
    r = recs[1]; fct.test_close(r['kimg_per_h'], 16 / 1000 / r['s_per_step'] * 3600, eps=1e-6)
