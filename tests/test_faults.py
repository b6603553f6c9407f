"""Issue #9, reliability and security: bad input, corrupt or foreign artifacts, a full disk, NaN losses, Ctrl-C and SIGKILL
in every stage, no file load that can run code, and bit-identical reruns on CPU.

Every fault gives one line (`a2lit: error: ...` naming what was wrong and what was expected), a non-zero exit, no traceback,
and no partial file. Most CLI cases call `a2lit.cli.main` in-process (the console script's function, without the
4 s torch import); subprocesses are used where the process is the point: signals, and the reference runs."""
import errno, glob, hashlib, json, os, pathlib, pickle, random, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
import fastcore.test as fct
from safetensors.torch import load_file
import a2lit.core as core_mod
import a2lit.data as data_mod
import a2lit.train as train_mod
import a2lit.cli as a2cli
from cli_helpers import cli
import a2lit.config as config
import a2lit.pipeline as pipeline
from a2lit.core import A2Error, save_artifact, load_artifact, write_json, read_json
from a2lit.data import ImageSet, iterate_batches
from a2lit.search import w_search, w_perturb
from a2lit.viewbank import ViewBank
from a2lit.losses import nt_xent, a2_simclr
from a2lit.train import TrainConfig
from a2lit.evaluate import knn_accuracy, linear_probe
from a2lit.mi import mine_mi

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'PYTHONUNBUFFERED': '1'}
ARGS = ['run', 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch']   # every stage, ~10 s after the import
RUN = Path('runs/tiny')

def no_partial(root):
    "No temporary file of an interrupted write is left anywhere under `root`."
    left = [p for p in Path(root).rglob('*') if p.name.endswith('.tmp')]
    assert not left, left


def tensors_digest(path):
    "sha256 of every tensor of a safetensors file (name, dtype, shape, bytes), ignoring the header's timestamps."
    h = hashlib.sha256()
    for k, v in sorted(load_file(str(path)).items()):
        h.update(f'{k}{v.dtype}{tuple(v.shape)}'.encode()); h.update(v.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()

ARTIFACTS = ['gan/generator.safetensors', 'gan/encoder.safetensors', 'invert/w_plus.safetensors', 'views/search.safetensors',
             'train/simclr-s0/checkpoint.safetensors', 'train/a2-wsearch-s0/checkpoint.safetensors']

def digests(root):
    "Tensor hashes of every final artifact of a run (the dataset caches too), and every evaluation score."
    root = Path(root)
    out = {a: tensors_digest(root / RUN / a) for a in ARTIFACTS}
    out.update({p.name: tensors_digest(p) for p in sorted((root / 'data/shapes10').glob('*.safetensors'))})
    out.update({p.name: p.read_text() for p in sorted((root / RUN / 'eval').glob('*-s0.json'))})
    out['results.csv'] = (root / RUN / 'report/results.csv').read_text()
    return out

def stage_seconds(stdout): return {s: float(t) for s, t in re.findall(r'^(\w+): done in ([\d.]+)s$', stdout, re.M)}

@pytest.fixture(scope='module')
def ref(tmp_path_factory):
    "One uninterrupted run of every stage: (its folder, seconds per stage)."
    d = tmp_path_factory.mktemp('ref')
    r = subprocess.run([A2LIT, *ARGS], cwd=d, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    secs = stage_seconds(r.stdout)
    fct.test_eq(list(secs), list(pipeline.STAGES))
    return d, secs

@pytest.fixture
def run_copy(ref, tmp_path, monkeypatch):
    "A copy of the reference run (its runs/ and data/), as the working directory."
    for p in ('runs', 'data'): shutil.copytree(ref[0] / p, tmp_path / p)
    monkeypatch.chdir(tmp_path)
    return tmp_path

def rm(*paths):
    for p in paths:
        for q in glob.glob(str(p)):
            shutil.rmtree(q) if os.path.isdir(q) else os.remove(q)

# ------------------------------------------------------------------ bad configuration values (nothing is written)
@pytest.mark.parametrize('args,msg', [
    (['run', 'nope'], "unknown preset 'nope'; expected one of tiny, demo"),
    (['run', 'tiny', '--set', 'views.eps1=0'], 'views.eps1 must be a finite number > 0, got 0.0'),
    (['run', 'tiny', '--set', 'views.eps1=-0.3'], 'views.eps1 must be a finite number > 0, got -0.3'),
    (['run', 'tiny', '--set', 'views.sigma=nan'], 'views.sigma must be a finite number > 0, got nan'),
    (['run', 'tiny', '--set', 'train.tau=0'], 'tau must be > 0, got 0.0'),
    (['run', 'tiny', '--set', 'views.n=0'], 'views.n must be a finite integer >= 1, got 0'),
    (['run', 'tiny', '--set', 'train.batch_size=1000'], 'train.batch_size=1000 is larger than the dataset (data.n_train=256 images)'),
    (['run', 'tiny', '--set', 'gan.batch_size=512'], 'gan.batch_size=512 is larger than the dataset (data.n_train=256 images)'),
    (['run', 'tiny', '--set', 'eval.k=0'], 'eval.k must be a finite integer >= 1, got 0'),
    (['run', 'tiny', '--set', 'gan.psi=1.5'], 'gan.psi (truncation) must be in (0, 1], got 1.5'),
    (['run', 'tiny', '--set', 'data.name=mnist'], "data.name must be one of shapes10, cifar10, cifar100, tinyimagenet, got 'mnist'"),
    (['run', 'tiny', '--set', 'eval.probe_method=adam'], "eval.probe_method must be one of sgd, authors, lbfgs, got 'adam'"),
])
def test_bad_values_refused_before_any_stage(capsys, tmp_path, monkeypatch, args, msg):
    monkeypatch.chdir(tmp_path)
    line = cli(capsys, *args, '--out', 'runs')
    assert msg in line, line
    fct.test_eq(list(tmp_path.iterdir()), [])                                 # refused before the run folder or data exist

@pytest.mark.parametrize('fn,msg', [
    (lambda: TrainConfig(loss='byol').validate(), "unknown loss 'byol'; expected one of"),
    (lambda: TrainConfig(views=('expert', 'warp')).validate(), "unknown view 'warp'; expected one of"),
    (lambda: TrainConfig(alpha=-0.5).validate(), 'alpha must be >= 0, got -0.5'),
    (lambda: TrainConfig(tau=0).validate(), 'tau must be > 0, got 0'),
    (lambda: a2_simclr(*torch.nn.functional.normalize(torch.randn(3, 4, 8), dim=-1), alpha=-1), 'alpha must be a finite number >= 0, got -1'),
    (lambda: nt_xent(*torch.nn.functional.normalize(torch.randn(2, 4, 8), dim=-1), tau=0), 'tau must be a finite number > 0, got 0'),
    (lambda: w_perturb(torch.zeros(2, 4, 8), n=0), 'n (views per image) must be >= 1, got 0'),
    (lambda: w_search(lambda w: w, lambda x: x, torch.zeros(2, 4, 8), eps1=0), 'eps1 (distance of each view from f0) must be > 0, got 0'),
    (lambda: next(iterate_batches(ImageSet(torch.zeros(8, 3, 4, 4, dtype=torch.uint8), torch.zeros(8, dtype=torch.long), ['a']), 16)),
     'batch_size 16 is larger than the dataset (8 images)'),
    (lambda: knn_accuracy(torch.randn(8, 4), torch.zeros(8, dtype=torch.long), torch.randn(4, 4), torch.zeros(4, dtype=torch.long), k=0),
     'k=0 must be between 1 and the number of training rows (8)'),
    (lambda: config.get_config('tiny', ['views.eps1=0']), 'views.eps1 must be a finite number > 0'),
])
def test_out_of_range_in_public_functions(fn, msg):
    with pytest.raises(A2Error, match=re.escape(msg)): fn()

def test_nan_and_inf_inputs_refused():
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1); bad = z.clone(); bad[1, 2] = float('inf')
    with pytest.raises(A2Error, match='z2 contains NaN or infinite values'): nt_xent(z, bad)
    nan = torch.randn(8, 4); nan[3, 0] = float('nan'); y = torch.arange(8) % 2
    with pytest.raises(A2Error, match='train features contain NaN or inf'): knn_accuracy(nan, y, torch.randn(4, 4), y[:4])
    with pytest.raises(A2Error, match='train features contain NaN or inf'): linear_probe(nan, y, torch.randn(4, 4), y[:4])
    with pytest.raises(A2Error, match='contains NaN or inf'): mine_mi(nan, torch.randn(8, 4))

# ------------------------------------------------------------------ datasets: missing, empty, wrong layout, mismatched sizes
def _jpeg(path, size):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True); Image.new('RGB', (size, size), (200, 10, 10)).save(path)

def _tinyimagenet(root, sizes):
    base = root / 'data/tiny-imagenet-200'; base.mkdir(parents=True)
    (base / 'wnids.txt').write_text('n01\n'); (base / 'words.txt').write_text('n01\tone\n')
    (base / 'train/n01/images').mkdir(parents=True)
    for i, s in enumerate(sizes): _jpeg(base / f'train/n01/images/n01_{i}.JPEG', s)
    return base

@pytest.mark.parametrize('setup,name,msg', [
    (lambda d: None, 'cifar10', 'cifar10 not found: looked for data/cifar-10-batches-py; pass download=True'),              # missing
    (lambda d: (d / 'data/cifar-10-batches-py').mkdir(parents=True), 'cifar10', 'missing CIFAR batch file data/cifar-10-batches-py/data_batch_1'),  # empty
    (lambda d: ((d / 'data/cifar-10-batches-py').mkdir(parents=True), (d / 'data/cifar-10-batches-py/data_batch_1').write_bytes(b'\x80\x02}q\x00(')),
     'cifar10', 'corrupt or truncated CIFAR batch data/cifar-10-batches-py/data_batch_1'),                                   # truncated
    (lambda d: (d / 'data/tiny-imagenet-200/train').mkdir(parents=True), 'tinyimagenet', 'wrong TinyImageNet layout: missing data/tiny-imagenet-200/wnids.txt'),
    (lambda d: _tinyimagenet(d, []), 'tinyimagenet', 'wrong TinyImageNet layout: no train images listed under data/tiny-imagenet-200'),
    (lambda d: _tinyimagenet(d, [64, 64, 32]), 'tinyimagenet', 'mismatched image sizes: data/tiny-imagenet-200/train/n01/images/n01_2.JPEG is 32x32 px, expected 64x64'),
])
def test_bad_dataset_folders(capsys, tmp_path, monkeypatch, setup, name, msg):
    monkeypatch.chdir(tmp_path); setup(tmp_path)
    line = cli(capsys, 'data', 'tiny', '--out', 'runs', '--set', f'data.name={name}')
    assert msg in line, line
    assert not (tmp_path / 'runs/tiny/data/done.json').exists(); no_partial(tmp_path)

# ------------------------------------------------------------------ corrupt, truncated and foreign artifacts
def _truncate(p): b = p.read_bytes(); p.write_bytes(b[:len(b) // 2])
def _flip(p):                                              # same length, one byte of tensor data changed
    b = bytearray(p.read_bytes()); b[-100] ^= 0xFF; p.write_bytes(bytes(b))

# (damaged file, how, stage that reads it, outputs removed so that the stage runs again, expected message)
CORRUPT = [
    ('train/simclr-s0/checkpoint.safetensors', _truncate, 'eval', ['eval/done.json', 'eval/simclr-s0.json'], 'corrupt or truncated artifact'),
    ('train/a2-wsearch-s0/checkpoint.safetensors', _flip, 'train', ['train/done.json'], 'does not match the hash it records'),
    ('views/search.safetensors', _truncate, 'train', ['train/done.json', 'train/a2-wsearch-s0'], 'truncated safetensors file'),
    ('views/search.safetensors', _flip, 'train', ['train/done.json', 'train/a2-wsearch-s0'], 'does not match the sha256 in its header'),
    ('invert/w_plus.safetensors', _truncate, 'views', ['views/done.json', 'views/search.safetensors*'], 'corrupt or truncated artifact'),
    ('invert/w_plus.safetensors', _flip, 'views', ['views/done.json', 'views/search.safetensors*'], 'does not match the hash it records'),
    ('gan/generator.safetensors', _truncate, 'invert', ['invert/done.json', 'invert/w_plus.safetensors*'], 'corrupt or truncated artifact'),
    ('config.json', lambda p: p.write_text('{"preset": "tiny", '), 'run', [], 'corrupt JSON in runs/tiny/config.json'),
    ('eval/done.json', lambda p: p.write_text('{'), 'eval', [], 'corrupt JSON in runs/tiny/eval/done.json'),
]

@pytest.mark.parametrize('path,damage,stage,remove,msg', CORRUPT, ids=[f'{c[0]}-{c[1].__name__}' for c in CORRUPT])
def test_corrupt_artifact_one_line(capsys, run_copy, path, damage, stage, remove, msg):
    rm(*[RUN / r for r in remove]); damage(RUN / path)
    line = cli(capsys, stage, 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch')
    assert msg in line, line
    no_partial(run_copy)
    if f'{stage}/done.json' in remove: assert not (RUN / stage / 'done.json').exists()

def test_artifacts_of_another_config_or_dataset(capsys, run_copy):
    args = ('--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch')
    # a checkpoint of another row (another config) where a2-wsearch's should be
    shutil.copyfile(RUN / 'train/simclr-s0/checkpoint.safetensors', RUN / 'train/a2-wsearch-s0/checkpoint.safetensors'); rm(RUN / 'train/done.json')
    assert 'was made with another config or data: mismatching keys' in cli(capsys, 'train', 'tiny', *args)
    # a view bank made for another dataset
    rm(RUN / 'train/a2-wsearch-s0')
    b = ViewBank.load(RUN / 'views/search.safetensors')
    ViewBank(b.latents.clone(), b.images.clone(), {**b.meta, 'dataset_hash': 'feedbeefdeadbeef'}, b.extras).save(RUN / 'views/search.safetensors')
    line = cli(capsys, 'train', 'tiny', *args)
    assert "was made with dataset_hash='feedbeefdeadbeef' but is used with dataset_hash=" in line, line
    # latents inverted with another generator
    rm(RUN / 'views/done.json', RUN / 'views/search.safetensors*')
    t, m = load_artifact(RUN / 'invert/w_plus.safetensors')
    save_artifact(RUN / 'invert/w_plus.safetensors', t, {**m, 'key': {**m['key'], 'generator': '0123456789abcdef'}})
    line = cli(capsys, 'views', 'tiny', *args)
    assert "was made for another dataset or generator (generator '0123456789abcdef'" in line and 'rerun the invert stage' in line, line
    # the run folder of another config
    assert 'holds artifacts of another config (differs in views.eps1)' in cli(capsys, 'eval', 'tiny', *args[:-2], '--set', 'views.eps1=0.2')
    no_partial(run_copy)

# ------------------------------------------------------------------ no load runs code
class _Planted:
    "Unpickling this runs a shell command that leaves a marker file."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))

PLANTED = [  # every artifact kind the CLI loads: (path, stage that loads it, outputs removed so that it does)
    ('data/shapes10/train-*.safetensors', 'data', ['runs/tiny/data/done.json']),
    ('runs/tiny/gan/generator.safetensors', 'invert', ['runs/tiny/invert/done.json', 'runs/tiny/invert/w_plus.safetensors*']),
    ('runs/tiny/gan/encoder.safetensors', 'invert', ['runs/tiny/invert/done.json', 'runs/tiny/invert/w_plus.safetensors*']),
    ('runs/tiny/invert/w_plus.safetensors', 'views', ['runs/tiny/views/done.json', 'runs/tiny/views/search.safetensors*']),
    ('runs/tiny/views/search.safetensors', 'train', ['runs/tiny/train/done.json', 'runs/tiny/train/a2-wsearch-s0']),
    ('runs/tiny/train/simclr-s0/checkpoint.safetensors', 'eval', ['runs/tiny/eval/done.json', 'runs/tiny/eval/simclr-s0.json']),
    ('runs/tiny/config.json', 'run', []),
    ('runs/tiny/eval/simclr-s0.json', 'report', ['runs/tiny/report/done.json']),
]

@pytest.mark.parametrize('path,stage,remove', PLANTED, ids=[p[0].split('/')[-1] for p in PLANTED])
def test_planted_pickle_refused_without_running_code(capsys, run_copy, path, stage, remove):
    marker = run_copy / 'code-ran'
    rm(*remove)
    target = Path(glob.glob(path)[0])
    torch.save({'weight': torch.zeros(4), 'payload': _Planted(marker)}, target)      # a torch pickle under the artifact's name
    line = cli(capsys, stage, 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch')
    assert re.search('corrupt|truncated', line), line
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Planted(marker))); assert marker.exists()   # the payload is live: loading it would have run it

def test_no_loader_can_unpickle():
    "Scan the package: every torch.load has weights_only=True; no pickle.load, np.load(allow_pickle=True) or eval of file content."
    src = {p.name: p.read_text() for p in Path(a2cli.__file__).parent.glob('*.py')}
    calls = [(n, l.strip()) for n, s in src.items() for l in s.splitlines() if 'torch.load(' in l]
    assert all('weights_only=True' in l for _, l in calls), calls
    for n, s in src.items():
        for bad in (r'pickle\.loads?\(', r'allow_pickle\s*=\s*True', r'torch\.jit\.load', r'(?<![\w.])eval\(', r'(?<![\w.])exec\(', r'marshal\.'):
            assert not re.search(bad, s), (n, bad)
        assert len(re.findall(r'pickle\.Unpickler\b', s)) == (1 if n == 'core.py' else 0), n   # only RestrictedUnpickler, which refuses every global it is not given
    with pytest.raises(pickle.UnpicklingError, match='refusing to load posix.system'):
        core_mod.RestrictedUnpickler(__import__('io').BytesIO(pickle.dumps(_Planted('/nonexistent/x'))), data_mod._ARRAY_GLOBALS).load()

# ------------------------------------------------------------------ a full disk
def _enospc_after_half(real):
    "A writer that writes half of what `real` would, then fails like a full disk."
    def write(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        b = Path(filename).read_bytes(); Path(filename).write_bytes(b[:len(b) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))
    return write

def test_full_disk_keeps_previous_file(tmp_path, monkeypatch):
    p = tmp_path / 'a.safetensors'
    save_artifact(p, {'x': torch.arange(1000.)}, {'v': 1}); before = p.read_bytes()
    monkeypatch.setattr(core_mod, 'save_file', _enospc_after_half(core_mod.save_file))
    with pytest.raises(OSError, match='No space left on device'): save_artifact(p, {'x': torch.zeros(1000)}, {'v': 2})
    assert p.read_bytes() == before and load_artifact(p)[1]['v'] == 1
    monkeypatch.undo()
    j = tmp_path / 'm.json'; write_json(j, {'v': 1})
    real = pathlib.Path.write_text
    def half(self, text, *a, **k): real(self, text[:len(text) // 2]); raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
    monkeypatch.setattr(pathlib.Path, 'write_text', half)
    with pytest.raises(OSError, match='No space left on device'): write_json(j, {'v': 2, 'long': 'x' * 100})
    monkeypatch.undo()
    fct.test_eq(read_json(j), {'v': 1}); no_partial(tmp_path)

def test_full_disk_in_the_cli(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(core_mod, 'save_file', _enospc_after_half(core_mod.save_file))
    line = cli(capsys, 'data', 'tiny', '--out', 'runs', rc=1)
    assert 'No space left on device' in line and 'rerun the same command to resume' in line, line
    no_partial(tmp_path)
    fct.test_eq(list((tmp_path / 'data/shapes10').glob('*.safetensors')), [])   # no half-written dataset cache
    assert not (tmp_path / 'runs/tiny/data/done.json').exists()

# ------------------------------------------------------------------ NaN losses through the CLI
def test_nan_loss_in_the_cli(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = train_mod.contrastive_loss
    monkeypatch.setattr(train_mod, 'contrastive_loss', lambda cfg, zs: real(cfg, zs) * float('nan'))
    line = cli(capsys, 'simclr', 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr')
    assert 'loss is nan at step 1 (epoch 1)' in line, line
    assert not (tmp_path / 'runs/tiny/simclr/done.json').exists(); no_partial(tmp_path)

# ------------------------------------------------------------------ Ctrl-C and SIGKILL in every stage, then resume
def _interrupt(run, sig, stage, frac, secs):
    "Start the CLI in `run`; when `stage` starts, wait `frac` of its reference duration and send `sig`. Returns (returncode, stderr, signalled)."
    log, err = run.parent / f'{run.name}.out', run.parent / f'{run.name}.err'
    if stage == 'data': (run / RUN / 'config.json').unlink(missing_ok=True)   # rewritten, identical, when the data stage starts
    with open(log, 'w') as o, open(err, 'w') as e:
        # SIGINT at its default, as in a terminal: a shell's background job (e.g. CI started with `&`) ignores it, the child
        # would inherit that, and Python then installs no KeyboardInterrupt handler, so no SIGINT would ever land
        p = subprocess.Popen([A2LIT, *ARGS], cwd=run, env=ENV, stdout=o, stderr=e, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    prev = list(pipeline.STAGES)[list(pipeline.STAGES).index(stage) - 1] if stage != 'data' else None
    started = (lambda: (run / RUN / 'config.json').exists()) if prev is None else \
              (lambda: re.search(rf'^{prev}: (done in|up to date)', log.read_text(), re.M))
    t = time.time()
    while p.poll() is None and not started() and time.time() - t < 120: time.sleep(0.002)
    time.sleep(frac * secs[stage])
    signalled = p.poll() is None
    if signalled: p.send_signal(sig)
    p.wait(60)
    return p.returncode, err.read_text(), signalled, log.read_text()

def test_ctrl_c_and_sigkill_in_every_stage_then_resume(ref, tmp_path):
    "Per stage: SIGINT at a seeded random point (one line, exit 130, no partial file), then SIGKILL at another; the last rerun equals the uninterrupted run bit for bit."
    # the kill points are seeded fractions of each stage's duration in the reference run, counted from the line that ends the stage
    # before. On a machine busier or idler than during the reference run a stage can end before its signal: then its folder is
    # removed (so the next run redoes it) and the attempt is repeated at half the delay, up to 4 times, then once at no delay
    rng, (ref_dir, secs) = random.Random(9), ref
    run = tmp_path / 'run'; run.mkdir()
    hit, tries = [], []
    for stage in pipeline.STAGES:
        # SIGKILL in train is tests/test_cli.py::test_sigkill_mid_stage_then_resume; report (0.2 s) only writes atomically
        for sig in (signal.SIGINT, signal.SIGKILL) if stage not in ('train', 'report') else (signal.SIGINT,):
            for attempt in range(5):                                   # the last try signals as soon as the stage before has ended
                frac = rng.uniform(0.05, 0.95) / 2**attempt if attempt < 4 else 0.0
                rc, err, signalled, out = _interrupt(run, sig, stage, frac, secs)
                tries.append((stage, sig.name, attempt))
                if sig == signal.SIGINT: no_partial(run)               # SIGKILL can cut a write: the next run sweeps its temporary file
                if not signalled: fct.test_eq(rc, 0)                   # the stage (and the run) ended first
                elif sig == signal.SIGINT and rc in (0, -signal.SIGINT) and re.search(r'^report: (done in|up to date)', out, re.M):
                    assert 'Traceback' not in err, err                 # the run had finished: the signal met the interpreter's exit
                elif sig == signal.SIGINT:
                    fct.test_eq(rc, 130)
                    fct.test_eq(err.strip().splitlines(), ['a2lit: interrupted; finished stages are kept: rerun the same command to resume'])
                else: fct.test_eq(rc, -signal.SIGKILL)
                if signalled and not re.search(rf'^{stage}: (done in|up to date)', out, re.M):
                    hit.append((stage, sig.name)); break               # the signal came while `stage` ran
                shutil.rmtree(run / RUN / stage)                       # it came later: redo the stage and signal it sooner
    assert len(hit) == 14, (hit, tries)                                # every stage was interrupted, by both signals where both apply
    print(f"{len(tries)} runs for {len(hit)} interruptions")
    r = subprocess.run([A2LIT, *ARGS], cwd=run, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    no_partial(run)
    fct.test_eq(digests(run), digests(ref_dir))

def test_views_made_by_two_workers_equal_one_process_s(ref, run_copy):
    "workers=2: each one-thread worker makes its share of the bank's chunks, the parent merges; the bank is the same bit for bit."
    shutil.rmtree(run_copy / RUN / 'views')
    r = subprocess.run([A2LIT, '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch', '--set', 'workers=2', 'views', 'tiny'],
                       env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    fct.test_eq(json.loads((run_copy / RUN / 'views/done.json').read_text())['search'].get('workers'), 2)   # the workers made it
    fct.test_eq(tensors_digest(run_copy / RUN / 'views/search.safetensors'), tensors_digest(ref[0] / RUN / 'views/search.safetensors'))
    assert not (run_copy / RUN / 'views/search.safetensors.parts').exists()   # the workers' chunk files are gone after the merge

def test_ctrl_c_in_parallel_training_stops_every_worker_then_resumes(ref, run_copy):
    "Trainings at once (workers=2): a Ctrl-C mid-training gives one line and exit 130 and stops every worker; the rerun ends where one process does."
    for s in ('train', 'eval', 'report'): shutil.rmtree(run_copy / RUN / s)
    args, out = [*ARGS, '--set', 'workers=2'], run_copy / 'out.txt'
    with open(out, 'w') as o:
        p = subprocess.Popen([A2LIT, *args], env=ENV, stdout=o, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t = time.time()
    while p.poll() is None and 'train a2-wsearch seed 0: epoch 1 ' not in out.read_text() and time.time() - t < 300: time.sleep(0.01)
    workers = subprocess.run(['pgrep', '-P', str(p.pid), '-f', 'multiprocessing.spawn'], capture_output=True, text=True).stdout.split()
    assert p.poll() is None and workers, (p.poll(), out.read_text()[-2000:])
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    fct.test_eq(p.returncode, 130)
    fct.test_eq(err.strip().splitlines(), ['a2lit: interrupted; finished stages are kept: rerun the same command to resume'])
    time.sleep(1)
    for w in map(int, workers):
        with pytest.raises(ProcessLookupError): os.kill(w, 0)          # no worker outlives the command
    no_partial(run_copy)
    r = subprocess.run([A2LIT, *args], cwd=run_copy, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    fct.test_eq(digests(run_copy), digests(ref[0]))                    # one thread per worker, as the reference ran: the same bits

def test_rerun_sweeps_temporary_files_of_killed_writes(run_copy):
    "A temporary file left by a write that SIGKILL cut short is removed by the next run, which then skips every finished stage."
    stale = run_copy / RUN / 'simclr' / '.done.json.abc123.tmp'; stale.write_text('{"key": ')
    r = subprocess.run([A2LIT, *ARGS], cwd=run_copy, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not stale.exists(); no_partial(run_copy)
    fct.test_eq(re.findall(r'^(\w+): up to date', r.stdout, re.M), list(pipeline.STAGES))

# ------------------------------------------------------------------ determinism
def test_same_seed_same_bits_on_cpu(ref, tmp_path):
    "A second run in a fresh folder (with --deterministic, a no-op on CPU) writes the same tensors bit for bit and the same scores."
    r = subprocess.run([A2LIT, *ARGS, '--deterministic'], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    fct.test_eq(digests(tmp_path), digests(ref[0]))

def test_deterministic_switch(monkeypatch):
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    try:
        a2cli.set_deterministic()
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        fct.test_eq(os.environ['CUBLAS_WORKSPACE_CONFIG'], ':4096:8')
    finally: a2cli.set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled()
