"""The study of when generated views help, on the tiny preset: study rows end to end (paired table, bank table, figure), rows
whose views need no generator, banks and oracle rows refused before any stage runs, `a2lit config study`, the presets' budgets."""
import csv, json, math, os, subprocess, sys
from pathlib import Path
import pytest
import fastcore.test as fct
import a2lit.cli as a2cli
import a2lit.config as config
import cli_helpers

A2LIT = str(Path(sys.executable).parent / 'a2lit')   # the installed console script
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}
T975_1 = 12.7062047                                  # t_{0.975, 1}: two seeds

def a2lit(*args, cwd, timeout=600):
    return subprocess.run([A2LIT, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)

def _csv(p): return list(csv.DictReader(open(p)))

def test_study_rows_end_to_end(tmp_path):
    rows = ['simclr', 'a2-recon', 'a2-oracle100', 'a2-oracle100-flip']
    r = a2lit('run', 'tiny', '--out', 'runs', '--set', f"rows={','.join(rows)}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / 'runs/tiny'
    # the banks these rows name, and the W-search bank the flip rate is measured on; nothing else
    fct.test_eq(sorted(p.name for p in (run / 'views').glob('*.safetensors')), ['oracle-s1-flip.safetensors', 'oracle-s1.safetensors', 'recon.safetensors', 'search.safetensors'])
    views = json.loads((run / 'views/done.json').read_text())
    flip = views['oracle-s1-flip']['class_flip']
    assert 0 <= flip <= 1 and views['oracle-s1-flip']['class_flip_of'] == 'search', views
    assert 'class_flip' not in views['oracle-s1'] and views['recon']['n_views'] == 1, views
    rep = run / 'report'
    md = (rep / 'results.md').read_text()
    for s in ('## Study rows', '## Paired differences to SimCLR', '## View banks', 'paired_vs_class_change.png', 'g(w0)', 'oracle (strength 1, class flips)'):
        assert s in md, s
    # the paired table equals the differences computed here from the eval records
    ev = {(row, s): json.loads((run / f'eval/{row}-s{s}.json').read_text()) for row in rows for s in (0, 1)}
    paired = {p['row']: p for p in _csv(rep / 'paired.csv')}
    fct.test_eq(sorted(paired), sorted(rows[1:]))
    for row, p in paired.items():
        for m in ('linear', 'knn5'):
            d = [ev[row, s][m] - ev['simclr', s][m] for s in (0, 1)]
            mean, half = sum(d) / 2, T975_1 * abs(d[0] - d[1]) / math.sqrt(2) / math.sqrt(2)   # sd of two values: |d0 - d1| / sqrt(2)
            fct.test_close((float(p[f'{m}_diff']), float(p[f'{m}_lo']), float(p[f'{m}_hi'])), (mean, mean - half, mean + half), eps=1e-7)
            fct.test_eq(p[f'{m}_resolved'], str(abs(d[0] - d[1]) > 1e-12 and (mean - half > 0 or mean + half < 0)))   # equal pairs: no spread, not resolved
        fct.test_eq(p['pairs'], '2')
    # every seed's scores, as the eval records hold them, so that any two rows can be paired later
    fct.test_eq({(r['row'], int(r['seed'])): {m: float(r[m]) for m in ('knn5', 'knn5_cos', 'linear')} for r in _csv(rep / 'scores.csv')},
                {k: {m: v[m] for m in ('knn5', 'knn5_cos', 'linear')} for k, v in ev.items()})
    # the bank table: the classifier's floor, expert views, then each bank; the flip bank's rate is the one measured on W-search
    banks = {b['Bank']: b for b in _csv(rep / 'banks.csv')}
    fct.test_eq(list(banks), ['real test images', 'expert', 'oracle-s1', 'recon', 'search', 'oracle-s1-flip'])
    fct.test_close(float(banks['search']['Class change (%)']), 100 * flip, eps=1e-6)
    fct.test_eq(float(banks['oracle-s1']['True class change (%)']), 0.0)
    assert abs(float(banks['oracle-s1-flip']['True class change (%)']) - 100 * flip) < 100 * 4 * math.sqrt(max(flip * (1 - flip), 0.01) / (256 * 3)), banks
    fct.test_eq((banks['recon']['Views'], banks['recon']['Median between siblings'], banks['search']['Views']), ('1', '', '3'))
    fct.test_eq(float(banks['recon']['Median to f0']), 0.0)                      # g(w0) is its own anchor
    assert float(banks['recon']['Median to f(x)']) > 0 and float(banks['oracle-s1']['Median between siblings']) > 0, banks
    for b in banks.values():
        assert 0 <= float(b['Class change (%)']) <= 100, b
        for k in ('fg_hue', 'bg_hue', 'distractor'):          # what else the views changed, read by the run's factor classifiers
            assert 0 <= float(b[f'{k} change (%)']) <= 100, b
    fct.test_eq(float(banks['recon']['fg_hue change (%)']) <= float(banks['oracle-s1']['fg_hue change (%)']), True)   # fresh colours change more than g(w0)
    assert (rep / 'paired_vs_class_change.png').stat().st_size > 1000
    assert (run / 'classifier/classifier.safetensors').exists() and (run / 'classifier/factors.safetensors').exists()
    r2 = a2lit('run', 'tiny', '--out', 'runs', '--set', f"rows={','.join(rows)}", cwd=tmp_path)
    assert r2.returncode == 0 and r2.stdout.count('up to date') == 8, r2.stdout   # every stage, the views too, found done

def test_oracle_rows_need_no_generator_and_one_seed_has_no_interval(tmp_path):
    r = a2lit('run', 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-oracle25', '--set', 'workers=2', cwd=tmp_path)   # two trainings at once
    assert r.returncode == 0, r.stderr[-3000:]
    for s in ('gan', 'invert'): assert f"{s}: skipped (the selected rows' views need no generator)" in r.stdout, r.stdout
    run = tmp_path / 'runs/tiny'
    assert not (run / 'gan').exists() and (run / 'views/oracle-s0.25.safetensors').exists()
    md = (run / 'report/results.md').read_text()
    assert '## View banks' in md and '## Paired differences' not in md and 'oracle (strength 0.25)' in md, md
    assert not (run / 'report/paired.csv').exists()

def test_bank_name_that_does_not_exist_is_refused_up_front(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for bank, says in (('search-eps', "row 'a2-bogus': view bank 'search-eps': '' is not an eps1 > 0"),
                       ('wsearch', "row 'a2-bogus': unknown view bank 'wsearch'; a bank is named search, perturb, recon")):
        monkeypatch.setitem(config.ROWS, 'a2-bogus', (('expert', 'expert', 'generated'), 'a2_infonce', 0.5, bank))
        line = cli_helpers.cli(capsys, 'run', 'tiny', '--out', 'runs', '--set', 'rows=simclr,a2-bogus')
        assert says in line, line
    fct.test_eq(list(tmp_path.iterdir()), [])                                      # nothing written, no stage ran

def test_oracle_row_on_a_dataset_without_factors_is_refused_up_front(tmp_path):
    r = a2lit('run', 'tiny', '--out', 'runs', '--set', 'data.name=cifar10', '--set', 'rows=simclr,a2-oracle100-flip', cwd=tmp_path, timeout=120)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1 and err[0].startswith('a2lit: error:'), r.stderr
    assert "row 'a2-oracle100-flip' trains on oracle views (bank 'oracle-s1-flip')" in err[0] and 'cifar10 images have none' in err[0], err
    fct.test_eq(list(tmp_path.iterdir()), [])

def test_config_study_lists_the_study_rows(capsys):
    for preset, rows, seeds in (('study', config.STUDY, '0,1,2,3,4'), ('study-sweeps', config.SWEEPS, '0,1,2,3')):
        a2cli.main(['config', preset])
        lines = capsys.readouterr().out.splitlines()
        for want in (f"rows = {','.join(rows)}", f'seeds = {seeds}', 'train.epochs = 80', 'data.train_subset = 2500', 'train.backbone = small5'):
            assert want in lines, (preset, want)
    for r in ('simclr', 'a2-wsearch', 'a2-recon', 'a2-oracle100', 'a2-oracle25', 'a2-oracle100-flip', 'a1-oracle100'): assert r in config.STUDY, r
    for r in ('a2-wsearch-eps15', 'a2-wsearch-eps50', 'a2-wsearch-alpha25', 'a2-wsearch-alpha100'): assert r in config.SWEEPS, r

def test_the_study_presets_fit_150_minutes_on_2_cores():
    for p in ('study', 'study-sweeps'):
        cfg = config.get_config(p)
        assert config.estimate_minutes(cfg) <= 150, (p, config.estimate_minutes(cfg))
        fct.test_eq((cfg.train.backbone, cfg.train.width, cfg.train.batch_size, cfg.train.optimizer, cfg.train.lr, cfg.data.train_subset),
                    (lambda d: (d.train.backbone, d.train.width, d.train.batch_size, d.train.optimizer, d.train.lr, d.data.train_subset))(config.get_config('demo')))

def test_a_row_from_a_longer_inversion_added_to_a_finished_folder(tmp_path):
    "The invert stage writes the second latents file the new row asks for, keeps the first, and the views stage builds only the new bank."
    base = ['run', 'tiny', '--out', 'runs', '--seed', '0', '--set']
    assert a2lit(*base, 'rows=simclr,a2-wsearch', cwd=tmp_path).returncode == 0
    inv = tmp_path / 'runs/tiny/invert'
    first = (inv / 'w_plus.safetensors').read_bytes()
    r = a2lit(*base, 'rows=simclr,a2-wsearch,a2-wsearch-inv150', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'invert: finished before, but invert/w_plus-inv150.safetensors is missing: running it again' in r.stdout, r.stdout
    assert '150 refinement steps at lr 0.03 -> invert/w_plus-inv150.safetensors' in r.stdout, r.stdout
    fct.test_eq((inv / 'w_plus.safetensors').read_bytes(), first)
    rec = json.loads((inv / 'done.json').read_text())['invert/w_plus-inv150.safetensors']
    fct.test_eq((rec['steps'], rec['lr']), (150, 0.03))
    from a2lit.viewbank import ViewBank
    a, b = (ViewBank.load(tmp_path / f'runs/tiny/views/{n}.safetensors') for n in ('search', 'search-inv150'))
    assert a.meta['latents0_hash'] != b.meta['latents0_hash'] and b.meta['eps1'] == a.meta['eps1'], (a.meta, b.meta)
    assert '| expert | expert | W-search (150-step inversion) |' in (tmp_path / 'runs/tiny/report/results.md').read_text()
