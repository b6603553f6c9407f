"`a2lit gan` on a tiny generator: train, resume by rerunning, resume from a copied folder, eval, export, probe-lr, one-line user errors."
import json, os, subprocess, sys
from pathlib import Path
import pytest
import fastcore.test as fct
import a2lit.cli as cli
from a2lit.core import load_artifact, latest_checkpoint, tensor_hash
from a2lit.quality import load_demo, weights_dir

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}
RUN = ['--config', 'tiny', '--size', '16', '--n-train', '256', '--n-test', '128', '--batch', '16', '--data', 'data']   # 16 steps per epoch
EVAL = ['--eval-samples', '64', '--eval-recon', '8', '--eval-steps', '2']

def a2lit(*args, cwd):
    return subprocess.run([A2LIT, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)

def in_process(capsys, *args):
    "(exit status, stdout, stderr) of `a2lit ARGS` called in this process."
    try: cli.main(list(args)); code = 0
    except SystemExit as e: code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err

def digest(ckpt): t = load_artifact(ckpt)[0]; return tensor_hash(*[t[k] for k in sorted(t)])

@pytest.fixture(scope='module')
def root(tmp_path_factory):
    "`run`: trained by two invocations, the second asking for more (GAN 2 then 4 steps, then the encoder); `straight`: the same in one."
    d = tmp_path_factory.mktemp('gan')
    for kimg, enc in (('0.032', '0'), ('0.064', '0.032')):
        r = a2lit('gan', 'train', '--out', 'run', *RUN, '--kimg', kimg, '--encoder-kimg', enc, cwd=d)
        assert r.returncode == 0, r.stderr[-3000:]
    (d / 'second.out').write_text(r.stdout)
    r = a2lit('gan', 'train', '--out', 'straight', *RUN, '--kimg', '0.064', '--encoder-kimg', '0.032', cwd=d)
    assert r.returncode == 0, r.stderr[-3000:]
    return d

def test_train_resumes_by_rerunning(root):
    assert 'resumed at step 2' in (root / 'second.out').read_text()
    for sub in ('', 'encoder'):   # the continued run ends exactly where the uninterrupted one ends
        a, b = (latest_checkpoint(root / r / sub) for r in ('run', 'straight'))
        fct.test_eq(a.name, 'ckpt-00000004.safetensors' if not sub else 'ckpt-00000002.safetensors')
        fct.test_eq(digest(a), digest(b))
    cmd = json.loads((root / 'run/command.json').read_text())   # the first invocation; every one in invocations.jsonl
    fct.test_eq(cmd['argv'], ['-m', 'a2lit.cli', 'gan', 'train', '--out', 'run', *RUN, '--kimg', '0.032', '--encoder-kimg', '0'])
    fct.test_eq(len((root / 'run/invocations.jsonl').read_text().splitlines()), 2)
    assert (root / 'run/samples-00000004.png').stat().st_size > 1000 and 'GAN done' in (root / 'run/log.txt').read_text()
    r = a2lit('gan', 'train', '--out', 'run', *RUN, '--kimg', '0.064', '--encoder-kimg', '0.032', cwd=root)   # the same command again
    assert r.returncode == 0 and 'resumed at step 4' in r.stdout and 'encoder resumed at step 2' in r.stdout, r.stdout
    assert 'done' not in r.stdout, r.stdout                                                            # nothing left to train
    fct.test_eq(digest(latest_checkpoint(root / 'run')), digest(latest_checkpoint(root / 'straight')))

def test_resume_from_a_copied_folder(root):
    r = a2lit('gan', 'train', '--out', 'moved', '--resume-from', 'run', *RUN, '--kimg', '0.064', '--encoder-kimg', '0.032', cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'copied the newest checkpoints of run into moved' in r.stdout and 'resumed at step 4' in r.stdout and 'done' not in r.stdout, r.stdout
    fct.test_eq(json.loads((root / 'moved/command.json').read_text()), json.loads((root / 'run/command.json').read_text()))
    fct.test_eq(digest(latest_checkpoint(root / 'moved/encoder')), digest(latest_checkpoint(root / 'run/encoder')))

def test_eval_writes_its_json(root):
    r = a2lit('gan', 'eval', '--out', 'run', *RUN, *EVAL, cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    q = json.loads((root / 'run/eval-00000004.json').read_text())
    fct.test_eq((q['step'], q['refine_steps'], q['n_recon'], q['n_samples'], len(q['class_hist'])), (4, 2, 8, 64, 10))
    assert {'psnr_train', 'psnr_test', 'acc_real', 'acc_recon', 'fd_generated', 'fd_real', 'max_prob_mean', 'classifier_test_acc'} <= set(q), q
    assert (root / 'run/classifier.safetensors').exists() and (root / 'run/eval-samples-00000004.png').stat().st_size > 1000
    assert 'eval at 0.1 kimg' in r.stdout and 'eval at 0.1 kimg' in (root / 'run/log.txt').read_text()

def test_export_writes_weights_and_sidecars(root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(root)
    shipped = {p.name: p.read_bytes() for p in weights_dir().iterdir() if p.is_file()}
    dest = tmp_path / 'weights'
    code, out, err = in_process(capsys, 'gan', 'export', '--out', 'run', *RUN, *EVAL, '--dest', str(dest))
    assert code == 2 and len(err.strip().splitlines()) == 1 and 'targets not met, nothing exported' in err, (code, err)
    assert not dest.exists()
    code, out, err = in_process(capsys, 'gan', 'export', '--out', 'run', *RUN, *EVAL, '--dest', str(dest), '--allow-unmet')
    assert code == 0, err
    assert 'measured before' in out, out                      # the eval JSON of this checkpoint and these settings is reused
    q = json.loads((root / 'run/eval-00000004.json').read_text())
    invocations = ['python ' + ' '.join(json.loads(l)['argv']) for l in (root / 'run/invocations.jsonl').read_text().splitlines()]
    for kind in ('generator', 'encoder'):
        meta = load_artifact(dest / f'shapes10-demo-{kind}.safetensors')[1]   # refuses tensors that do not match the sidecar's hash
        fct.test_eq(meta['command'], 'python -m a2lit.cli gan train --out run ' + ' '.join(RUN) + ' --kimg 0.032 --encoder-kimg 0')
        fct.test_eq(meta['invocations'], invocations)
        fct.test_eq((meta['psnr_test'], meta['kind']), (q['psnr_test'], kind))
        assert meta['targets_met'] and not all(meta['targets_met'].values()), meta['targets_met']
    G, E = load_demo(folder=dest)
    fct.test_eq(G.cfg.size, 16)
    fct.test_eq({p.name: p.read_bytes() for p in weights_dir().iterdir() if p.is_file()}, shipped)   # the package's weights untouched

def test_probe_lr(root, monkeypatch, capsys):
    monkeypatch.chdir(root)
    code, out, err = in_process(capsys, 'gan', 'probe-lr', '--out', 'run', *RUN, '--lrs', '0.01', '0.1', '--steps', '2', '--n', '16', '--skip', '8')
    assert code == 0, err
    fct.test_eq([l.split(':')[0] for l in out.splitlines() if l.startswith('lr ')], ['lr 0.01', 'lr 0.1'])

@pytest.mark.parametrize('args,msg', [
    (['gan', 'eval', '--out', 'empty'], 'no checkpoint in empty'),
    (['gan', 'export', '--out', 'empty', '--dest', 'w'], 'no checkpoint in empty'),
    (['gan', 'train', '--out', 'new', '--resume-from', 'nowhere'], '--resume-from nowhere: no whole checkpoint there'),
    (['gan', 'train', '--out', 'new', '--dataset', 'cifar10', '--n-train', '100'], 'n_train and n_test are for Shapes-10'),
    (['gan', 'eval', '--out', 'run', *RUN, '--seed', '3'], "seed differ (give the training run's --config"),
    (['gan', 'probe-lr', '--out', 'run', *RUN, '--n', '300'], 'the probe needs 800 training images'),
])
def test_user_errors_are_one_line(root, monkeypatch, capsys, args, msg):
    monkeypatch.chdir(root)
    code, out, err = in_process(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith('a2lit: error:') and msg in lines[0], (code, err)
    assert 'Traceback' not in err and not (root / 'new').exists()
