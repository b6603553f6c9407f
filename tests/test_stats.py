"Paired statistics: the t quantile against printed tables (and scipy where installed), the paired interval against an independent computation, one pair, duplicate and missing seeds."
import math
import numpy as np
import pytest
import fastcore.test as fct
from a2lit.core import A2Error
from a2lit import stats

TABLE = {(0.975, 1): 12.7062047, (0.975, 2): 4.3026527, (0.975, 3): 3.1824463, (0.975, 4): 2.7764451, (0.975, 5): 2.5705818,
         (0.975, 9): 2.2621572, (0.975, 29): 2.0452296, (0.995, 4): 4.6040949, (0.95, 4): 2.1318468, (0.9, 10): 1.3721836}   # two-decimal tables, to 7 digits

@pytest.mark.parametrize('q,df', sorted(TABLE))
def test_t_quantile_matches_printed_tables(q, df):
    fct.test_close(stats.t_ppf(q, df), TABLE[q, df], eps=1e-6)
    fct.test_close(stats.t_cdf(TABLE[q, df], df), q, eps=1e-8)
    fct.test_close(stats.t_ppf(1 - q, df), -TABLE[q, df], eps=1e-6)

def test_t_closed_forms_and_limits():
    for p in np.linspace(0.51, 0.999, 25):
        fct.test_close(stats.t_ppf(p, 1), math.tan(math.pi * (p - 0.5)), eps=1e-9 * max(1, stats.t_ppf(p, 1)))   # Cauchy
        fct.test_close(stats.t_ppf(p, 2), (2 * p - 1) / math.sqrt(2 * p * (1 - p)), eps=1e-9)               # df 2
    fct.test_close(stats.t_ppf(0.975, 1e7), 1.959963985, eps=1e-6)                                         # the normal limit
    fct.test_close(stats.t_cdf(0.0, 3), 0.5); fct.test_close(stats.t_cdf(-50.0, 3) + stats.t_cdf(50.0, 3), 1.0, eps=1e-12)
    for bad in (0, -1, float('nan'), float('inf'), True):
        with pytest.raises(A2Error, match='degrees of freedom'): stats.t_ppf(0.9, bad)
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(A2Error, match='q must be a probability'): stats.t_ppf(bad, 3)

def test_t_matches_scipy():
    sst = pytest.importorskip('scipy.stats')
    for df in (1, 2, 3, 4, 7, 19, 100, 2.5):
        for q in (0.6, 0.9, 0.95, 0.975, 0.995, 0.9999):
            fct.test_close(stats.t_ppf(q, df), float(sst.t.ppf(q, df)), eps=1e-7 * max(1, abs(float(sst.t.ppf(q, df)))))

def _by_hand(a, b, q):
    "The paired interval from numpy and a quantile given from outside."
    d = np.asarray(a, float) - np.asarray(b, float)
    half = q * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half

@pytest.mark.parametrize('n', [2, 3, 4, 5, 6, 10, 30])
def test_interval_equals_numpy_by_hand(n):
    rng = np.random.default_rng(n)
    a, b = rng.uniform(0.5, 0.9, n), rng.uniform(0.5, 0.9, n)
    seeds = rng.permutation(1000)[:n].tolist()                                   # any seed numbers, in any order
    p = stats.paired_difference(dict(zip(seeds, a)), list(zip(seeds, b)))
    m, lo, hi = _by_hand(a, b, TABLE[0.975, n - 1])
    fct.test_eq((p['n'], p['seeds'], p['unpaired']), (n, sorted(seeds), []))
    fct.test_close(p['mean'], m, eps=1e-12); fct.test_close(p['lo'], lo, eps=1e-8); fct.test_close(p['hi'], hi, eps=1e-8)
    fct.test_eq(p['resolved'], lo > 0 or hi < 0)
    # resolved at 95% exactly when the paired t test's two-sided p-value is below 0.05
    t = abs(m) / (np.std(a - b, ddof=1) / math.sqrt(n))
    fct.test_eq(p['resolved'], 2 * (1 - stats.t_cdf(t, n - 1)) < 0.05)

def test_interval_equals_scipy():
    sst = pytest.importorskip('scipy.stats')
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.02, 5), rng.normal(0.79, 0.02, 5)
    p = stats.paired_difference(dict(enumerate(a)), dict(enumerate(b)))
    ci = sst.ttest_rel(a, b).confidence_interval(0.95)
    fct.test_close((p['lo'], p['hi']), (ci.low, ci.high), eps=1e-9)
    fct.test_close(p['hi'] - p['mean'], sst.t.ppf(0.975, 4) * np.std(a - b, ddof=1) / math.sqrt(5), eps=1e-9)

def test_other_levels():
    a, b = {0: .81, 1: .80, 2: .84, 3: .79, 4: .80}, {0: .78, 1: .80, 2: .80, 3: .80, 4: .78}
    for level, q in ((0.95, TABLE[0.975, 4]), (0.99, TABLE[0.995, 4]), (0.9, TABLE[0.95, 4])):
        p = stats.paired_difference(a, b, level)
        fct.test_close((p['lo'], p['hi']), _by_hand(list(a.values()), list(b.values()), q)[1:], eps=1e-8)

def test_one_pair_gives_no_interval():
    p = stats.paired_difference({3: 0.9}, {3: 0.7, 4: 0.6})
    fct.test_eq((p['n'], p['seeds'], p['unpaired'], p['sd'], p['lo'], p['hi'], p['resolved']), (1, [3], [4], None, None, None, False))
    fct.test_close(p['mean'], 0.2)
    none = stats.paired_difference({0: 0.9}, {1: 0.7})                            # no seed in common
    fct.test_eq((none['n'], none['mean'], none['unpaired'], none['resolved']), (0, None, [0, 1], False))

def test_equal_differences_have_a_zero_width_interval():
    p = stats.paired_difference({0: 0.8, 1: 0.7}, {0: 0.7, 1: 0.6})
    fct.test_close((p['lo'], p['hi'], p['sd']), (0.1, 0.1, 0.0), eps=1e-12)
    fct.test_eq(p['resolved'], False)                                              # no spread between seeds: nothing measured the noise
    fct.test_eq(stats.paired_difference({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5})['resolved'], False)

def test_duplicate_and_missing_seeds():
    with pytest.raises(A2Error, match='a: seed 1 is given twice'): stats.paired_difference([(0, .8), (1, .7), (1, .9)], {0: .7, 1: .6})
    with pytest.raises(A2Error, match='b: seed 0 is given twice'): stats.paired_difference({0: .8}, [(0, .7), (0, .7)])
    with pytest.raises(A2Error, match='a: seed 2 has'): stats.paired_difference({2: None}, {2: .7})
    with pytest.raises(A2Error, match='b: seed 0 has inf'): stats.paired_difference({0: .8}, {0: float('inf')})
    a, b = {0: .80, 1: .78, 2: .83, 5: .70}, {0: .78, 1: .77, 2: .80, 7: .90}
    p = stats.paired_difference(a, b)                                              # 5 and 7 have no partner: left out, named
    fct.test_eq((p['seeds'], p['unpaired'], p['n']), ([0, 1, 2], [5, 7], 3))
    fct.test_close((p['lo'], p['hi']), _by_hand([.80, .78, .83], [.78, .77, .80], TABLE[0.975, 2])[1:], eps=1e-8)

def test_paired_table_and_its_markdown():
    scores = {'simclr': {0: {'linear': .80, 'knn5': .5}, 1: {'linear': .78, 'knn5': .6}},
              'a2': {0: {'linear': .83, 'knn5': .4}, 1: {'linear': .80, 'knn5': .5}},
              'one': {0: {'linear': .9, 'knn5': .9}}}
    t = stats.paired_table(scores)
    fct.test_eq([r['row'] for r in t], ['a2', 'one'])
    m, lo, hi = _by_hand([.83, .80], [.80, .78], TABLE[0.975, 1])
    fct.test_close((t[0]['linear_diff'], t[0]['linear_lo'], t[0]['linear_hi']), (m, lo, hi), eps=1e-8)
    fct.test_close(t[0]['knn5_diff'], -0.1); fct.test_eq((t[0]['knn5_resolved'], t[0]['pairs']), (False, 2))   # -0.1 at both seeds: no spread
    fct.test_eq((t[1]['pairs'], t[1]['linear_lo'], t[1]['linear_resolved']), (1, None, False))
    md = stats.paired_markdown_rows(t, {'a2': 'A2'})
    fct.test_eq((md[0]['Row'], md[0]['Linear - SimCLR'], md[0]['5-NN resolved'], md[1]['Row'], md[1]['Linear 95% interval']), ('A2', '+2.50', 'no', 'one', '-'))
    with pytest.raises(A2Error, match="no scores of the baseline row 'simclr'"): stats.paired_table({'a2': scores['a2']})
