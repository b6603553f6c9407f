"The view-pair table's estimator against known mutual information at the table's operating point: unit 128-d rows, N = 4,096."
import inspect, math, time
import pytest
import torch
import torch.nn.functional as F
import fastcore.test as fct
from a2lit.core import A2Error
from a2lit.mi import mine_mi, gaussian_dv_mi, sphere_gaussian_pairs, sphere_map, sphere_unmap, known_mi_error
from a2lit.analysis import view_pair_table, CHECK_COLUMN

torch.set_num_threads(1)
N, D = 4096, 128   # the view-pair table's operating point: up to 4,096 images, f's 128-d L2-normalised features

def table_critic():
    "The critic `view_pair_table` uses by default: the one these tests check."
    return inspect.signature(view_pair_table).parameters['critic'].default

def test_known_pairs_are_unit_rows_with_the_stated_dependence():
    z = torch.randn(50, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fct.test_close(sphere_unmap(sphere_map(z)), z, eps=1e-10)             # a bijection, so I(x; y) = I(z; z') exactly
    x, y = sphere_gaussian_pairs(20_000, 3.0, d=32, seed=0, rotate=False)
    fct.test_close(x.norm(dim=1), torch.ones(len(x)), eps=1e-12)
    r = torch.corrcoef(torch.cat([sphere_unmap(x), sphere_unmap(y)], 1).T)[:31, 31:].diagonal()
    fct.test_close(r[:3], torch.full((3,), math.sqrt(1 - math.exp(-2))), eps=0.01)   # k = ceil(3) directions of 1 nat
    assert r[3:].abs().max() < 0.04, r[3:].abs().max()
    with pytest.raises(A2Error, match='nats must be a finite number >= 0'): sphere_gaussian_pairs(10, -1.0)

# Measured (seed 1, one thread of a shared 2-core machine, about 2-4 s per estimate): 0.94, 1.86, 2.77, 3.71 nats for
# 1, 2, 3, 4 (-6% to -8%). The paper's MINE settings gave -0.08, 0.22, 0.51, 0.69 on the same pairs.
@pytest.mark.parametrize('nats', [1.0, 2.0, 3.0, 4.0])
def test_table_estimator_within_20_percent_at_the_operating_point(nats):
    x, y = sphere_gaussian_pairs(N, nats, D, seed=1)
    t0 = time.time()
    est = mine_mi(x.float(), y.float(), critic=table_critic())
    print(f"I = {nats}: estimate {est:.3f} ({(est - nats) / nats:+.1%}), {time.time() - t0:.1f}s; picks {est.picks}")
    assert abs(est - nats) < 0.2 * nats, (nats, float(est))

def test_paper_settings_miss_there():
    "Why the table does not use them: on the same pairs the paper's MINE settings are off by more than half."
    x, y = sphere_gaussian_pairs(N, 4.0, D, seed=1)
    est = mine_mi(x, y)
    assert abs(est - 4.0) > 2.0, float(est)

# Measured: exactly 0 for 10 of 10 seeds at N = 4,096 and d = 128 (no critic beats T = 0 on held-out rows); at 300 rows
# of 8-d, one seed in 10 gave -0.043. The tolerance allows for that.
@pytest.mark.parametrize('n,d', [(4096, 128), (300, 8)])
def test_independent_inputs_give_about_zero(n, d):
    for s in range(3):
        g = torch.Generator().manual_seed(100 + s)
        u, v = F.normalize(torch.randn(n, d, generator=g), dim=1), F.normalize(torch.randn(n, d, generator=g), dim=1)
        est = gaussian_dv_mi(u, v, seed=s)
        assert abs(est) < 0.05, (n, d, s, float(est))

def test_estimator_details():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    fct.test_close(gaussian_dv_mi(x, x), math.log(300 / 4), eps=1e-9)       # identical inputs: the cap log(rows per fold), finite
    x, y = sphere_gaussian_pairs(600, 1.5, d=8, seed=3)
    fct.test_eq(float(gaussian_dv_mi(x, y, seed=2)), float(gaussian_dv_mi(x, y, seed=2)))
    e = gaussian_dv_mi(x, y)
    fct.test_eq((len(e.picks), e.eval_rows, e.curve), (4, 600, []))
    fct.test_eq(known_mi_error(1.5, 600, 8, seed=3, critic='gaussian'), float(gaussian_dv_mi(x, y, seed=3)) - 1.5)   # the same pairs, the same seed
    with pytest.raises(A2Error, match="unknown critic 'knn'"): mine_mi(x, y, critic='knn')
    with pytest.raises(A2Error, match='9 rows are too few'): gaussian_dv_mi(x[:9], y[:9])
    with pytest.raises(A2Error, match='ridges must be'): gaussian_dv_mi(x, y, ridges=(float('nan'),))

def test_view_pair_table_reports_the_check():
    g = torch.Generator().manual_seed(0)
    o = torch.randn(400, 16, generator=g); e = o + 0.5 * torch.randn(400, 16, generator=g)
    rows = view_pair_table({'Original': o, 'Expert': e})
    fct.test_eq(list(rows[0]), ['View pair', 'I', CHECK_COLUMN, 'E[f.f~]'])
    fct.test_eq(rows[0]['I'], float(gaussian_dv_mi(F.normalize(o, dim=-1), F.normalize(e, dim=-1))))
    fct.test_eq(rows[0][CHECK_COLUMN], known_mi_error(max(rows[0]['I'], 1.0), 400, 16, critic='gaussian'))
