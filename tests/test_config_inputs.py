"""Inputs of the `a2lit` commands: every config value checked by its declaration before a stage runs or anything is
written, run folders named by plain preset names only, every option checked up front, `a2lit config PRESET`, and every
error class that reaches a command's boundary as one line and its exit status (user 2, environment 1, Ctrl-C 130).

The CLI is called in-process (`a2lit.cli.main`) except where the process is the point: the preset-path case runs the
installed console script."""
import errno, os, subprocess, sys
from pathlib import Path
import pytest, torch
import fastcore.test as fct
from safetensors import SafetensorError
import a2lit.cli as a2cli
import cli_helpers

def cli(capsys, *args, rc=2): return cli_helpers.cli(capsys, *args, rc=rc, prefix='')   # errors and interrupts alike
import a2lit.config as config
from a2lit.core import A2Error, read_json

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}

def tree(root):
    "Every path under `root`, relative, sorted."
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob('*'))


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    "An empty working directory; the test asserts it stays empty."
    monkeypatch.chdir(tmp_path)
    for k in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK'): monkeypatch.delenv(k, raising=False)
    return tmp_path

# ------------------------------------------------------------------ every value, from the declarations
def _numeric_keys(cfg):
    "(key, value) of every number and tuple of numbers of `cfg` that `--set` may change."
    out = []
    for k, text in config.config_items(cfg).items():
        if k in config._PER_ROW: continue
        obj = cfg
        for p in k.split('.'): obj = getattr(obj, p)
        items = obj if isinstance(obj, tuple) else (obj,)
        if items and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items): out.append((k, obj))
    return out

TINY = config.get_config('tiny')
NUMERIC = _numeric_keys(TINY)

def test_the_numbers_are_found():
    keys = [k for k, _ in NUMERIC]
    for k in ('seeds', 'data.n_train', 'train.lr', 'train.weight_decay', 'train.momentum', 'train.proj_dims', 'train.gen_crop',
              'train.viewmaker_lr', 'gan.psi', 'invert.lr', 'views.lr', 'views.eps1', 'eval.k'): assert k in keys, k
    fct.test_eq(len(keys), len(set(keys)))

def _with_last(v, text):
    "`v` written for --set, its last item (or itself) replaced by `text`."
    return ','.join([config._as_text(x) for x in v[:-1]] + [text]) if isinstance(v, tuple) else text

@pytest.mark.parametrize('key,value', NUMERIC, ids=[k for k, _ in NUMERIC])
def test_every_number_refuses_negative_and_non_finite(key, value):
    "Each number of the config is refused at -1, and each float at nan and inf, naming the field: no range is a hand list."
    leaf = key.split('.')[-1]
    is_float = isinstance(value[-1] if isinstance(value, tuple) else value, float)
    for text in ['-1'] + (['nan', 'inf', '-inf'] if is_float else []):
        with pytest.raises(A2Error) as e: config.get_config('tiny', [f'{key}={_with_last(value, text)}'])
        assert leaf in str(e.value), (key, text, str(e.value))

@pytest.mark.parametrize('kv,msg', [
    ('train.weight_decay=nan', 'weight_decay must be a finite number >= 0, got nan'),
    ('train.lr=-0.1', 'lr must be > 0, got -0.1'),
    ('train.momentum=1.5', 'momentum must be in [0, 1), got 1.5'),
    ('train.width=0', 'width must be >= 1, got 0'),
    ('train.batch_size=1', 'batch_size must be >= 2, got 1'),
    ('train.proj_dims=32,0', 'proj_dims[1] must be >= 1, got 0'),
    ('train.proj_dims=', 'proj_dims must name at least one value'),
    ('train.warmup_epochs=-1', 'warmup_epochs must be >= 0, got -1'),
    ('train.viewmaker_lr=nan', 'viewmaker_lr must be a finite number > 0, got nan'),
    ('train.gen_crop=1.0,0.5', 'gen_crop must be (lo, hi) with lo <= hi, got (1.0, 0.5)'),
    ('train.backbone=vit', "unknown backbone 'vit'"),
    ('views.lr=0', 'views.lr must be a finite number > 0, got 0.0'),
    ('views.keep_anchor=maybe', 'expected a value of type bool'),
    ('gan.kimg=inf', 'gan.kimg must be a finite number > 0, got inf'),
    ('data.root=', "data.root must be a non-empty string, got ''"),
    ('seeds=0,0', 'seeds 0, 0: each seed once'),
    ('seeds=-3', 'seeds[0] must be a finite integer in [0, 2**32), got -3'),
    ('seeds=18446744073709551616', 'seeds[0] must be a finite integer in [0, 2**32), got 18446744073709551616'),
    ('seeds=', 'seeds must name at least one seed'),
    ('rows=simclr,simclr', 'rows simclr, simclr: each row once'),
    ('device=tpu', 'device tpu: expected cpu, cuda, cuda:N or mps'),
])
def test_bad_value_refused_before_anything_is_written(capsys, empty_cwd, kv, msg):
    line = cli(capsys, 'run', 'tiny', '--out', 'runs', '--set', kv)
    assert line.startswith('a2lit: error:') and msg in line, line
    fct.test_eq(tree(empty_cwd), [])

# ------------------------------------------------------------------ the run folder's name
@pytest.mark.parametrize('name', ['../victim', 'a/b', '.', '..', '.hidden', 'x\\y', '/abs/path', ''])
def test_preset_must_be_a_plain_name(capsys, empty_cwd, name):
    line = cli(capsys, 'run', 'tiny', '--out', 'runs', '--set', f'preset={name}')
    assert 'preset' in line and ('must be a plain name' in line or 'non-empty string' in line), line
    fct.test_eq(tree(empty_cwd), [])

def test_out_may_be_any_folder(capsys, empty_cwd):
    "`--set out=...` is the output root: a path is fine there."
    fct.test_eq(config.get_config('tiny', ['out=../elsewhere/runs']).out, '../elsewhere/runs')
    fct.test_eq(config.run_dir(config.get_config('tiny', ['out=/abs/runs', 'preset=tiny-b'])), Path('/abs/runs/tiny-b'))

@pytest.mark.parametrize('where', ['relative', 'absolute'])
def test_preset_path_cannot_reach_outside_out(tmp_path, where):
    "A preset that is a path would make the run folder OUT/../victim, outside OUT: refused (exit 2, one line) before anything is written."
    victim = tmp_path / 'victim'; victim.mkdir()
    planted = victim / '.x.tmp'; planted.write_text('not a partial write of ours')   # what the run folder's sweep of partial writes would remove
    work = tmp_path / 'work'; work.mkdir()
    before = tree(tmp_path)
    preset = '../victim' if where == 'relative' else str(victim)
    r = subprocess.run([A2LIT, 'run', 'tiny', '--out', str(work / 'OUT'), '--set', f'preset={preset}'],
                       cwd=work, env=ENV, capture_output=True, text=True, timeout=120)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1 and err[0].startswith('a2lit: error:') and 'must be a plain name' in err[0], r.stderr
    assert 'Traceback' not in r.stderr
    assert planted.read_text() == 'not a partial write of ours'
    assert not (victim / 'config.json').exists() and not (victim / '.lock').exists()
    fct.test_eq(tree(tmp_path), before)                        # nothing created anywhere: not OUT, not the data folder

# ------------------------------------------------------------------ every option, up front
@pytest.mark.parametrize('args,msg', [
    (['--device', 'tpu'], '--device tpu: expected cpu, cuda, cuda:N or mps'),
    (['--device', 'cuda:x'], '--device cuda:x: expected cpu, cuda, cuda:N or mps'),
    (['--dist-timeout', 'nan'], '--dist-timeout (hours) must be a finite number in (0, 8760], got nan'),
    (['--dist-timeout', 'inf'], '--dist-timeout (hours) must be a finite number in (0, 8760], got inf'),
    (['--dist-timeout', '0'], '--dist-timeout (hours) must be in (0, 8760], got 0.0'),
    (['--dist-timeout', '-2'], '--dist-timeout (hours) must be in (0, 8760], got -2.0'),
    (['--dist-timeout', '1e300'], '--dist-timeout (hours) must be in (0, 8760], got 1e+300'),
    (['--seed', '-1'], '--seed must be a finite integer in [0, 2**32), got -1'),
    (['--seed', str(2**64)], f'--seed must be a finite integer in [0, 2**32), got {2**64}'),
    (['--seed', '0', '--seed', '0'], 'seeds 0, 0: each seed once'),
    (['--seed', 'x'], "argument --seed: invalid int value: 'x'"),
    (['--out', ''], "out must be a non-empty string, got ''"),
    (['--bogus'], 'unrecognized arguments: --bogus'),
])
def test_run_options_checked_up_front(capsys, empty_cwd, args, msg):
    line = cli(capsys, 'run', 'tiny', *args)
    assert line.startswith('a2lit: error:') and msg in line, line
    fct.test_eq(tree(empty_cwd), [])

def test_device_this_machine_lacks(capsys, empty_cwd, monkeypatch):
    "cuda without CUDA, cuda:N past the last GPU, mps without MPS: exit 2 before any stage, whatever this machine has."
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert 'cuda' in cli(capsys, 'run', 'tiny', '--device', 'cuda').lower()
    assert 'cuda' in cli(capsys, 'run', 'tiny', '--set', 'device=cuda').lower()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True); monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    assert 'cuda:3' in cli(capsys, 'run', 'tiny', '--device', 'cuda:3')
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    assert 'mps' in cli(capsys, 'run', 'tiny', '--device', 'mps').lower()
    assert 'mps' in cli(capsys, 'fit', '--out', 'f', '--device', 'mps').lower()
    fct.test_eq(tree(empty_cwd), [])

@pytest.mark.parametrize('args,msg', [
    (['fit', '--out', 'f', '--device', 'tpu'], '--device tpu: expected cpu, cuda, cuda:N or mps'),
    (['fit', '--out', 'f', '--until', '0'], '--until must be a finite integer >= 1, got 0'),
    (['fit', '--out', 'f', '--n-train', '-5'], '--n-train must be a finite integer >= 1, got -5'),
    (['fit', '--out', 'f', '--dataset', 'mnist'], "--dataset must be one of shapes10, cifar10, cifar100, tinyimagenet, got 'mnist'"),
    (['fit', '--out', 'f', '--set', 'weight_decay=nan'], 'weight_decay must be a finite number >= 0, got nan'),
    (['fit', '--out', 'f', '--set', 'seed=-1'], 'seed must be in [0, 2**32), got -1'),
    (['fit', '--out', 'f', '--backend', 'tcp'], "argument --backend: invalid choice: 'tcp'"),
    (['calibrate', '--threads', '-1'], '--threads must be a finite integer >= 0, got -1'),
    (['calibrate', '--width', '0'], 'width must be >= 1, got 0'),
    (['calibrate', '--batch', '1'], 'batch_size must be >= 2, got 1'),
    (['calibrate', '--lr', 'nan'], 'lr must be a finite number > 0, got nan'),
    (['calibrate', '--seed', '-1'], 'seed must be in [0, 2**32), got -1'),
    (['config', 'tiny', '--set', 'train.width=0'], 'width must be >= 1, got 0'),
])
def test_fit_calibrate_config_options_checked_up_front(capsys, empty_cwd, args, msg):
    line = cli(capsys, *args)
    assert line.startswith('a2lit: error:') and msg in line, line
    fct.test_eq(tree(empty_cwd), [])                           # calibrate: refused before its dataset is rendered

# ------------------------------------------------------------------ a2lit config PRESET
def test_config_lists_every_key(capsys):
    a2cli.main(['config', 'tiny', '--set', 'train.epochs=3', '--set', 'views.n=2'])
    lines = capsys.readouterr().out.splitlines()
    items = config.config_items(config.get_config('tiny', ['train.epochs=3', 'views.n=2']))
    fct.test_eq(lines, [f'{k} = {v}'.rstrip() for k, v in items.items()])
    for want in ('preset = tiny', 'seeds = 0,1', 'train.epochs = 3', 'views.n = 2', 'train.proj_dims = 32,16', 'train.amp = true', 'data.name = shapes10'):
        assert want in lines, want
    # every line, given back as --set, is that same config
    sets = [l.replace(' = ', '=', 1).replace(' =', '=', 1) for l in lines if l.split(' ')[0] not in config._PER_ROW]
    fct.test_eq(config.get_config('tiny', sets), config.get_config('tiny', ['train.epochs=3', 'views.n=2']))

def test_help_and_unknown_key_say_how_to_list_keys(capsys):
    with pytest.raises(SystemExit) as e: a2cli.main(['--help'])
    assert e.value.code == 0
    assert 'a2lit config PRESET lists every key' in ' '.join(capsys.readouterr().out.split())
    line = cli(capsys, 'run', 'tiny', '--set', 'train.epoks=3')
    assert "unknown config key 'train.epoks'; expected one of train.views, train.loss," in line and line.endswith('a2lit config tiny lists every key'), line
    assert 'a2lit config demo lists every key' in cli(capsys, 'config', 'demo', '--set', 'nope=1')

# ------------------------------------------------------------------ each error class at each command's boundary
COMMANDS = {   # command line -> the function of a2lit.cli it reaches first once its options are checked
    'run': (['run', 'tiny', '--out', 'runs'], 'run'),
    'stage': (['eval', 'tiny', '--out', 'runs'], 'run'),
    'gan': (['gan', 'eval', '--out', 'g'], 'gan_main'),
    'fit': (['fit', '--out', 'f'], 'load_dataset'),
    'calibrate': (['calibrate'], 'calibrate'),
    'config': (['config', 'tiny'], 'config_items'),
}
ERRORS = {   # what reaches the boundary -> exit status, start of the line
    'user': (lambda: A2Error('bad value: expected a good one'), 2, 'a2lit: error: bad value: expected a good one'),
    'oserror': (lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), 'runs/x.safetensors'), 1, 'a2lit: error: [Errno 28] No space left on device'),
    'safetensors': (lambda: SafetensorError('Error while serializing: IoError(Os { code: 28,\n kind: StorageFull })'), 1, 'a2lit: error: safetensors: Error while serializing'),
    'interrupt': (lambda: KeyboardInterrupt(), 130, 'a2lit: interrupted; '),
    'interrupt-in-import': (lambda: _cut_import(), 130, 'a2lit: interrupted; '),
}

def _cut_import():
    "What Ctrl-C during the import of a C extension (matplotlib's, say) raises: an ImportError caused by the KeyboardInterrupt."
    e = ImportError('initialization failed'); e.__cause__ = KeyboardInterrupt()
    return e

def test_a_bug_keeps_its_traceback(monkeypatch):
    "Not an input or the environment: the boundary leaves it alone, so the traceback tells what broke."
    monkeypatch.setattr(a2cli, 'config_items', lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError): a2cli.main(['config', 'tiny'])

@pytest.mark.parametrize('error', list(ERRORS))
@pytest.mark.parametrize('command', list(COMMANDS))
def test_error_class_is_one_line_and_its_exit_status(capsys, empty_cwd, monkeypatch, command, error):
    argv, target = COMMANDS[command]
    make, rc, start = ERRORS[error]
    def fail(*a, **k): raise make()
    monkeypatch.setattr(a2cli, target, fail)
    line = cli(capsys, *argv, rc=rc)
    assert line.startswith(start), line
    if rc == 1: assert 'rerun the same command' in line, line

def test_a_real_oserror(capsys, empty_cwd):
    "--out is a file, not a folder: the run folder cannot be made; exit 1, one line."
    (empty_cwd / 'afile').write_text('x')
    line = cli(capsys, 'data', 'tiny', '--out', 'afile', rc=1)
    assert line.startswith('a2lit: error:') and 'afile' in line and 'rerun the same command to resume' in line, line

# ------------------------------------------------------------------ a late error no longer poisons the run folder
RUN = ['simclr', 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr']   # one short training (seconds)

@pytest.mark.parametrize('bad', ['train.weight_decay=nan', 'train.width=0', 'train.momentum=-1', 'train.proj_dims=32,0', 'train.viewmaker_lr=inf',
                                 'train.gen_crop=0,1', 'train.batch_size=1', 'views.lr=0', 'gan.psi=0'])
def test_late_error_refused_before_config_json(capsys, empty_cwd, bad):
    "Values the trainer (or a later stage) used to refuse only once it ran, after config.json bound the folder to them."
    cli(capsys, *RUN, '--set', bad)
    assert not (empty_cwd / 'runs/tiny/config.json').exists()
    fct.test_eq(tree(empty_cwd), [])

def test_corrected_command_runs_in_the_same_folder(capsys, empty_cwd):
    cli(capsys, *RUN, '--set', 'train.weight_decay=nan')
    assert not (empty_cwd / 'runs').exists()
    a2cli.main(RUN)                                             # the corrected command: no 'holds artifacts of another config'
    out, err = capsys.readouterr()
    assert 'simclr: done' in out and 'another config' not in err, (out, err)
    fct.test_eq(read_json(empty_cwd / 'runs/tiny/config.json')['train']['weight_decay'], 1e-6)
    assert (empty_cwd / 'runs/tiny/simclr/done.json').exists()

@pytest.mark.parametrize('code, teardown', [(130, False), (2, True), (0, True)])
def test_console_skips_teardown_only_after_ctrl_c(code, teardown):
    "The installed command exits 130 after Ctrl-C without the interpreter's teardown (a half-imported C extension can crash it); other exits tear down as usual."
    prog = ("import atexit, sys, a2lit.cli as c\n"
            "atexit.register(lambda: print('teardown', flush=True))\n"
            f"def main(): print('stopped', file=sys.stderr); sys.exit({code})\n"
            "c.main = main\n"
            "sys.exit(c.console())\n")
    r = subprocess.run([sys.executable, '-c', prog], capture_output=True, text=True, timeout=120)
    fct.test_eq((r.returncode, 'teardown' in r.stdout, r.stderr), (code, teardown, 'stopped\n'))
