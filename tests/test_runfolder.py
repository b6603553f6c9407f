"The run folder: one command at a time, stages that rerun when their outputs are gone, reports that keep every finished row."
import csv, os, subprocess, sys
from pathlib import Path
import torch
import fastcore.test as fct
from safetensors.torch import load_file

A2LIT = str(Path(sys.executable).parent / 'a2lit')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}
SMALL = ['--out', 'runs', '--set', 'rows=simclr,a2-wsearch', '--set', 'seeds=0']

def a2lit(*args, cwd, timeout=600):
    return subprocess.run([A2LIT, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)

def test_second_command_on_a_locked_folder_is_refused(tmp_path):
    assert a2lit('data', 'tiny', *SMALL, cwd=tmp_path).returncode == 0
    run = tmp_path / 'runs/tiny'
    (run / 'data' / '.stats.json.abc123.tmp').write_text('a write in progress')   # what another command may be writing
    holder = subprocess.Popen([sys.executable, '-c', f"from pathlib import Path; from a2lit.rundir import lock_run_dir; import time\n"
                               f"lock_run_dir(Path({str(run)!r})); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        r = a2lit('run', 'tiny', *SMALL, cwd=tmp_path)
        fct.test_eq(r.returncode, 2)
        assert 'is in use by another a2lit command (pid' in r.stderr and 'Traceback' not in r.stderr, r.stderr
        fct.test_eq(len(r.stderr.strip().splitlines()), 1)
        assert (run / 'data' / '.stats.json.abc123.tmp').exists()            # the other command's file is left alone
    finally: holder.kill(); holder.wait()
    r = a2lit('data', 'tiny', *SMALL, cwd=tmp_path)                      # the lock dies with its process
    assert r.returncode == 0 and 'data: up to date' in r.stdout, r.stderr
    assert not (run / 'data' / '.stats.json.abc123.tmp').exists()         # now it is a leftover, and swept

def test_a_stage_whose_output_is_gone_runs_again(tmp_path):
    assert a2lit('run', 'tiny', *SMALL, cwd=tmp_path).returncode == 0
    run = tmp_path / 'runs/tiny'
    bank, ck = run / 'views/search.safetensors', run / 'train/a2-wsearch-s0/checkpoint.safetensors'
    bank_bytes, ck_tensors, res = bank.read_bytes(), load_file(ck), (run / 'report/results.csv').read_text()
    bank.unlink(); ck.unlink()
    r = a2lit('run', 'tiny', *SMALL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'views: finished before, but views/search.safetensors is missing: running it again' in r.stdout, r.stdout
    assert 'train: finished before, but train/a2-wsearch-s0/checkpoint.safetensors is missing: running it again' in r.stdout, r.stdout
    assert bank.read_bytes() == bank_bytes                                # rebuilt exactly
    again = load_file(ck)                                                  # retrained exactly (its header also holds timings)
    assert set(again) == set(ck_tensors) and all(torch.equal(again[k], ck_tensors[k]) for k in again)
    fct.test_eq((run / 'report/results.csv').read_text(), res)
    with open(bank, 'r+b') as f: f.truncate(1000)                         # a damaged output: another size
    r = a2lit('views', 'tiny', *SMALL, cwd=tmp_path)
    assert 'views/search.safetensors is changed' in r.stdout, (r.stdout, r.stderr)

def test_a_subset_run_keeps_the_rows_already_reported(tmp_path):
    assert a2lit('run', 'tiny', *SMALL, cwd=tmp_path).returncode == 0
    r = a2lit('run', 'tiny', '--out', 'runs', '--set', 'rows=simclr', '--set', 'seeds=0', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [x['row'] for x in csv.DictReader(open(tmp_path / 'runs/tiny/report/results.csv'))]
    assert {'simclr', 'a2-wsearch'} <= set(rows), rows

def test_the_report_follows_its_eval_records(tmp_path):
    args = ['--out', 'runs', '--set', 'rows=simclr', '--set', 'seeds=0']
    assert a2lit('run', 'tiny', *args, cwd=tmp_path).returncode == 0
    rec = tmp_path / 'runs/tiny/eval/simclr-s0.json'
    d = __import__('json').loads(rec.read_text()); d['linear'] = 0.5; rec.write_text(__import__('json').dumps(d))
    r = a2lit('report', 'tiny', *args, cwd=tmp_path)
    assert r.returncode == 0 and 'report: finished before, but its input eval/simclr-s0.json changed: running it again' in r.stdout, r.stdout
    row = next(x for x in csv.DictReader(open(tmp_path / 'runs/tiny/report/results.csv')) if x['row'] == 'simclr')
    fct.test_eq(float(row['linear_mean']), 50.0)
    assert 'report: up to date' in a2lit('report', 'tiny', *args, cwd=tmp_path).stdout
