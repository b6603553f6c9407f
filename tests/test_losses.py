"The losses of a2lit.losses against plain per-anchor loops, lightly's NTXentLoss, gradcheck, invariances and bad input."
import math
import pytest
import torch
import fastcore.test as fct
from lightly.loss import NTXentLoss
from a2lit.core import A2Error
from a2lit.losses import nt_xent, info_nce, a1_loss, a2_full, a2_simclr, a2_infonce, a2_alignment

# ---- references: one anchor at a time, in float64 Python numbers, written from the definitions ----

def _unit_rows(t):
    "The rows of `t` as L2-normalised lists of Python floats."
    out = []
    for r in t.detach().double().tolist():
        n = math.sqrt(sum(x * x for x in r))
        out.append([x / n for x in r])
    return out

def _dot(a, b): return sum(x * y for x, y in zip(a, b))

def _views(z1, z2, z3=None):
    "All views as (image index, view name, unit vector), in the loss's anchor order: z1, z2, then each generated slot."
    vs = [(b, 'e1', v) for b, v in enumerate(_unit_rows(z1))] + [(b, 'e2', v) for b, v in enumerate(_unit_rows(z2))]
    if z3 is not None:
        z3 = z3 if z3.ndim == 3 else z3[:, None]
        for k in range(z3.shape[1]): vs += [(b, f'g{k}', v) for b, v in enumerate(_unit_rows(z3[:, k]))]
    return vs

def ref_nt_xent(z1, z2, tau):
    "SimCLR: for each of the 2B views, -log of the softmax (over the 2B-1 others) at the other view of its image."
    vs, out = _views(z1, z2), []
    for i, (bi, _, zi) in enumerate(vs):
        num = den = 0.0
        for j, (bj, _, zj) in enumerate(vs):
            if j == i: continue
            e = math.exp(_dot(zi, zj) / tau)
            den += e
            if bj == bi: num = e
        out.append(-math.log(num / den))
    return out

def ref_info_nce(z1, z2, tau):
    "Two-sided InfoNCE: each first view against all second views, then each second view against all first views."
    out = []
    for a, b in ((_unit_rows(z1), _unit_rows(z2)), (_unit_rows(z2), _unit_rows(z1))):
        for i in range(len(a)):
            den = sum(math.exp(_dot(a[i], b[j]) / tau) for j in range(len(b)))
            out.append(-math.log(math.exp(_dot(a[i], b[i]) / tau) / den))
    return out

def ref_a2_full(z1, z2, z3, tau):
    "A2-full: every view is an anchor against all others; average of -log softmax over the other views of its image."
    vs, out = _views(z1, z2, z3), []
    for i, (bi, _, zi) in enumerate(vs):
        den = sum(math.exp(_dot(zi, zj) / tau) for j, (_, _, zj) in enumerate(vs) if j != i)
        terms = [-math.log(math.exp(_dot(zi, zj) / tau) / den) for j, (bj, _, zj) in enumerate(vs) if j != i and bj == bi]
        out.append(sum(terms) / len(terms))
    return out

def ref_alignment(z1, z2, z3, tau):
    "For each expert anchor, the mean over its image's generated views of z_i . z_p / tau."
    vs = _views(z1, z2, z3)
    gen = [v for v in vs if v[1].startswith('g')]
    out = []
    for bi, name, zi in vs:
        if name.startswith('g'): continue
        mine = [zp for bp, _, zp in gen if bp == bi]
        out.append(sum(_dot(zi, zp) / tau for zp in mine) / len(mine))
    return out

def ref_a2_simclr(z1, z2, z3, tau, alpha):
    return [l - alpha * a for l, a in zip(ref_nt_xent(z1, z2, tau), ref_alignment(z1, z2, z3, tau))]

def ref_a2_infonce(z1, z2, z3, tau, alpha):
    return [l - alpha * a for l, a in zip(ref_info_nce(z1, z2, tau), ref_alignment(z1, z2, z3, tau))]

def _mean(xs): return sum(xs) / len(xs)

# B, D, K, tau, alpha, z3 given as [B,D] when K == 1 and flat
CONFIGS = [(2, 2, 1, 0.5, 0.5, True), (3, 5, 1, 0.1, 1.0, False), (4, 3, 2, 1.0, 0.0, False), (7, 16, 3, 0.2, 0.5, False),
           (5, 8, 1, 0.07, 2.0, True), (8, 4, 4, 0.5, 0.3, False), (6, 32, 2, 2.0, 0.7, False), (16, 6, 1, 0.3, 0.5, False)]

def _inputs(B, D, K, flat, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(B, D, generator=g, dtype=dtype) * 3, torch.randn(B, D, generator=g, dtype=dtype)
    z3 = torch.randn(B, K, D, generator=g, dtype=dtype) * 0.5
    return z1, z2, (z3[:, 0] if flat else z3)

@pytest.mark.parametrize('B,D,K,tau,alpha,flat', CONFIGS)
def test_losses_equal_per_anchor_loops(B, D, K, tau, alpha, flat):
    z1, z2, z3 = _inputs(B, D, K, flat, seed=B * 100 + D)
    cases = [(nt_xent(z1, z2, tau, reduction='none'), ref_nt_xent(z1, z2, tau)),
             (a1_loss(z1, z2, tau, reduction='none'), ref_nt_xent(z1, z2, tau)),
             (info_nce(z1, z2, tau, reduction='none'), ref_info_nce(z1, z2, tau)),
             (a2_full(z1, z2, z3, tau, reduction='none'), ref_a2_full(z1, z2, z3, tau)),
             (a2_alignment(z1, z2, z3, tau, reduction='none'), ref_alignment(z1, z2, z3, tau)),
             (a2_simclr(z1, z2, z3, tau, alpha, reduction='none'), ref_a2_simclr(z1, z2, z3, tau, alpha)),
             (a2_infonce(z1, z2, z3, tau, alpha, reduction='none'), ref_a2_infonce(z1, z2, z3, tau, alpha))]
    for ours, ref in cases:
        fct.test_eq(ours.dtype, torch.float32)
        fct.test_close(ours, torch.tensor(ref, dtype=torch.float32), eps=1e-5)
        fct.test_close(ours.mean().item(), _mean(ref), eps=1e-5)
    mean_cases = [(nt_xent(z1, z2, tau), ref_nt_xent(z1, z2, tau)), (info_nce(z1, z2, tau), ref_info_nce(z1, z2, tau)),
                  (a1_loss(z1, z2, tau), ref_nt_xent(z1, z2, tau)), (a2_full(z1, z2, z3, tau), ref_a2_full(z1, z2, z3, tau)),
                  (a2_simclr(z1, z2, z3, tau, alpha), ref_a2_simclr(z1, z2, z3, tau, alpha)),
                  (a2_infonce(z1, z2, z3, tau, alpha), ref_a2_infonce(z1, z2, z3, tau, alpha))]
    for ours, ref in mean_cases:
        fct.test_eq(ours.shape, ())
        fct.test_close(ours.item(), _mean(ref), eps=1e-5)

def test_small_temperature_is_stable():
    "Logits of 1/tau = 200 overflow a naive float32 exp; the log-sum-exp stays exact."
    z1, z2, z3 = _inputs(6, 4, 2, False, seed=3)
    tau = 0.005
    for ours, ref in [(nt_xent(z1, z2, tau), ref_nt_xent(z1, z2, tau)), (info_nce(z1, z2, tau), ref_info_nce(z1, z2, tau)),
                      (a2_full(z1, z2, z3, tau), ref_a2_full(z1, z2, z3, tau)),
                      (a2_simclr(z1, z2, z3, tau, 0.5), ref_a2_simclr(z1, z2, z3, tau, 0.5))]:
        assert torch.isfinite(ours)
        assert abs(ours.item() - _mean(ref)) <= 1e-5 * max(1.0, abs(_mean(ref))), (ours.item(), _mean(ref))

# ---- lightly ----

@pytest.mark.parametrize('B,D,tau', [(2, 3, 0.5), (8, 64, 0.1), (33, 16, 0.5), (64, 128, 2.0), (17, 5, 0.07)])
def test_nt_xent_equals_lightly(B, D, tau):
    "lightly's NTXentLoss(temperature=tau) normalises its inputs, divides by tau, and averages over the 2B anchors: the same convention."
    g = torch.Generator().manual_seed(B)
    for dtype, eps in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        a = (torch.randn(B, D, generator=g, dtype=dtype) * 2).requires_grad_()
        b = torch.randn(B, D, generator=g, dtype=dtype).requires_grad_()
        ours = nt_xent(a, b, tau)
        theirs = NTXentLoss(temperature=tau)(a, b)
        fct.test_close(ours.item(), theirs.item(), eps=eps)
        ga = torch.autograd.grad(ours, (a, b)); gb = torch.autograd.grad(theirs, (a, b))
        for x, y in zip(ga, gb): fct.test_close(x, y, eps=eps)

# ---- reductions, gradients, invariances ----

def test_alpha_zero_reduces_to_base_losses():
    for B, D, K, tau, alpha, flat in CONFIGS:
        z1, z2, z3 = _inputs(B, D, K, flat, seed=7)
        fct.test_close(a2_simclr(z1, z2, z3, tau, alpha=0.0), nt_xent(z1, z2, tau), eps=1e-7)
        fct.test_close(a2_infonce(z1, z2, z3, tau, alpha=0.0), info_nce(z1, z2, tau), eps=1e-7)

def test_one_generated_view_flat_or_not():
    z1, z2, z3 = _inputs(5, 6, 1, False, seed=1)
    for f in (a2_full, a2_simclr, a2_infonce, a2_alignment):
        fct.test_close(f(z1, z2, z3), f(z1, z2, z3[:, 0]), eps=1e-7)

def test_gradcheck_float64():
    z1, z2, z3 = [t.requires_grad_() for t in _inputs(3, 4, 2, False, seed=5, dtype=torch.float64)]
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.3), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: info_nce(a, b, 0.3), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: a1_loss(a, b, 0.7), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b, c: a2_full(a, b, c, 0.3), (z1, z2, z3))
    assert torch.autograd.gradcheck(lambda a, b, c: a2_simclr(a, b, c, 0.3, 0.8), (z1, z2, z3))
    assert torch.autograd.gradcheck(lambda a, b, c: a2_infonce(a, b, c, 0.3, 0.8), (z1, z2, z3))
    assert torch.autograd.gradcheck(lambda a, b, c: a2_full(a, b, c, 0.5, reduction='none'), (z1, z2, z3))
    assert torch.autograd.gradcheck(lambda a, b, c: a2_simclr(a, b, c[:, 0], 0.5, 0.5), (z1, z2, z3))

def test_gradient_reaches_generated_views():
    z1, z2, z3 = _inputs(4, 3, 2, False, seed=2)
    for f in (a2_full, a2_simclr, a2_infonce):
        z = z3.clone().requires_grad_()
        f(z1, z2, z).backward()
        assert z.grad.abs().sum() > 0, f.__name__

@pytest.mark.parametrize('B,D,K', [(5, 3, 1), (9, 8, 3)])
def test_permuting_the_batch_changes_nothing(B, D, K):
    z1, z2, z3 = _inputs(B, D, K, False, seed=11)
    p, q = torch.randperm(B, generator=torch.Generator().manual_seed(0)), torch.randperm(K, generator=torch.Generator().manual_seed(1))
    P1, P2, P3 = z1[p], z2[p], z3[p][:, q]          # images permuted; generated views permuted within an image
    for f in (nt_xent, info_nce, a1_loss): fct.test_close(f(P1, P2), f(z1, z2), eps=1e-6)
    for f in (a2_full, a2_simclr, a2_infonce, a2_alignment): fct.test_close(f(P1, P2, P3), f(z1, z2, z3), eps=1e-6)
    fct.test_close(nt_xent(P1, P2, reduction='none'), nt_xent(z1, z2, reduction='none').view(2, B)[:, p].reshape(-1), eps=1e-6)

def test_aligned_and_uniform_beats_random():
    "Views of one image nearly equal and images spread over orthogonal directions: every loss is lower than on random views."
    B = D = 8
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        base = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))[0].float()[:B]   # B orthonormal directions
        good = [base + 0.05 * torch.randn(B, D, generator=g) for _ in range(2)] + [base[:, None] + 0.05 * torch.randn(B, 2, D, generator=g)]
        rand = [torch.randn(B, D, generator=g), torch.randn(B, D, generator=g), torch.randn(B, 2, D, generator=g)]
        for f in (nt_xent, info_nce, a1_loss): assert f(*good[:2]) < f(*rand[:2]) - 0.5, f.__name__
        for f in (a2_full, a2_simclr, a2_infonce): assert f(*good) < f(*rand) - 0.5, f.__name__

def test_unnormalised_inputs_are_normalised():
    "The decision: every loss L2-normalises its inputs, so scaling any row by a positive factor changes nothing."
    z1, z2, z3 = _inputs(6, 5, 2, False, seed=4)
    s = lambda t: t * torch.rand(t.shape[:-1] + (1,), generator=torch.Generator().manual_seed(9)).add(0.1).mul(10)
    n = lambda t: t / t.norm(dim=-1, keepdim=True)
    for f in (nt_xent, info_nce, a1_loss):
        fct.test_close(f(s(z1), s(z2)), f(n(z1), n(z2)), eps=1e-6)
    for f in (a2_full, a2_simclr, a2_infonce, a2_alignment):
        fct.test_close(f(s(z1), s(z2), s(z3)), f(n(z1), n(z2), n(z3)), eps=1e-6)

def test_mixed_precision():
    "Half-precision inputs, with or without autocast, give the float32 loss of the same numbers."
    z1, z2, z3 = _inputs(8, 16, 2, False, seed=6)
    full = nt_xent(z1, z2, tau=0.05)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        fct.test_close(nt_xent(z1, z2, tau=0.05), full, eps=1e-6)   # float32 inputs under autocast: no bf16 matmul inside
    for dt in (torch.bfloat16, torch.float16):
        h = [t.to(dt) for t in (z1, z2, z3)]
        fs = (a2_full, a2_simclr, a2_infonce)
        refs = [f(*[t.float() for t in h], tau=0.05) for f in fs]   # float32, outside autocast
        for f, ref in zip(fs, refs): fct.test_close(f(*h, tau=0.05), ref, eps=1e-5)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            for f, ref in zip(fs, refs):
                out = f(*h, tau=0.05)
                fct.test_eq(out.dtype, torch.float32)
                fct.test_close(out, ref, eps=1e-5)
    fct.test_eq(nt_xent(z1.double(), z2.double()).dtype, torch.float64)

# ---- bad input ----

def _raises(fn, contains):
    with pytest.raises(A2Error) as e: fn()
    assert contains in str(e.value), str(e.value)
    assert '\n' not in str(e.value)

def test_bad_input():
    z1, z2, z3 = _inputs(4, 3, 2, False, seed=0)
    _raises(lambda: nt_xent(z1, z2[:3]), 'nt_xent: z2 must have the shape of z1 (4, 3), got (3, 3)')
    _raises(lambda: info_nce(z1, z2[:, :2]), 'info_nce: z2 must have the shape of z1 (4, 3), got (4, 2)')
    _raises(lambda: a1_loss(z1, z2[:2]), 'a1_loss: z_gen must have the shape of z_expert (4, 3)')
    _raises(lambda: nt_xent(z1[0], z2[0]), 'z1 must be [B,D], got shape (3,)')
    _raises(lambda: a2_full(z1, z2, z3[:3]), 'a2_full: z3 must be [B,D] or [B,K,D] with B=4, D=3, K>=1, got shape (3, 2, 3)')
    _raises(lambda: a2_simclr(z1, z2, z3[..., :2]), 'z3 must be [B,D] or [B,K,D]')
    _raises(lambda: a2_infonce(z1, z2, z3[:, :0]), 'z3 must be [B,D] or [B,K,D]')
    _raises(lambda: a2_full(z1, z2, z3[None]), 'z3 must be [B,D] or [B,K,D]')
    for tau in (0, -0.5, float('nan'), float('inf')):
        _raises(lambda: nt_xent(z1, z2, tau=tau), 'tau must be a finite number > 0')
        _raises(lambda: a2_full(z1, z2, z3, tau=tau), 'tau must be a finite number > 0')
    _raises(lambda: info_nce(z1, z2, tau='hot'), "tau must be a number, got 'hot'")
    _raises(lambda: nt_xent(z1, z2, tau=torch.tensor(0.5, requires_grad=True)), 'a learnable tau')
    fct.test_close(nt_xent(z1, z2, tau=torch.tensor(0.5)), nt_xent(z1, z2, tau=0.5), eps=1e-7)   # a plain 0-d tensor is a number
    for alpha in (-0.1, float('nan'), float('inf')):
        _raises(lambda: a2_simclr(z1, z2, z3, alpha=alpha), 'alpha must be a finite number >= 0')
        _raises(lambda: a2_infonce(z1, z2, z3, alpha=alpha), 'alpha must be a finite number >= 0')
    _raises(lambda: nt_xent(z1[:1], z2[:1]), 'batch size must be >= 2')
    _raises(lambda: a2_full(z1[:1], z2[:1], z3[:1]), 'batch size must be >= 2')
    bad = z1.clone(); bad[2, 1] = float('nan')
    _raises(lambda: nt_xent(bad, z2), 'nt_xent: z1 contains NaN or infinite values')
    bad3 = z3.clone(); bad3[0, 1, 0] = float('inf')
    _raises(lambda: a2_simclr(z1, z2, bad3), 'a2_simclr: z3 contains NaN or infinite values')
    _raises(lambda: info_nce(z1, z2 * float('-inf')), 'info_nce: z2 contains NaN or infinite values')
    zero = z2.clone(); zero[1] = 0
    _raises(lambda: a2_infonce(z1, zero, z3), 'a2_infonce: z2 has a row of zeros')
    _raises(lambda: nt_xent(z1.long(), z2), 'z1 must be a floating-point tensor, got torch.int64')
    _raises(lambda: nt_xent(z1.tolist(), z2), 'z1 must be a floating-point tensor, got list')
    _raises(lambda: nt_xent(z1, z2, reduction='sum'), "reduction must be 'mean' or 'none', got 'sum'")

def test_unchecked_mode():
    "check=False skips the value checks (no host sync): same loss on good input, NaN on bad input; shape checks stay."
    z1, z2, z3 = _inputs(5, 4, 2, False, seed=8)
    for f in (nt_xent, info_nce, a1_loss):
        fct.test_eq(f(z1, z2, check=False), f(z1, z2))
        assert f(z1 * float('nan'), z2, check=False).isnan()
        zero = z2.clone(); zero[0] = 0
        assert f(z1, zero, check=False).isnan()
    for f in (a2_full, a2_simclr, a2_infonce, a2_alignment):
        fct.test_eq(f(z1, z2, z3, check=False), f(z1, z2, z3))
        assert f(z1, z2, z3 * float('inf'), check=False).isnan()
    _raises(lambda: a2_full(z1, z2, z3[:2], check=False), 'z3 must be [B,D] or [B,K,D]')
