"The `a2lit` command end to end on the `tiny` preset: every stage, the tables, resume after SIGKILL, user errors; `a2lit calibrate`."
import csv, json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import fastcore.test as fct

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}

def a2lit(*args, cwd, timeout=900):
    return subprocess.run([A2LIT, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)

def test_run_tiny_writes_every_table(tmp_path):
    r = a2lit('run', 'tiny', '--out', 'runs', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = tmp_path / 'runs/tiny/report'
    md = (rep / 'results.md').read_text()
    for s in ['## Main table', '## Loss ablation', 'Raw pixels', 'A2 with W-search vs SimCLR', 'seed-to-seed std', '## View pairs']:
        assert s in md, s
    rows = list(csv.DictReader(open(rep / 'results.csv')))
    fct.test_eq(len(rows), 12)                               # 9 rows of the main table + 3 more ablation rows
    for r in rows:
        for k in ('knn5_mean', 'linear_mean', 'knn5_cos_mean'): assert 0 <= float(r[k]) <= 100, r      # percent
        for k in ('knn5_std', 'linear_std'): assert 0 <= float(r[k]) <= 50, r
        assert 1 <= float(r['Avg rank']) <= 12, r
    fct.test_eq({r['View 3'] for r in rows if r['row'].startswith('a2')} >= {'expert', 'W-search', 'W-perturb', 'ViewMaker'}, True)
    pairs = list(csv.DictReader(open(rep / 'view_pairs.csv')))
    fct.test_eq([p['View pair'] for p in pairs], ['Original, Expert', 'Original, W-search', 'W-search, Expert', 'Original, W-perturb', 'W-perturb, Expert'])
    for p in pairs: assert -1 <= float(p['E[f.f~]']) <= 1 and float(p['I']) > -1, p
    assert (rep / 'training_curves.png').stat().st_size > 1000
    assert (tmp_path / 'runs/tiny/data/expert_views.png').stat().st_size > 1000
    assert (tmp_path / 'runs/tiny/views/search.safetensors').exists() and (tmp_path / 'runs/tiny/views/perturb.safetensors').exists()
    r2 = a2lit('run', 'tiny', '--out', 'runs', cwd=tmp_path)      # everything is up to date the second time
    assert r2.returncode == 0 and r2.stdout.count('up to date') == 8, r2.stdout

def test_supcontrast_encoder_f(tmp_path):
    "f=supcontrast (the authors' CIFAR-100/TinyImageNet f): the simclr stage also trains SupContrast's ResNet-50, head and loss scale, and W-search uses it."
    import torch
    from a2lit.core import load_artifact, state_hash
    from a2lit.train import load_encoder
    from a2lit.viewbank import ViewBank
    small = ['--set', 'data.n_train=64', '--set', 'views.n=2', '--set', 'views.max_steps=2']   # a ResNet-50 f: the least that runs every stage
    r = a2lit('run', 'tiny', '--out', 'runs', '--set', 'rows=simclr,a2-wsearch', '--set', 'f=supcontrast', *small, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / 'runs/tiny'
    c = load_artifact(run / 'train/f-supcontrast-s0/checkpoint.safetensors')[1]['config']
    fct.test_eq((c['backbone'], c['proj_dims'], c['proj_bn'], c['loss'], c['views']), ('resnet50', [2048, 128], False, 'simclr', ['expert', 'expert']))
    fct.test_close(c['loss_scale'], c['tau'] / 0.07, eps=1e-12)
    f = load_encoder(run / 'train/f-supcontrast-s0/checkpoint.safetensors')
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in f.model.projector.modules())
    fct.test_eq([type(m).__name__ for m in f.model.projector], ['Linear', 'ReLU', 'Linear'])
    fct.test_eq(ViewBank.load(run / 'views/search.safetensors').meta['f_hash'], state_hash(f))        # the views were searched with it
    assert state_hash(load_encoder(run / 'train/simclr-s0/checkpoint.safetensors')) != state_hash(f)  # and the SimCLR row is still trained

def _results(root): return (root / 'runs/tiny/report/results.csv').read_text()

def test_sigkill_mid_stage_then_resume(tmp_path):
    args = ['run', 'tiny', '--out', 'runs', '--set', 'rows=simclr,a2-wsearch']
    ref = tmp_path / 'ref'; ref.mkdir()
    assert a2lit(*args, cwd=ref).returncode == 0
    run = tmp_path / 'killed'; run.mkdir()
    p = subprocess.Popen([A2LIT, *args], cwd=run, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = run / 'runs/tiny/train/a2-wsearch-s0/checkpoint.safetensors'   # the middle of the train stage
    t = time.time()
    while not target.exists() and p.poll() is None and time.time() - t < 240: time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be killed"
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (run / 'runs/tiny/report/results.csv').exists()
    r = a2lit(*args, cwd=run)
    assert r.returncode == 0, r.stderr[-2000:]
    for s in ('data', 'simclr', 'gan', 'invert', 'views'): assert f'{s}: up to date' in r.stdout, (s, r.stdout)
    fct.test_eq(_results(run), _results(ref))

@pytest.mark.parametrize('args,msg', [
    (['run', 'nope'], "unknown preset 'nope'"),
    (['run', 'tiny', '--set', 'train.epoks=3'], "unknown config key 'train.epoks'"),
    (['run', 'tiny', '--set', 'train.epochs=three'], 'train.epochs=three: expected a value of type int'),
    (['run', 'tiny', '--set', 'rows=simclr,bogus'], "unknown row 'bogus'"),
    (['run', 'tiny', '--set', 'train.loss=byol'], "train.loss is decided by each row"),
    (['run', 'tiny', '--set', 'train.tau=-1'], "tau must be > 0, got -1.0"),
    (['data', 'cifar10'], 'download=True'),
])
def test_user_errors_are_one_line(tmp_path, args, msg):
    r = a2lit(*args, '--out', 'runs', cwd=tmp_path, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and msg in err[0] and err[0].startswith('a2lit: error:'), r.stderr
    assert 'Traceback' not in r.stderr

def test_other_config_in_same_folder_refused(tmp_path):
    assert a2lit('data', 'tiny', '--out', 'runs', cwd=tmp_path).returncode == 0
    r = a2lit('data', 'tiny', '--out', 'runs', '--set', 'data.n_train=300', cwd=tmp_path)
    assert r.returncode == 2 and 'differs in data.n_train' in r.stderr and 'Traceback' not in r.stderr

SMALL_PROBE = ['--set', 'n_train=512', '--set', 'n_test=256', '--backbone', 'small', '--width', '8', '--epochs', '1', '--n', '256']

def test_calibrate_appends_a_record(tmp_path):
    "`a2lit calibrate` appends one JSON line in the format of the records in reports/calibration/probes.jsonl."
    (tmp_path / 'rec.jsonl').write_text('{"earlier": 1}\n')
    r = a2lit('calibrate', *SMALL_PROBE, '--set', 'scale=[0.4,0.8]', '--note', 'a test', '--record', 'rec.jsonl', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = (tmp_path / 'rec.jsonl').read_text().splitlines()
    fct.test_eq(len(lines), 2)
    rec = json.loads(lines[1])
    fct.test_eq(rec, json.loads(r.stdout.strip().splitlines()[-1]))
    kept = json.loads((Path(__file__).resolve().parents[1] / 'reports/calibration/probes.jsonl').read_text().splitlines()[-1])
    fct.test_eq(list(rec), list(kept))
    for k in ('raw', 'simclr'):
        fct.test_eq(list(rec[k]), list(kept[k])); assert all(0 <= v <= 1 for v in rec[k].values()), rec[k]
    fct.test_eq((rec['note'], rec['data'], rec['backbone'], rec['n']), ('a test', {'n_train': 512, 'n_test': 256, 'scale': [0.4, 0.8]}, 'small', 256))

@pytest.mark.parametrize('args,msg', [
    (['calibrate', '--set', 'n_hues=two'], '--set n_hues=two: expected a value of type int'),
    (['calibrate', '--set', 'hues=2'], "unknown config key 'hues'; expected one of n_train, n_test,"),
    (['calibrate', *SMALL_PROBE[:4], '--n', '100'], '--n must be between 256 and 512, got 100'),
])
def test_calibrate_user_errors_are_one_line(tmp_path, args, msg):
    r = a2lit(*args, cwd=tmp_path, timeout=120)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1 and err[0].startswith('a2lit: error:') and msg in err[0], r.stderr
