"""File-level reliability: the modes new files get, what the sweep of temporary files may remove, a real full disk under
safetensors, checkpoint metadata covered by a hash, damaged evaluation records fed to the report, and unusable devices.

The full-disk tests mount a 256 KiB tmpfs (root only) and fill it; where that is not possible they are skipped, saying why."""
import errno, hashlib, json, os, shutil, stat, struct, subprocess, sys
from pathlib import Path
import pytest, torch
import fastcore.test as fct
import a2lit.core as core_mod
import a2lit.cli as a2cli
from cli_helpers import cli
import a2lit.quality as quality
from safetensors import SafetensorError
from a2lit.core import A2Error, save_artifact, load_artifact, write_json, read_json, save_checkpoint, load_checkpoint, latest_checkpoint, sweep_partial_writes, get_device
from a2lit.viewbank import write_safetensors_stream

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'PYTHONUNBUFFERED': '1'}

def mode(p): return stat.S_IMODE(os.stat(p).st_mode)

def partials(root):
    "Temporary files of interrupted writes under `root`: ours ('.NAME.RANDOM.tmp') and safetensors' own ('.tmpXXXXXX')."
    return [p for p in Path(root).rglob('*') if p.name.endswith('.tmp') or core_mod._SAFETENSORS_PARTIAL.fullmatch(p.name)]


# ------------------------------------------------------------------ modes: the user's umask, as open() gives
@pytest.mark.parametrize('umask, want', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_take_the_umask(tmp_path, umask, want):
    old = os.umask(umask)
    try:
        a = save_artifact(tmp_path / 'a.safetensors', {'x': torch.arange(4.)}, {'v': 1})
        save_artifact(a, {'x': torch.arange(5.)}, {'v': 2})                          # replacing a file: the new one's mode too
        write_json(tmp_path / 'sub' / 'j.json', {'v': 1})
        bank = write_safetensors_stream(tmp_path / 'bank.safetensors', [('x', torch.uint8, (4, 2), [torch.zeros(4, 2, dtype=torch.uint8)])])
        fct.test_eq(os.umask(umask), umask)                                           # reading it changed nothing
    finally: os.umask(old)
    for p in (a, tmp_path / 'a.safetensors.json', tmp_path / 'sub' / 'j.json', bank): fct.test_eq(oct(mode(p)), oct(want))
    assert not partials(tmp_path)

def test_umask_without_proc(tmp_path, monkeypatch):
    "Where /proc does not show the umask it is set and put back at once: the same modes, the umask unchanged afterwards."
    monkeypatch.setattr(core_mod, '_STATUS', str(tmp_path / 'no-such-file'))
    old = os.umask(0o027)
    try:
        fct.test_eq(core_mod._umask(), 0o027); write_json(tmp_path / 'j.json', {})
        fct.test_eq(os.umask(0o027), 0o027)
    finally: os.umask(old)
    fct.test_eq(oct(mode(tmp_path / 'j.json')), oct(0o640))

# ------------------------------------------------------------------ the sweep removes only what this user could have written
def test_sweep_removes_own_temporary_files_only(tmp_path):
    d = tmp_path / 'run'; (d / 'train').mkdir(parents=True)
    ours = [d / '.done.json.ab12cd.tmp', d / 'train' / '.checkpoint.safetensors.x9y8z7.tmp', d / 'train' / '.tmpAb12Cd']
    kept = [d / 'notes.tmp', d / '.tmpfoo', d / 'train' / 'checkpoint.safetensors', d / '.tmpAb12Cd.json']
    for p in ours + kept: p.write_text('x')
    fct.test_eq(sweep_partial_writes(d), len(ours))
    assert not any(p.exists() for p in ours) and all(p.exists() for p in kept)

def test_sweep_never_follows_a_link(tmp_path):
    "A link named like a temporary file is left alone, and so is its target; a linked folder is not entered."
    d, elsewhere = tmp_path / 'run', tmp_path / 'elsewhere'; d.mkdir(); elsewhere.mkdir()
    target = elsewhere / 'precious.safetensors'; target.write_text('keep')
    far = elsewhere / '.x.json.abc123.tmp'; far.write_text('keep')
    (d / '.checkpoint.safetensors.abc123.tmp').symlink_to(target)
    (d / '.tmpQwErTy').symlink_to(target)
    (d / 'linked').symlink_to(elsewhere, target_is_directory=True)
    fct.test_eq(sweep_partial_writes(d), 0)
    fct.test_eq(target.read_text(), 'keep'); fct.test_eq(far.read_text(), 'keep')
    assert (d / '.checkpoint.safetensors.abc123.tmp').is_symlink() and (d / '.tmpQwErTy').is_symlink()

def test_sweep_leaves_other_users_files(tmp_path):
    if os.geteuid() != 0: pytest.skip("giving a file to another user needs root")
    d = tmp_path / 'run'; d.mkdir()
    theirs, mine = d / '.a.json.zz11.tmp', d / '.b.json.zz22.tmp'
    theirs.write_text('x'); mine.write_text('x')
    os.chown(theirs, 12345, 12345)
    fct.test_eq(sweep_partial_writes(d), 1)
    assert theirs.exists() and not mine.exists()

# ------------------------------------------------------------------ a full disk under safetensors
def test_safetensors_write_error_becomes_oserror(tmp_path, monkeypatch):
    "Any SafetensorError from save_file is an OSError naming the file (EIO when it says no more); the old file stays, nothing partial."
    p = save_artifact(tmp_path / 'a.safetensors', {'x': torch.arange(100.)}, {'v': 1}); before = p.read_bytes()
    def fail(tensors, filename, metadata=None):
        Path(filename).write_bytes(b'half')
        raise SafetensorError('Error while serializing: something\nunexpected')
    monkeypatch.setattr(core_mod, 'save_file', fail)
    with pytest.raises(OSError) as e: save_artifact(p, {'x': torch.zeros(100)}, {'v': 2})
    fct.test_eq(e.value.errno, errno.EIO); assert str(p) in str(e.value) and '\n' not in str(e.value), str(e.value)
    fct.test_eq(p.read_bytes(), before); fct.test_eq(load_artifact(p)[1]['v'], 1); assert not partials(tmp_path)

@pytest.fixture
def small_disk(tmp_path):
    "A 256 KiB tmpfs at tmp_path/disk, unmounted afterwards; skipped where it cannot be mounted."
    if os.name != 'posix' or os.geteuid() != 0: pytest.skip("a real full disk needs root (to mount a 256 KiB tmpfs)")
    if not shutil.which('mount'): pytest.skip("no mount command here")
    d = tmp_path / 'disk'; d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot mount a tmpfs here: {(r.stderr or r.stdout).strip()}")
    try: yield d
    finally:
        if subprocess.run(['umount', str(d)]).returncode: subprocess.run(['umount', '-l', str(d)], check=True)

def fill(d, leave=0):
    "Fill the filesystem of `d` with one file until a write fails for lack of space, or only about `leave` bytes are free."
    fd = os.open(d / 'filler', os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while shutil.disk_usage(d).free > leave: os.write(fd, b'\0' * 4096)
    except OSError as e: assert e.errno == errno.ENOSPC, e
    finally: os.close(fd)

def test_full_disk_in_save_artifact(small_disk):
    p = save_artifact(small_disk / 'a.safetensors', {'x': torch.arange(100.)}, {'v': 1})
    before, side = p.read_bytes(), (small_disk / 'a.safetensors.json').read_bytes()
    fill(small_disk)
    with pytest.raises(OSError) as e: save_artifact(p, {'x': torch.zeros(20000)}, {'v': 2})   # 80 KB: more than any slack
    fct.test_eq(e.value.errno, errno.ENOSPC)
    fct.test_eq(str(e.value), f"[Errno 28] No space left on device: '{p}'")
    fct.test_eq(p.read_bytes(), before); fct.test_eq((small_disk / 'a.safetensors.json').read_bytes(), side)
    fct.test_eq(load_artifact(p)[1]['v'], 1)
    with pytest.raises(OSError) as e: write_json(small_disk / 'b.json', {'long': 'x' * 100_000})
    fct.test_eq(e.value.errno, errno.ENOSPC)
    fct.test_eq(sorted(os.listdir(small_disk)), ['a.safetensors', 'a.safetensors.json', 'filler'])   # nothing partial, nothing new

def test_full_disk_in_the_cli(small_disk):
    "`a2lit data tiny` on a nearly full disk: the dataset cache (safetensors) cannot be written; exit 1, one line, nothing partial."
    fill(small_disk, leave=64 * 1024)   # room for the run folder's config.json and lock, not for the dataset cache
    r = subprocess.run([A2LIT, 'data', 'tiny', '--out', 'runs'], cwd=small_disk, env=ENV, capture_output=True, text=True, timeout=600)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-3000:])
    assert lines[0].startswith('a2lit: error: [Errno 28] No space left on device:') and '.safetensors' in lines[0], lines[0]
    assert 'rerun the same command to resume' in lines[0], lines[0]
    assert not partials(small_disk), partials(small_disk)
    fct.test_eq(list((small_disk / 'data' / 'shapes10').glob('*.safetensors')), [])
    assert not (small_disk / 'runs' / 'tiny' / 'data' / 'done.json').exists()

# ------------------------------------------------------------------ metadata covered by a hash
def edit_header(p, edit):
    "Apply `edit` to the a2lit metadata in `p`'s header and rewrite the header, keeping the file valid safetensors."
    b = p.read_bytes(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
    meta = json.loads(h['__metadata__']['a2lit']); edit(meta); h['__metadata__']['a2lit'] = json.dumps(meta, sort_keys=True)
    hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
    p.write_bytes(struct.pack('<Q', len(hb)) + hb + b[8 + n:])

def _ckpt(tmp_path, name='ckpt-0003.safetensors', epoch=3):
    lin = torch.nn.Linear(3, 2); opt = torch.optim.Adam(lin.parameters(), 1e-2)
    lin(torch.randn(4, 3)).sum().backward(); opt.step()
    return save_checkpoint(tmp_path / name, {'lin': lin}, {'a': opt}, {'config': {'lr': 0.01}, 'epoch': epoch, 'step': 10 * epoch}), lin, opt

def test_edited_checkpoint_metadata_is_refused(tmp_path):
    p, lin, opt = _ckpt(tmp_path)
    meta = load_artifact(p)[1]
    fct.test_eq(read_json(tmp_path / f'{p.name}.json')['meta_hash'], meta['meta_hash'])   # the sidecar mirrors it
    def bump(m): m['epoch'] += 1
    edit_header(p, bump)
    fct.test_eq(len(load_artifact(p, check=False)[0]), len(load_artifact(p, check=False)[0]))   # still valid safetensors
    fct.test_eq(load_artifact(p, check=False)[1]['epoch'], 4)
    for f in (lambda: load_artifact(p), lambda: load_checkpoint(p, {'lin': torch.nn.Linear(3, 2)}, {})):
        with pytest.raises(A2Error) as e: f()
        msg = str(e.value)
        assert f"artifact {p}: its metadata does not match the hash it records" in msg and '\n' not in msg, msg
    fct.test_eq(latest_checkpoint(tmp_path), None)                                    # not taken as the newest whole checkpoint
    older, *_ = _ckpt(tmp_path, 'ckpt-0002.safetensors', epoch=2)
    fct.test_eq(latest_checkpoint(tmp_path), older)                                   # the one before it is

def test_metadata_hash_edge_cases(tmp_path):
    p, *_ = _ckpt(tmp_path)
    edit_header(p, lambda m: m.__setitem__('step', m['step']))                        # rewritten, not changed: accepted
    fct.test_eq(load_artifact(p)[1]['epoch'], 3)
    edit_header(p, lambda m: m['config'].__setitem__('lr', 0.1))                      # a nested value
    with pytest.raises(A2Error, match='metadata does not match'): load_artifact(p)
    q = save_artifact(tmp_path / 'x.safetensors', {'w': torch.ones(2)}, {'epoch': 1})
    edit_header(q, lambda m: (m.pop('meta_hash'), m.__setitem__('epoch', 9)))        # as written before meta_hash existed
    fct.test_eq(load_artifact(q)[1]['epoch'], 9)
    t, m = load_artifact(p, check=False)                                               # saving loaded metadata again: fresh hashes
    r = save_artifact(tmp_path / 'y.safetensors', {'w': torch.zeros(2)}, m)
    fct.test_eq(load_artifact(r)[1]['config'], {'lr': 0.1})
    edit_header(r, lambda m: m.__setitem__('a2lit_extra', [1, 2]))                    # a key added
    with pytest.raises(A2Error, match='metadata does not match'): load_artifact(r)

def test_shipped_weights_load_unchanged():
    files = sorted(quality.weights_dir().glob('*.safetensors*'))
    if not files: pytest.skip("this checkout ships no weights")
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    for f in files:
        if f.suffix == '.safetensors': assert 'meta_hash' not in load_artifact(f)[1]   # written before the metadata hash
    G, E = quality.load_demo()
    assert not G.training and not E.training
    fct.test_eq({f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}, before)

# ------------------------------------------------------------------ damaged evaluation records, through the CLI
@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "The tiny preset, one row (simclr), one seed: every stage."
    d = tmp_path_factory.mktemp('tiny')
    r = subprocess.run([A2LIT, 'run', 'tiny', '--out', 'runs', '--set', 'rows=simclr', '--set', 'seeds=0'],
                       cwd=d, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return d

def test_damaged_eval_records_stop_the_report(tiny_run, capsys, monkeypatch):
    monkeypatch.chdir(tiny_run)
    rec = tiny_run / 'runs/tiny/eval/simclr-s0.json'; good = json.loads(rec.read_text())
    report = ['report', 'tiny', '--out', 'runs', '--set', 'rows=simclr', '--set', 'seeds=0']
    done = tiny_run / 'runs/tiny/report/done.json'
    cases = [({k: v for k, v in good.items() if k != 'linear'}, 'it has no linear score'),
             ({**good, 'knn5': 'high'}, 'it has knn5 = "high", not a fraction between 0 and 1'),
             ({**good, 'knn5_cos': float('nan')}, 'it has knn5_cos = NaN, not a fraction between 0 and 1'),
             ({**good, 'linear': float('inf')}, 'it has linear = Infinity, not a fraction between 0 and 1'),
             ([good['knn5'], good['linear']], 'it holds an array, not an object of scores'),
             ('{"knn5": 0.1, ', 'corrupt JSON in')]
    try:
        for bad, says in cases:
            rec.write_text(bad if isinstance(bad, str) else json.dumps(bad))
            done.unlink(missing_ok=True)   # the report stage is skipped while its own record and outputs are there
            line = cli(capsys, *report)
            assert 'runs/tiny/eval/simclr-s0.json' in line and says in line and line.endswith('remove it and rerun the eval stage'), line
    finally: rec.write_text(json.dumps(good, indent=2, sort_keys=True))
    done.unlink(missing_ok=True)
    a2cli.main(report); assert done.exists()   # restored: the report is written again

# ------------------------------------------------------------------ devices
def test_unknown_or_absent_device(monkeypatch):
    with pytest.raises(A2Error, match=r'^--device tpu: not a device; expected auto, cpu, cuda, cuda:N or mps$'): get_device('tpu')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for d in ('cuda', 'cuda:1'):
        with pytest.raises(A2Error, match=f'^--device {d}: no CUDA device is available here$'): get_device(d)
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    with pytest.raises(A2Error, match=r'^--device mps: no MPS device \(Apple GPU\) is available here$'): get_device('mps')
    fct.test_eq(get_device('auto'), torch.device('cpu')); fct.test_eq(get_device(None), torch.device('cpu'))
    fct.test_eq(get_device('cpu'), torch.device('cpu')); fct.test_eq(get_device(torch.device('cpu')), torch.device('cpu'))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True); monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    fct.test_eq(get_device('auto'), torch.device('cuda')); fct.test_eq(get_device('cuda:1'), torch.device('cuda:1'))
    with pytest.raises(A2Error, match=r'^--device cuda:2: this machine has 2 CUDA devices \(cuda:0 to cuda:1\)$'): get_device('cuda:2')

def test_unknown_or_absent_device_in_the_cli(tiny_run, tmp_path, capsys, monkeypatch):
    "`a2lit run tiny --device tpu` (or cuda on a machine without): one line and exit status 2."
    monkeypatch.chdir(tmp_path)
    args = ['run', 'tiny', '--out', 'runs', '--set', 'rows=simclr', '--set', 'seeds=0', '--set', f'data.root={tiny_run / "data"}']
    assert cli(capsys, *args, '--device', 'tpu').startswith('a2lit: error: --device tpu: ')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    fct.test_eq(cli(capsys, *args, '--device', 'cuda'), 'a2lit: error: --device cuda: no CUDA device is available here')
