"""load_pretrained on small networks built here in NVIDIA's StyleGAN2-ADA pickle layout and rosinality's checkpoint
layout (without either project's code), against a forward pass written independently from each source's definitions."""
import argparse, math, os, pickle, sys, types
from collections import OrderedDict
import pytest, torch
import torch.nn.functional as F
import fastcore.test as fct
from a2lit.generator import load_pretrained, read_pretrained

SIZE, Z, W, CH = 16, 8, 8, {4: 8, 8: 8, 16: 4}
RES = [4, 8, 16]
NEVER_RUN = "raise RuntimeError('the embedded source ran')\n"   # an NVIDIA pickle carries its networks' source; ours would raise

def rnd(*shape, g): return torch.randn(*shape, generator=g)

# ------------------------------------------------------------------ the reference forward pass (both sources' definitions)
F1 = torch.tensor([1., 3., 3., 1.]); F2 = torch.outer(F1, F1); F2 = F2 / F2.sum()

def zero_insert(x):
    "Zeros between the pixels: [B, C, H, W] -> [B, C, 2H, 2W], x at the even positions."
    B, C, H, W_ = x.shape
    u = torch.zeros(B, C, 2 * H, 2 * W_, dtype=x.dtype); u[:, :, ::2, ::2] = x
    return u

def filt(x, pad):   # the 4x4 filter with gain 4 (upfirdn2d's up-sampling gain), depthwise, after padding (left, right, top, bottom)
    C = x.shape[1]
    return F.conv2d(F.pad(x, pad), (4 * F2).flip([0, 1]).expand(C, 1, 4, 4), groups=C)

def ref_modconv(x, weight, style, demod, up, eps=1e-8):
    "One sample at a time, the modulated weight built literally; up: zero insertion + full correlation with the flipped kernel (a transposed conv), then the filter."
    outs = []
    for b in range(len(x)):
        w = weight * style[b][None, :, None, None]
        if demod: w = w / torch.sqrt(w.square().sum((1, 2, 3), keepdim=True) + eps)
        xb = x[b:b + 1]
        if up:
            u = zero_insert(xb)[..., :-1, :-1]                    # 2H - 1 samples: x[i] at 2i
            y = F.conv2d(F.pad(u, (2, 2, 2, 2)), w.flip([2, 3]))    # 2H + 1
            y = filt(y, (1, 1, 1, 1))
        else: y = F.conv2d(xb, w, padding=w.shape[-1] // 2)
        outs.append(y)
    return torch.cat(outs)

def fc(x, weight, bias, lr_mul, act):
    y = x @ (weight * lr_mul / math.sqrt(weight.shape[1])).t() + bias * lr_mul
    return F.leaky_relu(y, 0.2) * math.sqrt(2) if act else y

def norm2(x): return x / torch.sqrt(x.square().mean(1, keepdim=True) + 1e-8)

def ref_generator(L, ws, clamp=None):
    """The synthesis from per-layer records L (const, convs, rgbs); the style of conv k is ws[:, k], RGB layer b
    shares the style after its block's last conv."""
    x = L['const'].expand(len(ws), -1, -1, -1)
    img, k = None, 0
    for b, r in enumerate(RES):
        for c in L['convs'][b]:
            s = fc(ws[:, k], c['aw'], c['ab'], 1.0, False)
            x = ref_modconv(x, c['w'], s, True, c['up'])
            x = x + c['noise'].view(1, 1, r, r) * c['strength'].reshape(())
            x = F.leaky_relu(x + c['b'].view(1, -1, 1, 1), 0.2) * math.sqrt(2)
            if clamp is not None: x = x.clamp(-clamp, clamp)
            k += 1
        t = L['rgbs'][b]
        s = fc(ws[:, k], t['aw'], t['ab'], 1.0, False) / math.sqrt(t['w'].shape[1])
        y = ref_modconv(x, t['w'], s, False, False) + t['b'].view(1, -1, 1, 1)
        if clamp is not None: y = y.clamp(-clamp, clamp)
        img = y if img is None else filt(zero_insert(img), (2, 1, 2, 1)) + y
    return img

# ------------------------------------------------------------------ an NVIDIA-style persistence pickle, made without NVIDIA's code
class _Obj:
    "Stands for one of NVIDIA's persistent network objects: pickles as _reconstruct_persistent_obj(meta), as theirs do."
    def __init__(self, name, params=(), buffers=(), modules=(), **attrs):
        state = dict(training=False, _parameters=OrderedDict((k, torch.nn.Parameter(v, requires_grad=False)) for k, v in params),
                     _buffers=OrderedDict(buffers), _non_persistent_buffers_set=set(), _modules=OrderedDict(modules),
                     _init_args=(), _init_kwargs=_fake['EasyDict'](attrs), **attrs)
        self.meta = dict(type='class', version=6, module_src=NEVER_RUN, class_name=name, state=state)
    def __reduce__(self): return (_fake['reconstruct'], (self.meta,))

_fake = {}

@pytest.fixture
def fake_nvidia_modules():
    "torch_utils.persistence and dnnlib.util as pickle.dump needs to name them; gone again before anything is loaded."
    def reconstruct(meta): raise RuntimeError('the real persistence hook ran')
    class EasyDict(dict): pass
    mods = {'torch_utils': types.ModuleType('torch_utils'), 'torch_utils.persistence': types.ModuleType('torch_utils.persistence'),
            'dnnlib': types.ModuleType('dnnlib'), 'dnnlib.util': types.ModuleType('dnnlib.util')}
    reconstruct.__module__, reconstruct.__qualname__ = 'torch_utils.persistence', '_reconstruct_persistent_obj'
    EasyDict.__module__, EasyDict.__qualname__ = 'dnnlib.util', 'EasyDict'
    mods['torch_utils.persistence']._reconstruct_persistent_obj = reconstruct; mods['dnnlib.util'].EasyDict = EasyDict
    sys.modules.update(mods); _fake.update(reconstruct=reconstruct, EasyDict=EasyDict)
    yield
    for k in mods: sys.modules.pop(k, None)

def fc_obj(g, ci, co, lr_mul=1.0, bias_init=0.0, act='linear'):
    return _Obj('FullyConnectedLayer', [('weight', rnd(co, ci, g=g)), ('bias', rnd(co, g=g) + bias_init)],
                activation=act, lr_multiplier=lr_mul, weight_gain=lr_mul / math.sqrt(ci), bias_gain=lr_mul)

def nvidia_network(g, c_dim=0, clamp=0.8, n_map=2):
    "(the G_ema object, the records of ref_generator, the mapping's tensors) of a random small StyleGAN2-ADA generator."
    L = {'const': rnd(CH[4], 4, 4, g=g), 'convs': [], 'rgbs': []}
    blocks = []
    for b, r in enumerate(RES):
        ci = CH[4] if b == 0 else CH[r // 2]
        layers = []; L['convs'].append([])
        for j, up in ([(1, False)] if b == 0 else [(0, True), (1, False)]):
            cin = ci if up or b == 0 else CH[r]
            rec = dict(w=rnd(CH[r], cin, 3, 3, g=g), aw=rnd(cin, W, g=g), ab=rnd(cin, g=g) + 1, noise=rnd(r, r, g=g),
                       strength=rnd(1, g=g).reshape(()), b=rnd(CH[r], g=g) * 0.3, up=up)
            aff = _Obj('FullyConnectedLayer', [('weight', rec['aw']), ('bias', rec['ab'])], activation='linear', lr_multiplier=1)
            layers.append((f'conv{j}', _Obj('SynthesisLayer', [('weight', rec['w']), ('noise_strength', rec['strength']), ('bias', rec['b'])],
                                            [('resample_filter', F2.clone()), ('noise_const', rec['noise'])], [('affine', aff)],
                                            resolution=r, up=2 if up else 1, use_noise=True, activation='lrelu', conv_clamp=clamp)))
            L['convs'][b].append(rec)
        t = dict(w=rnd(3, CH[r], 1, 1, g=g), aw=rnd(CH[r], W, g=g), ab=rnd(CH[r], g=g) + 1, b=rnd(3, g=g))
        L['rgbs'].append(t)
        torgb = _Obj('ToRGBLayer', [('weight', t['w']), ('bias', t['b'])], (), [('affine', _Obj('FullyConnectedLayer', [('weight', t['aw']), ('bias', t['ab'])]))],
                     conv_clamp=clamp, weight_gain=1 / math.sqrt(CH[r]))
        params = [('const', L['const'])] if b == 0 else []
        blocks.append((f'b{r}', _Obj('SynthesisBlock', params, [('resample_filter', F2.clone())], layers + [('torgb', torgb)],
                                     in_channels=0 if b == 0 else CH[r // 2], out_channels=CH[r], resolution=r, architecture='skip',
                                     is_last=r == SIZE, use_fp16=False, num_conv=len(layers), num_torgb=1)))
    synthesis = _Obj('SynthesisNetwork', (), (), blocks, w_dim=W, img_resolution=SIZE, img_channels=3, block_resolutions=RES, num_ws=6)
    maps = [fc_obj(g, Z + (W if c_dim else 0) if i == 0 else W, W, lr_mul=0.01, act='lrelu') for i in range(n_map)]
    mods = ([('embed', fc_obj(g, c_dim, W))] if c_dim else []) + [(f'fc{i}', m) for i, m in enumerate(maps)]
    w_avg = rnd(W, g=g)
    mapping = _Obj('MappingNetwork', (), [('w_avg', w_avg)], mods, z_dim=Z, c_dim=c_dim, w_dim=W, num_ws=6, num_layers=n_map, w_avg_beta=0.995)
    G = _Obj('Generator', (), (), [('synthesis', synthesis), ('mapping', mapping)], z_dim=Z, c_dim=c_dim, w_dim=W,
             img_resolution=SIZE, img_channels=3, num_ws=6,
             mapping_kwargs=_fake['EasyDict'](num_layers=n_map), synthesis_kwargs=_fake['EasyDict'](conv_clamp=clamp))
    m = {k: v.meta['state']['_parameters'] for k, v in mods}
    return G, L, dict(m=m, w_avg=w_avg, n=n_map, c_dim=c_dim)

def ref_mapping(M, z, c=None):
    x = norm2(z)
    if M['c_dim']: x = torch.cat([x, norm2(fc(c, M['m']['embed']['weight'], M['m']['embed']['bias'], 1.0, False))], 1)
    for i in range(M['n']): x = fc(x, M['m'][f'fc{i}']['weight'], M['m'][f'fc{i}']['bias'], 0.01, True)
    return x

def write_nvidia(path, G, extra=None):
    snap = dict(G=G, D=_Obj('Discriminator', [('w', torch.zeros(2))]), G_ema=G, augment_pipe=None,
                training_set_kwargs=_fake['EasyDict'](class_name='training.dataset.ImageFolderDataset', resolution=SIZE, use_labels=True))
    if extra: snap.update(extra)
    with open(path, 'wb') as f: pickle.dump(snap, f, protocol=3)   # stylegan2-ada-pytorch: pickle.dump of such a dict (Python 3's default protocol then)

@pytest.mark.parametrize('c_dim', [0, 10])
def test_nvidia_pickle_matches_reference(tmp_path, fake_nvidia_modules, c_dim):
    g = torch.Generator().manual_seed(c_dim)
    Gsrc, L, M = nvidia_network(g, c_dim=c_dim)
    write_nvidia(tmp_path / 'network-snapshot-000100.pkl', Gsrc)
    for k in list(sys.modules):
        if k.startswith(('torch_utils', 'dnnlib')): sys.modules.pop(k)   # the loader must not need (or find) NVIDIA's modules
    G = load_pretrained(tmp_path / 'network-snapshot-000100.pkl')
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    fct.test_eq((G.cfg.resample, G.cfg.conv_clamp, G.cfg.c_dim, G.cfg.mapping_layers, G.num_ws), ('fir', 0.8, c_dim, 2, 6))
    ws = torch.randn(3, 6, W, generator=g)
    ref = ref_generator(L, ws, clamp=0.8)
    out = G.synthesis(ws, clamp=False)
    assert (out - ref).abs().max() < 1e-4, (out - ref).abs().max()
    assert (ref.abs() >= 0.8 - 1e-6).any()                        # the clamp is reached, so it is tested
    fct.test_close(G.synthesis(ws, clamp=False, fused=True), ref, eps=1e-4)
    fct.test_eq(G.w_avg, M['w_avg'])                               # NVIDIA's stored mean w, not an estimate
    z = torch.randn(5, Z, generator=g)
    c = torch.nn.functional.one_hot(torch.arange(5) % 10, 10).float() if c_dim else None
    fct.test_close(G.map(z, c), ref_mapping(M, z, c), eps=1e-5)
    fct.test_close(G.truncate(G.map(z, c), 0.7), M['w_avg'] + 0.7 * (ref_mapping(M, z, c) - M['w_avg']), eps=1e-5)
    if c_dim:
        fct.test_fail(lambda: G.map(z), contains='class-conditional (c_dim=10): pass c, one-hot classes [B, 10]')
        fct.test_fail(lambda: G.map(z, torch.zeros(5, 3)), contains='c must be [5, 10], got (5, 3)')
        fct.test_eq(G.sample(4, seed=1).shape, (4, 3, SIZE, SIZE))
    else: fct.test_fail(lambda: G.map(z, torch.zeros(5, 10)), contains='unconditional: c must be None')

# ------------------------------------------------------------------ a rosinality-style checkpoint
def rosinality_network(g, n_mlp=8):
    "(the g_ema state dict, the records of ref_generator, the mapping) of a random small stylegan2-pytorch generator."
    sd, L = OrderedDict(), {'const': rnd(CH[4], 4, 4, g=g), 'convs': [], 'rgbs': []}
    for i in range(n_mlp): sd[f'style.{i + 1}.weight'], sd[f'style.{i + 1}.bias'] = rnd(W, W, g=g), rnd(W, g=g)
    sd['input.input'] = L['const'][None]
    k = 0
    for b, r in enumerate(RES):
        L['convs'].append([])
        for up in ([False] if b == 0 else [True, False]):
            cin = CH[4] if b == 0 else (CH[r // 2] if up else CH[r])
            rec = dict(w=rnd(CH[r], cin, 3, 3, g=g), aw=rnd(cin, W, g=g), ab=rnd(cin, g=g) + 1, noise=rnd(r, r, g=g),
                       strength=rnd(1, g=g), b=rnd(CH[r], g=g) * 0.3, up=up)
            p = 'conv1' if k == 0 else f'convs.{k - 1}'
            sd.update({f'{p}.conv.weight': rec['w'][None], f'{p}.conv.modulation.weight': rec['aw'], f'{p}.conv.modulation.bias': rec['ab'],
                       f'{p}.noise.weight': rec['strength'], f'{p}.activate.bias': rec['b'], f'noises.noise_{k}': rec['noise'][None, None]})
            if up: sd[f'{p}.conv.blur.kernel'] = 4 * F2
            L['convs'][b].append(rec); k += 1
        t = dict(w=rnd(3, CH[r], 1, 1, g=g), aw=rnd(CH[r], W, g=g), ab=rnd(CH[r], g=g) + 1, b=rnd(3, g=g))
        p = 'to_rgb1' if b == 0 else f'to_rgbs.{b - 1}'
        sd.update({f'{p}.conv.weight': t['w'][None], f'{p}.conv.modulation.weight': t['aw'], f'{p}.conv.modulation.bias': t['ab'],
                   f'{p}.bias': t['b'].view(1, 3, 1, 1)})
        if b: sd[f'{p}.upsample.kernel'] = 4 * F2
        L['rgbs'].append(t)
    return sd, L, dict(m={f'fc{i}': {'weight': sd[f'style.{i + 1}.weight'], 'bias': sd[f'style.{i + 1}.bias']} for i in range(n_mlp)}, n=n_mlp, c_dim=0)

def test_rosinality_checkpoint_matches_reference(tmp_path):
    g = torch.Generator().manual_seed(7)
    sd, L, M = rosinality_network(g)
    args = argparse.Namespace(size=SIZE, latent=W, n_mlp=8, channel_multiplier=2, iter=100)
    torch.save({'g': sd, 'd': {'x': torch.zeros(1)}, 'g_ema': sd, 'g_optim': {}, 'd_optim': {}, 'args': args}, tmp_path / '000100.pt')
    G = load_pretrained(tmp_path / '000100.pt')
    fct.test_eq((G.cfg.mapping_layers, G.cfg.resample, G.cfg.conv_clamp, G.cfg.size), (8, 'fir', None, SIZE))
    ws = torch.randn(3, 6, W, generator=g)
    ref = ref_generator(L, ws)
    assert (G.synthesis(ws, clamp=False) - ref).abs().max() < 1e-4
    z = torch.randn(6, Z, generator=g)
    fct.test_close(G.map(z), ref_mapping(M, z), eps=1e-5)
    gz = torch.Generator().manual_seed(0)    # the mean w: 4096 mapped samples (rosinality's mean_latent), here from a fixed seed
    mean = torch.cat([ref_mapping(M, torch.randn(1024, Z, generator=gz)) for _ in range(4)]).double().mean(0).float()
    fct.test_close(G.w_avg, mean, eps=1e-4)
    torch.save({'g_ema': sd, 'args': args}, tmp_path / 'legacy.pt', _use_new_zipfile_serialization=False)   # older torch's format
    assert (load_pretrained(tmp_path / 'legacy.pt').synthesis(ws, clamp=False) - ref).abs().max() < 1e-4

# ------------------------------------------------------------------ bad files: one line each, nothing executed
class _Evil:
    def __reduce__(self): return (os.system, (f'touch {self.flag}',))

def test_malicious_and_foreign_files_refused(tmp_path, fake_nvidia_modules):
    g = torch.Generator().manual_seed(1)
    Gsrc, _, _ = nvidia_network(g)
    flag = tmp_path / 'ran'
    evil = _Evil(); evil.flag = flag
    write_nvidia(tmp_path / 'evil.pkl', Gsrc, extra={'payload': evil})
    fct.test_fail(lambda: load_pretrained(tmp_path / 'evil.pkl'), contains='refused: the file needs posix.system, which a2lit will not run')
    sd, _, _ = rosinality_network(g)
    torch.save({'g_ema': sd, 'args': argparse.Namespace(size=SIZE), 'hook': evil}, tmp_path / 'evil.pt')
    fct.test_fail(lambda: load_pretrained(tmp_path / 'evil.pt'), contains='refused: the file needs posix.system')
    assert not flag.exists()
    # another network in each format
    write_nvidia(tmp_path / 'd-only.pkl', Gsrc, extra={'G_ema': _Obj('Discriminator', [('w', torch.zeros(2))])})
    fct.test_fail(lambda: load_pretrained(tmp_path / 'd-only.pkl'), contains='a pickle without a StyleGAN2-ADA G_ema generator')
    with open(tmp_path / 'plain.pkl', 'wb') as f: pickle.dump({'weights': [1, 2]}, f)
    fct.test_fail(lambda: load_pretrained(tmp_path / 'plain.pkl'), contains='holds weights')
    torch.save({'model': {'fc.weight': torch.zeros(2, 2)}}, tmp_path / 'resnet.pt')
    fct.test_fail(lambda: load_pretrained(tmp_path / 'resnet.pt'), contains='a torch checkpoint without a rosinality g_ema generator (it holds model)')
    sd2 = dict(sd); sd2['convs.0.conv.blur.kernel'] = torch.ones(4, 4) / 16   # a different up-sampling filter
    torch.save({'g_ema': sd2}, tmp_path / 'box.pt')
    fct.test_fail(lambda: load_pretrained(tmp_path / 'box.pt'), contains="convs.0.conv.blur.kernel is not StyleGAN2's [1,3,3,1] filter")
    sd3 = dict(sd); sd3['to_rgbs.1.skip.weight'] = torch.zeros(3, 3)
    torch.save({'g_ema': sd3}, tmp_path / 'extra.pt')
    fct.test_fail(lambda: load_pretrained(tmp_path / 'extra.pt'), contains='tensor to_rgbs.1.skip.weight (3, 3) has no place')
    # truncated files
    for name in ('evil.pt', 'd-only.pkl'):
        b = (tmp_path / name).read_bytes(); (tmp_path / f'cut-{name}').write_bytes(b[:len(b) // 2])
        fct.test_fail(lambda: load_pretrained(tmp_path / f'cut-{name}'), contains='not a StyleGAN2-ADA network pickle or a rosinality checkpoint, or truncated')
    fct.test_fail(lambda: load_pretrained(tmp_path / 'missing.pkl'), contains='no pretrained generator file')
    assert not flag.exists()

def test_embedded_source_never_runs(tmp_path, fake_nvidia_modules):
    "The pickle's module_src would raise if executed (and so would the persistence hook it names); loading works."
    Gsrc, _, _ = nvidia_network(torch.Generator().manual_seed(2))
    write_nvidia(tmp_path / 'n.pkl', Gsrc)
    fmt, T, cfg = read_pretrained(tmp_path / 'n.pkl')
    fct.test_eq(fmt, 'nvidia'); fct.test_eq(cfg.size, SIZE); assert 'synthesis.b16.torgb.weight' in T

# ------------------------------------------------------------------ a GPU preset with gan.source=pretrained, end to end at tiny sizes
def _cifar_folder(root, n=8):
    "A CIFAR-10 folder in the real layout (protocol-2 pickles of dicts), n images per batch."
    import numpy as np
    base = root / 'cifar-10-batches-py'; base.mkdir(parents=True)
    r = np.random.default_rng(0)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        d = {'data': r.integers(0, 256, (n, 3072), dtype=np.uint8), 'labels': r.integers(0, 10, n).tolist()}
        with open(base / name, 'wb') as f: pickle.dump(d, f, protocol=2)
    with open(base / 'batches.meta', 'wb') as f: pickle.dump({'label_names': [f'c{i}' for i in range(10)]}, f)

def _rosinality_file(path, size=32):
    "A 32-px rosinality-layout checkpoint made from a randomly initialised FIR generator of this package."
    from a2lit.generator import Generator, GeneratorConfig, rosinality_state
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(size=size, z_dim=16, w_dim=16, mapping_layers=8, channel_base=128, channel_max=16, resample='fir'))
    torch.save({'g_ema': rosinality_state(G), 'args': argparse.Namespace(size=size, n_mlp=8, latent=16)}, path)

def test_cifar10_preset_with_pretrained_generator(tmp_path):
    from a2lit.cli import main
    from a2lit.core import read_json, load_artifact
    _cifar_folder(tmp_path / 'data'); _rosinality_file(tmp_path / 'g.pt')
    tiny = dict(seeds='0', rows='simclr,a2-wsearch', **{'data.root': tmp_path / 'data', 'gan.source': 'pretrained', 'gan.path': tmp_path / 'g.pt',
                'train.backbone': 'small', 'train.width': 8, 'train.proj_dims': '32,16', 'train.epochs': 1, 'train.batch_size': 16,
                'gan.encoder_kimg': 0.032, 'gan.batch_size': 16, 'invert.steps': 2, 'invert.batch_size': 32, 'invert.vgg_weights': 'random', 'views.n': 2,
                'views.max_steps': 2, 'views.chunk_size': 32, 'eval.probe_epochs': 1})
    args = ['run', 'cifar10', '--out', str(tmp_path / 'runs'), '--device', 'cpu'] + sum((['--set', f'{k}={v}'] for k, v in tiny.items()), [])
    assert main(args) in (0, None)
    run = tmp_path / 'runs' / 'cifar10'
    meta = load_artifact(run / 'gan' / 'generator.safetensors')[1]
    assert meta['source'] == 'pretrained' and meta['format'] == 'rosinality' and len(meta['file_sha256']) == 64
    assert (run / 'views' / 'search.safetensors').exists() and (run / 'report' / 'view_pairs.csv').exists()   # MI the authors' way (eval.mi=authors)
    assert load_artifact(run / 'invert' / 'w_plus.safetensors')[1]['key']['encoder_weight'] == 2.0   # the authors' inversion loss, the GPU presets' default
    assert {'simclr', 'a2-wsearch'} <= {r['row'] for r in __import__('csv').DictReader(open(run / 'report' / 'results.csv')) if r.get('linear_mean')}
    # the file is checked before any stage runs
    bad = [a if not a.startswith('gan.path=') else 'gan.path=' + str(tmp_path / 'none.pt') for a in args]
    bad[bad.index('--out') + 1] = str(tmp_path / 'runs2')
    with pytest.raises(SystemExit) as e: main(bad)
    assert e.value.code == 2 and not (tmp_path / 'runs2').exists()

def test_gpu_check_runs(tmp_path):
    "bench/gpu_check.py at toy sizes on the CPU (--smoke): every figure it reports on a GPU is produced, and is a positive rate."
    import importlib.util
    spec = importlib.util.spec_from_file_location('gpu_check', __import__('pathlib').Path(__file__).parent.parent / 'bench' / 'gpu_check.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    rec = mod.main(['--smoke', '--out', str(tmp_path / 'x.json')])
    keys = ['simclr_images_per_s_fp32', 'simclr_images_per_s_bf16', 'a2_images_per_s_bf16', 'w_search_latent_steps_per_s',
            'synthesis_images_per_s_fp32', 'synthesis_images_per_s_bf16']
    assert all(rec[k] > 0 for k in keys), rec
    assert not (tmp_path / 'x.json').exists()   # a smoke run is not a measurement: nothing is written
