"Trainer faults: a run killed (SIGKILL) mid-training and resumed equals an uninterrupted one; bad views, losses, banks, batches and checkpoints are refused; a NaN loss stops the run and keeps the last good checkpoint."
import csv, dataclasses, json, math, os, pickle, signal, subprocess, sys, textwrap, time
import pytest
import torch
from a2lit.core import cpu_has_bf16
import fastcore.test as fct
import a2lit.train as train_mod
from a2lit.core import A2Error, load_artifact
from a2lit.data import load_dataset, Shapes10Config
from a2lit.viewbank import ViewBank
from a2lit.train import Trainer, TrainConfig, load_encoder

torch.set_num_threads(1)
SHAPES = Shapes10Config(n_train=256, n_test=64)
CFG = TrainConfig(backbone='small', width=8, proj_dims=(32, 16), epochs=3, batch_size=64, warmup_epochs=1)   # SGD + momentum: 4 steps an epoch
TIMING = ('images_per_s', 'seconds')    # the only history columns allowed to differ between two runs

@pytest.fixture(scope='module')
def root(tmp_path_factory): return tmp_path_factory.mktemp('data')

@pytest.fixture(scope='module')
def ds(root): return load_dataset('shapes10', root, shapes10=SHAPES)   # rendered once; the subprocesses read the cache

def quiet(**kw): return dict(progress=False, log=lambda s: None, **kw)
def untimed(history): return [{k: v for k, v in r.items() if k not in TIMING} for r in history]
def read_csv(path): return list(csv.DictReader(open(path)))

def assert_same_tensors(a, b):
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f"{len(diff)} tensors differ, e.g. {diff[:3]}"

# ---- SIGKILL after the first epoch, then resume ---------------------------------------------------------------
SCRIPT = textwrap.dedent("""
    import os, sys, time, torch
    torch.set_num_threads(1)
    from a2lit.data import load_dataset, Shapes10Config
    from a2lit.train import Trainer, TrainConfig
    root, out = sys.argv[1], sys.argv[2]
    ds = load_dataset('shapes10', root, shapes10=Shapes10Config(n_train=256, n_test=64))
    cfg = TrainConfig(backbone='small', width=8, proj_dims=(32, 16), epochs=3, batch_size=64, warmup_epochs=1)
    pause = float(os.environ.get('A2_TEST_STEP_PAUSE', 0))   # stretches the run that gets killed; computes nothing
    if pause:
        step = Trainer.train_step
        def slow(self, *a):
            time.sleep(pause); return step(self, *a)
        Trainer.train_step = slow
    go = os.environ.get('A2_TEST_WAIT_FOR')              # lets the test start the resuming process (imports) before the kill
    while go and not os.path.exists(go): time.sleep(0.01)
    Trainer(cfg, ds, out=out, progress=False).fit()
""")

def _epoch_on_disk(out):
    "The epoch of the checkpoint in `out` once both its files are there, else 0."
    side = out / 'checkpoint.safetensors.json'
    if not (out / 'checkpoint.safetensors').exists() or not side.exists(): return 0
    return json.loads(side.read_text())['epoch']

def test_killed_after_first_epoch_and_resumed_equals_uninterrupted(tmp_path, root, ds):
    script = tmp_path / 'train.py'; script.write_text(SCRIPT)
    env = {**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE', 'OMP_NUM_THREADS': '1'}
    run = lambda out, **kw: subprocess.Popen([sys.executable, str(script), str(root), str(out)], env={**env, **kw},
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed, full = tmp_path / 'killed', tmp_path / 'full'
    go = tmp_path / 'go'
    p, q = run(killed, A2_TEST_STEP_PAUSE='0.3'), run(full)    # the uninterrupted run goes beside the killed one
    r = run(killed, A2_TEST_WAIT_FOR=str(go))                     # the very same command, held until the kill
    try:
        t0 = time.time()
        while _epoch_on_disk(killed) < 1:
            assert p.poll() is None, 'the run ended before its first checkpoint: ' + p.stdout.read()
            assert time.time() - t0 < 120; time.sleep(0.005)
        p.send_signal(signal.SIGKILL); p.wait()
        fct.test_eq(p.returncode, -signal.SIGKILL)
        fct.test_eq(_epoch_on_disk(killed), 1)                        # killed during epoch 2: it had 4 x 0.3 s left to go
        fct.test_eq(len(json.loads((killed / 'checkpoint.safetensors.json').read_text())['history']), 1)
        go.touch()                                                    # now r resumes the killed run
        out_r, out_q = r.communicate(timeout=300)[0], q.communicate(timeout=300)[0]
        assert r.returncode == 0 and q.returncode == 0, out_r + out_q
    finally:                                                      # no process outlives a failed test
        for proc in (p, q, r):
            if proc.poll() is None: proc.kill(); proc.wait()
    epochs = lambda out: [int(l.split()[1]) for l in out.splitlines() if l.startswith('epoch ')]
    fct.test_eq(epochs(out_r), [2, 3]); fct.test_eq(epochs(out_q), [1, 2, 3])   # the resumed run did epochs 2 and 3 only
    a, b = load_artifact(killed / 'checkpoint.safetensors'), load_artifact(full / 'checkpoint.safetensors')
    assert_same_tensors(a[0], b[0])                               # weights, BN statistics, momentum buffers, RNG state
    fct.test_eq((a[1]['epoch'], a[1]['step']), (3, 12))
    fct.test_eq(untimed(a[1]['history']), untimed(b[1]['history']))   # losses and lr of every epoch, bit for bit
    head = lambda d: (d / 'metrics.csv').read_text().splitlines()[0]
    fct.test_eq(head(killed), head(full)); fct.test_eq(head(full), 'epoch,step,loss,lr,images_per_s,seconds')
    fct.test_eq(untimed(read_csv(killed / 'metrics.csv')), untimed(read_csv(full / 'metrics.csv')))
    fct.test_eq(len(read_csv(full / 'metrics.csv')), 3)

def test_resume_in_process_with_viewmaker_and_bank(tmp_path, ds):
    "Both adversarial and stored views: a run stopped after epoch 1 by an exception and resumed equals a straight run."
    gen = (ds.images[:, None].int() + torch.randint(-12, 13, (len(ds), 3, 3, 32, 32), generator=torch.Generator().manual_seed(0)))
    bank = ViewBank(torch.zeros(len(ds), 3, 2, 4), gen.clamp(0, 255).to(torch.uint8), dict(method='perturb', dataset_hash=ds.hash()))
    cfg = dataclasses.replace(CFG, views=('viewmaker', 'expert', 'generated'), loss='a2_infonce', epochs=2, viewmaker_width=8, viewmaker_blocks=1)
    Trainer(cfg, ds, out=tmp_path / 'full', bank=bank, **quiet()).fit()
    class Stop(Exception): pass
    def stop(line): raise Stop(line)                                # `log` runs after the epoch's checkpoint is written
    with pytest.raises(Stop): Trainer(cfg, ds, out=tmp_path / 'cut', bank=bank, progress=False, log=stop).fit()
    fct.test_eq(load_artifact(tmp_path / 'cut/checkpoint.safetensors')[1]['epoch'], 1)
    t = Trainer(cfg, ds, out=tmp_path / 'cut', bank=bank, **quiet()); fct.test_eq((t.epoch, t.step), (1, 4)); t.fit()
    a, b = load_artifact(tmp_path / 'cut/checkpoint.safetensors'), load_artifact(tmp_path / 'full/checkpoint.safetensors')
    assert any(k.startswith('viewmaker.') for k in a[0]) and any(k.startswith('vm_opt.') for k in a[0])
    assert_same_tensors(a[0], b[0]); fct.test_eq(untimed(a[1]['history']), untimed(b[1]['history']))
    # a bank made another way (its metadata differs: method, seed, g/f hashes...) is another run: refused by name
    other = ViewBank(bank.latents, bank.images, dict(method='perturb', dataset_hash=ds.hash(), seed=1))
    fct.test_fail(lambda: Trainer(cfg, ds, out=tmp_path / 'cut', bank=other), contains='mismatching keys bank')

# ---- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('change, msg', [
    (dict(views=('expert', 'gan')), "unknown view 'gan'"),
    (dict(loss='byol'), "unknown loss 'byol'"),
    (dict(views=('expert', 'expert'), loss='a2_full'), "loss 'a2_full' takes 3 views, got 2"),
    (dict(optimizer='rmsprop'), "unknown optimizer 'rmsprop'"),
    (dict(backbone='vit'), "unknown backbone 'vit'"),
    (dict(batch_size=257), 'batch_size 257 is larger than the dataset (256 images)'),
    (dict(views=('expert', 'generated'), loss='a1'), 'no ViewBank'),
])
def test_bad_config(ds, change, msg):
    fct.test_fail(lambda: Trainer(dataclasses.replace(CFG, **change), ds, **quiet()), contains=msg)
    try: Trainer(dataclasses.replace(CFG, **change), ds, **quiet())
    except A2Error as e: assert '\n' not in str(e)              # one line, as the CLI prints it

def _bank(ds, n_images=None, size=32, dataset_hash=None):
    n = n_images or len(ds)
    imgs = torch.randint(0, 256, (n, 2, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return ViewBank(torch.zeros(n, 2, 2, 4), imgs, dict(method='search', dataset_hash=dataset_hash or ds.hash()))

@pytest.mark.parametrize('kw, key', [(dict(dataset_hash='0123456789abcdef'), 'dataset_hash'),
                                     (dict(n_images=300), 'n_images'), (dict(size=16), 'size')])
def test_bank_for_another_dataset_or_size(ds, kw, key):
    cfg = dataclasses.replace(CFG, views=('expert', 'expert', 'generated'), loss='a2_simclr')
    Trainer(cfg, ds, bank=_bank(ds), **quiet())                                       # the right bank is taken
    fct.test_fail(lambda: Trainer(cfg, ds, bank=_bank(ds, **kw), **quiet()), contains=f'was made with {key}=')

def test_checkpoint_from_another_config_or_dataset(tmp_path, ds, root):
    cfg = dataclasses.replace(CFG, epochs=1)
    Trainer(cfg, ds, out=tmp_path, **quiet()).fit()
    fct.test_fail(lambda: Trainer(dataclasses.replace(cfg, lr=0.1, tau=0.2), ds, out=tmp_path, **quiet()), contains='mismatching keys lr, tau')
    fct.test_fail(lambda: Trainer(dataclasses.replace(cfg, epochs=2), ds, out=tmp_path, **quiet()), contains='mismatching keys epochs')
    other = load_dataset('shapes10', root, shapes10=dataclasses.replace(SHAPES, seed=1))
    fct.test_fail(lambda: Trainer(cfg, other, out=tmp_path, **quiet()), contains='mismatching keys dataset_hash')
    fct.test_fail(lambda: Trainer(cfg, ds.subset(slice(0, 128)), out=tmp_path, **quiet()), contains='mismatching keys dataset_hash, n_images')
    fct.test_eq(Trainer(cfg, ds, out=tmp_path, **quiet()).epoch, 1)                  # the matching one resumes

def test_nan_loss_names_the_step_and_keeps_last_good_checkpoint(tmp_path, ds, monkeypatch):
    calls, real = [0], train_mod.contrastive_loss
    def poisoned(cfg, zs):                                        # the 6th step (epoch 2, its 2nd step) returns NaN
        calls[0] += 1; loss = real(cfg, zs)
        return loss * float('nan') if calls[0] == 6 else loss
    monkeypatch.setattr(train_mod, 'contrastive_loss', poisoned)
    saved = {}
    def log(line):                                                # a copy of what is on disk after each good epoch
        saved[line.split()[1]] = (tmp_path / 'checkpoint.safetensors').read_bytes()
    tr = Trainer(CFG, ds, out=tmp_path, progress=False, log=log)
    with pytest.raises(A2Error) as e: tr.fit()
    assert 'loss is nan at step 6 (epoch 2)' in str(e.value) and 'last good checkpoint (epoch 1)' in str(e.value), e.value
    fct.test_eq(list(saved), ['1'])
    assert (tmp_path / 'checkpoint.safetensors').read_bytes() == saved['1']
    t, meta = load_artifact(tmp_path / 'checkpoint.safetensors')
    fct.test_eq((meta['epoch'], meta['step'], len(meta['history'])), (1, 4, 1))
    assert all(torch.isfinite(v).all() for v in t.values() if v.is_floating_point())
    assert not all(torch.isfinite(p).all() for p in tr.model.parameters())  # the NaN did reach the weights in memory

class _Planted:
    "Unpickling this runs a shell command that leaves a marker file."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))

def test_planted_pickle_refused_without_running_code(tmp_path, ds):
    marker, out = tmp_path / 'code-ran', tmp_path / 'run'; out.mkdir()
    ckpt = out / 'checkpoint.safetensors'
    torch.save({'model.0.0.weight': torch.zeros(8, 3, 3, 3), 'payload': _Planted(marker)}, ckpt)   # a torch pickle, safetensors' name
    fct.test_fail(lambda: Trainer(CFG, ds, out=out, **quiet()), contains='corrupt or truncated artifact')   # not a safetensors file: refused before any sidecar is read
    (out / 'checkpoint.safetensors.json').write_text(json.dumps(dict(config=dataclasses.asdict(CFG), epoch=1)))
    fct.test_fail(lambda: Trainer(CFG, ds, out=out, **quiet()), contains='corrupt or truncated artifact')
    fct.test_fail(lambda: load_encoder(ckpt), contains='corrupt or truncated artifact')
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Planted(marker))); assert marker.exists()   # the payload is live: loading it would have run it

def test_lr_at_is_core_warmup_cosine():
    "The trainer's per-step rate is core's `warmup_cosine` bit for bit: warm-up, then the cosine to 0 (also without warm-up)."
    from a2lit.core import warmup_cosine
    for cfg, spe in ((CFG, 4), (dataclasses.replace(CFG, epochs=100, warmup_epochs=10, lr=6e-3), 7),
                     (dataclasses.replace(CFG, epochs=5, warmup_epochs=0, lr=0.3), 13)):
        total, warm = cfg.epochs * spe, cfg.warmup_epochs * spe
        fct.test_eq([train_mod.lr_at(cfg, s, spe) for s in range(total)], [warmup_cosine(cfg.lr, s, total, warm) for s in range(total)])

def test_training_loss_makes_no_host_sync():
    "The trainer's loss skips the losses' input check (one host sync per step): a zero row gives a NaN it catches every 10 steps; check=True still refuses it."
    from a2lit.train import LOSSES, contrastive_loss
    for loss in LOSSES:
        nv = LOSSES[loss]
        zs = [torch.randn(4, 8) for _ in range(nv)]; zs[-1][0] = 0
        cfg = TrainConfig(views=('expert',) * nv, loss=loss)
        assert torch.isnan(contrastive_loss(cfg, zs)), loss
        fct.test_fail(lambda: contrastive_loss(cfg, zs, check=True), contains='has a row of zeros')

def test_cpu_bf16(ds):
    "train.cpu_bf16: on a CPU with native bf16 the model step runs under bf16 autocast (its losses finite); fp32 is the default and elsewhere."
    cfg = TrainConfig(backbone='small', width=8, proj_dims=(32, 16), epochs=1, batch_size=32, optimizer='adam', lr=1e-3)
    assert Trainer(cfg, ds, progress=False, log=lambda *a: None).amp_dtype is None
    t = Trainer(dataclasses.replace(cfg, cpu_bf16=True), ds, progress=False, log=lambda *a: None)
    if not cpu_has_bf16():                                  # emulated bf16 is slower than fp32: the option is ignored
        assert t.amp_dtype is None; return
    assert t.amp_dtype == torch.bfloat16
    seen = []
    hook = t.model.backbone.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    h = t.fit(); hook.remove()
    assert torch.bfloat16 in seen and all(math.isfinite(r['loss']) for r in h)
