"W-search on known toy maps, its objective against an independent computation, Adam equivalence, and the view bank: round trip, memory mapping, SIGKILL + resume."
import os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
import torch
import fastcore.test as fct
from a2lit.core import state_hash
import a2lit.search as search_mod
from a2lit.search import w_search, w_perturb, toy_problem, view_features, search_objective, mean_pairwise, uses_bf16
from a2lit.core import cpu_has_bf16
from a2lit.viewbank import ViewBank, build_view_bank

torch.set_num_threads(1)
EPS1, EPS2, LAM = 0.3, 0.4, 0.01     # eps2 = 0.4 is reachable at eps1 = 0.3 (8 views on that sphere can be ~0.45 apart)
W0 = torch.randn(24, 4, 16, generator=torch.Generator().manual_seed(0))
_cache = {}

def objective64(g, f, w0, latents, eps1, eps2, lam, anchor=False):
    "The paper's objective, written again from the formula with explicit loops, in float64."
    f0 = view_features(g, f, w0).double(); z = view_features(g, f, latents).double()
    B, n = z.shape[:2]; searched = range(1 if anchor else 0, n)
    out = []
    for b in range(B):
        bound = sum((torch.dot(z[b, k] - f0[b], z[b, k] - f0[b]).sqrt() - eps1) ** 2 for k in searched) / len(searched)
        hinge = 0.
        for k in searched:
            dbar = sum((z[b, k] - z[b, j]).norm() for j in range(n) if j != k) / (n - 1)
            hinge = hinge + max(eps2 - dbar, 0.)
        out.append(bound + lam * hinge / len(searched))
    return torch.stack([torch.as_tensor(o, dtype=torch.float64) for o in out])

def search(kind, lam=LAM, keep_anchor=False, tol=1e-5, start='sphere'):
    key = (kind, lam, keep_anchor, tol, start)
    if key not in _cache:
        g, f = toy_problem(kind)
        r = w_search(g, f, W0, eps1=EPS1, eps2=EPS2, lam=lam, tol=tol, keep_anchor=keep_anchor, start=start, generator=torch.Generator().manual_seed(1))
        _cache[key] = (g, f, r)
    return _cache[key]

@pytest.mark.parametrize('kind', ['linear', 'nonlinear'])
@pytest.mark.parametrize('keep_anchor', [False, True])
def test_views_land_on_eps1_sphere(kind, keep_anchor):
    g, f, r = search(kind, keep_anchor=keep_anchor)
    d = (view_features(g, f, r.latents) - view_features(g, f, W0)[:, None]).norm(dim=-1)   # measured again, not reported
    searched = d[:, 1:] if keep_anchor else d
    assert (searched - EPS1).abs().le(0.02).float().mean() >= 0.95, (searched - EPS1).abs().max()
    fct.test_close(d, r.distances, eps=1e-5)
    if keep_anchor:
        fct.test_eq(r.latents[:, 0], W0); assert d[:, 0].abs().max() < 1e-6
    assert r.converged.all() and (r.steps < 1000).all()

@pytest.mark.parametrize('kind', ['linear', 'nonlinear'])
def test_uniformity_reaches_eps2(kind):
    g, f, r = search(kind)
    spread = mean_pairwise(view_features(g, f, r.latents))
    assert spread.mean() >= EPS2 - 0.02, spread.mean()
    g, f, r0 = search(kind, lam=0, start='noise')                  # views that start together do not get there without the hinge
    assert mean_pairwise(view_features(g, f, r0.latents)).mean() < EPS2 - 0.04

@pytest.mark.parametrize('kind,keep_anchor', [('linear', False), ('nonlinear', False), ('nonlinear', True)])
def test_reported_objective_is_the_objective(kind, keep_anchor):
    g, f, r = search(kind, keep_anchor=keep_anchor)
    ref = objective64(g, f, W0, r.latents, EPS1, EPS2, LAM, anchor=keep_anchor)
    fct.test_close(r.loss.double(), ref, eps=1e-6)
    assert (r.loss <= 1e-5).all()
    # and at an arbitrary point (not converged), the exported objective agrees too
    lat = w_perturb(W0[:5], 8, 0.3, torch.Generator().manual_seed(2))
    z, f0 = view_features(g, f, lat), view_features(g, f, W0[:5])
    fct.test_close(search_objective(z, f0, EPS1, EPS2, LAM)[0].double(), objective64(g, f, W0[:5], lat, EPS1, EPS2, LAM), eps=1e-6)

@pytest.mark.parametrize('kind', ['linear', 'nonlinear'])
def test_sphere_start(kind):
    "The default start: the views' noise centred across them, each scaled along itself until f(g(.)) is near the eps1 sphere (checked by an independent bisection, in fp32)."
    g, f = toy_problem(kind)
    sigma, n = 0.001, 8
    r = w_search(g, f, W0, n=n, eps1=EPS1, eps2=EPS2, lam=LAM, sigma=sigma, max_steps=0, cpu_bf16=False, generator=torch.Generator().manual_seed(3))
    e = sigma * torch.randn(len(W0), n, 4, 16, generator=torch.Generator().manual_seed(3))
    u = (e - e.mean(1, keepdim=True)) * (n / (n - 1)) ** 0.5     # centred, the same variance per coordinate
    off = r.latents - W0[:, None]
    scale = (off.flatten(2) * u.flatten(2)).sum(-1) / u.flatten(2).square().sum(-1)
    fct.test_close(off, scale[..., None, None] * u, eps=1e-5)                         # along the centred noise, only longer
    f0 = view_features(g, f, W0)
    d = lambda s: (view_features(g, f, W0[:, None] + s[..., None, None] * u) - f0[:, None]).norm(dim=-1)
    lo, hi = torch.zeros(len(W0), n), torch.full((len(W0), n), 1 / sigma)   # bisection on the scale itself, 40 steps
    for _ in range(40):
        mid = (lo + hi) / 2; inside = d(mid) < EPS1
        lo, hi = torch.where(inside, mid, lo), torch.where(inside, hi, mid)
    ok = d(torch.full_like(lo, 1 / sigma)) > EPS1       # directions that reach the sphere within the longest offset (std 1 per coordinate)
    assert ok.float().mean() > 0.5
    assert ((scale / ((lo + hi) / 2) - 1).abs()[ok]).max() < 0.03                  # 8 steps in log2: within ~3% of the scale
    assert (d(scale) - EPS1).abs()[ok].max() < 0.02
    fct.test_close(scale[~ok], 1 / sigma, eps=0.03 / sigma)                          # the others go as far as allowed
    rn = w_search(g, f, W0, n=n, eps1=EPS1, sigma=sigma, max_steps=0, start='noise', cpu_bf16=False, generator=torch.Generator().manual_seed(3))
    fct.test_close(rn.latents, W0[:, None] + e, eps=1e-6)                            # the authors' start, unchanged

def test_equals_plain_adam_per_image():
    "Each image follows exactly the trajectory of a plain torch.optim.Adam loop on that image alone."
    g, f = toy_problem('nonlinear')
    w0, n, sigma, tol = W0[:3], 8, 0.001, 1e-3
    r = w_search(g, f, w0, n=n, eps1=EPS1, eps2=EPS2, lam=LAM, sigma=sigma, tol=tol, max_steps=300, chunk=2, check_every=7,
                 start='noise', cpu_bf16=False, generator=torch.Generator().manual_seed(4))
    start = w0[:, None] + sigma * torch.randn(3, n, 4, 16, generator=torch.Generator().manual_seed(4))
    f0 = view_features(g, f, w0)
    for b in range(3):
        w = start[b:b + 1].clone().requires_grad_(); opt = torch.optim.Adam([w], lr=0.01)
        for step in range(301):
            loss = search_objective(f(g(w.view(n, 4, 16))).view(1, n, -1), f0[b:b + 1], EPS1, EPS2, LAM)[0].sum()
            if loss.item() <= tol or step == 300: break
            opt.zero_grad(); loss.backward(); opt.step()
        fct.test_eq(r.steps[b].item(), step)
        fct.test_close(r.latents[b], w.detach()[0], eps=1e-4)
        fct.test_close(r.loss[b], loss.detach(), eps=1e-6)

def test_precision_switch():
    "bf16 autocast only where asked and where the hardware has it: never on the CPU without `cpu_bf16`, never on a CPU without native bf16."
    cpu = torch.device('cpu')
    assert uses_bf16(cpu, True, False) is False and uses_bf16(cpu, False, False) is False
    fct.test_eq(uses_bf16(cpu, False, True), cpu_has_bf16())
    flags = Path('/proc/cpuinfo').read_text() if Path('/proc/cpuinfo').exists() else ''
    fct.test_eq(cpu_has_bf16(), any(w in flags.split() for w in ('avx512_bf16', 'amx_bf16')))

@pytest.mark.skipif(not cpu_has_bf16(), reason='this CPU has no native bf16')
@pytest.mark.parametrize('keep_anchor', [False, True])
def test_cpu_bf16_is_judged_in_fp32(monkeypatch, keep_anchor):
    "Searched under bf16 autocast, every recorded objective is the fp32 one and every image meets tol in fp32 (those that met it only in bf16 went on in fp32)."
    g, f = toy_problem('nonlinear')
    passes, real = [], search_mod._search_pool
    monkeypatch.setattr(search_mod, '_search_pool', lambda *a, **k: passes.append(len(a[3])) or real(*a, **k))
    kw = dict(eps1=EPS1, eps2=EPS2, lam=LAM, tol=1e-5, keep_anchor=keep_anchor)
    r = w_search(g, f, W0, cpu_bf16=True, generator=torch.Generator().manual_seed(1), **kw)
    fct.test_close(r.loss.double(), objective64(g, f, W0, r.latents, EPS1, EPS2, LAM, anchor=keep_anchor), eps=1e-6)
    fct.test_close(r.distances, (view_features(g, f, r.latents) - view_features(g, f, W0)[:, None]).norm(dim=-1), eps=1e-5)
    assert (r.loss <= 1e-5).all() and r.converged.all() and (r.steps < 1000).all()
    assert len(passes) == 2 and 0 < passes[1] < len(W0), passes     # some images met tol in bf16 only, and went on in fp32
    rf = w_search(g, f, W0, cpu_bf16=False, generator=torch.Generator().manual_seed(1), **kw)
    assert not torch.equal(r.latents, rf.latents)                       # the bf16 arm did run in bf16
    fct.test_eq(len(passes), 3)                                         # and fp32 needs no second pass

def test_max_steps_and_counts():
    g, f = toy_problem('linear')
    r = w_search(g, f, W0[:5], tol=0, max_steps=13, check_every=4, generator=torch.Generator().manual_seed(0))
    fct.test_eq(r.steps.tolist(), [13] * 5); assert not r.converged.any()
    fct.test_eq(r.latents.shape, (5, 8, 4, 16)); fct.test_eq(r.distances.shape, (5, 8))

def test_bad_input():
    g, f = toy_problem('linear')
    for kw, msg in [(dict(eps1=0), 'eps1'), (dict(eps1=-0.1), 'eps1'), (dict(n=1, lam=0.01), 'needs n >= 2'),
                    (dict(keep_anchor=True, n=1, lam=0), 'keep_anchor'), (dict(max_steps=-1), 'max_steps')]:
        fct.test_fail(lambda: w_search(g, f, W0[:2], **kw), contains=msg)
    fct.test_fail(lambda: w_search(g, f, W0[0]), contains='[B,L,D]')
    fct.test_fail(lambda: w_search(g, f, W0[:2].long()), contains='float tensor')
    fct.test_fail(lambda: w_perturb(W0[:2, None]), contains='[B,L,D]')
    fct.test_fail(lambda: build_view_bank(g, f, W0[0], 'x.safetensors'), contains='latents0')

def test_bank_round_trip_and_mmap(tmp_path):
    N, n = 4000, 2                                    # 4000 x 2 x 3x32x32 uint8 = 24.6 MB of images
    lat = torch.randn(N, n, 2, 8)
    img = torch.randint(0, 256, (N, n, 3, 32, 32), dtype=torch.uint8)
    bank = ViewBank(lat, img, {'method': 'perturb', 'g_hash': 'g1', 'f_hash': None, 'dataset_hash': 'd1'}, {'steps': torch.arange(N)})
    p = bank.save(tmp_path / 'bank.safetensors', chunk=512)
    del bank
    # anonymous (private) memory: what a copy of the bank would take; mapped file pages are the page cache's, shared
    rss = lambda: int(next(l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('RssAnon:')).split()[1]) * 1024
    before = rss()
    b = ViewBank.load(p)
    s = b.sample(torch.arange(0, N, 7), torch.Generator().manual_seed(0))
    s2 = b.images[100:3000].float().mean()                         # reading a large slice does not copy the bank either
    assert rss() - before < 4e6, f"opening a bank and sampling from it grew private memory by {(rss() - before) / 1e6:.1f} MB"
    fct.test_eq(s.shape, (len(range(0, N, 7)), 3, 32, 32))
    assert torch.equal(b.latents, lat) and torch.equal(b.images, img) and torch.equal(b.extras['steps'], torch.arange(N))
    from safetensors.torch import load_file                       # an ordinary safetensors file
    t = load_file(p); assert torch.equal(t['images'], img) and torch.equal(t['latents'], lat)
    ViewBank.load(p, verify=True).check(g_hash='g1', dataset_hash='d1', n_images=N)
    fct.test_fail(lambda: b.check(g_hash='g2'), contains="g_hash='g1'")
    fct.test_fail(lambda: b.check(dataset_hash='d2'), contains='dataset_hash')
    fct.test_fail(lambda: b.check(n_images=10), contains='n_images')
    raw = bytearray(p.read_bytes()); raw[-1] ^= 1; p.write_bytes(bytes(raw))    # flip one bit of the data
    fct.test_fail(lambda: ViewBank.load(p, verify=True), contains='sha256')
    p.write_bytes(bytes(raw[:-100]))
    fct.test_fail(lambda: ViewBank.load(p), contains='truncated')

SCRIPT = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from a2lit.search import toy_problem
    from a2lit.viewbank import build_view_bank
    g, f = toy_problem('nonlinear')
    lat0 = torch.randn(40, 4, 16, generator=torch.Generator().manual_seed(7))
    build_view_bank(g, f, lat0, sys.argv[1], n=4, eps1=0.3, eps2=0.35, tol=1e-4, max_steps=60, chunk_size=4, seed=3,
                    dataset_hash='toy', progress=False, chunk=3, check_every=5)
""")

def test_build_killed_and_resumed_equals_uninterrupted(tmp_path):
    script = tmp_path / 'build.py'; script.write_text(SCRIPT)
    env = {**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE', 'OMP_NUM_THREADS': '1'}
    run = lambda out: subprocess.Popen([sys.executable, str(script), str(out)], env=env)
    killed = tmp_path / 'killed.safetensors'; parts = Path(str(killed) + '.parts')
    p = run(killed)
    t0 = time.time()
    while len(list(parts.glob('chunk-*.safetensors'))) < 3:
        assert p.poll() is None, 'the build ended before it could be killed'
        assert time.time() - t0 < 120; time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    n_parts = len(list(parts.glob('chunk-*.safetensors')))
    assert 3 <= n_parts < 10 and not killed.exists(), n_parts
    full = tmp_path / 'full.safetensors'
    procs = [run(killed), run(full)]                      # resume the killed build; an uninterrupted one beside it
    assert all(q.wait(timeout=300) == 0 for q in procs)
    a, b = ViewBank.load(killed, verify=True), ViewBank.load(full, verify=True)
    assert torch.equal(a.latents, b.latents) and torch.equal(a.images, b.images)
    assert all(torch.equal(a.extras[k], b.extras[k]) for k in b.extras)
    assert not parts.exists() and a.meta == b.meta
    fct.test_eq(a.images.shape, (40, 4, 3, 8, 8))
    g, f = toy_problem('nonlinear')
    a.check(g_hash=state_hash(g), f_hash=state_hash(f), dataset_hash='toy', n_images=40)
    fct.test_fail(lambda: a.check(g_hash=state_hash(toy_problem('nonlinear', seed=5)[0])), contains='g_hash')
