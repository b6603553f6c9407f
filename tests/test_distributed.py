"""Scale-out on torch.distributed with 2 CPU processes (gloo), launched by torchrun as a real job would be:
(1) the all-gathered global-batch loss and its gradients equal one process's on the same global batch, for every loss,
and DDP's averaged parameter gradient equals the single-process gradient; (2) DDP training steps give one process's
weights (a model without batch statistics: torch's SyncBatchNorm needs GPUs), and a checkpoint resumes with another
number of processes; (3) a 2-process view bank is the single-process bank, byte for byte; (4) `torchrun -m a2lit.cli run tiny` finishes,
with rank 0's stages equal to one process's, and an error on one rank stops the job at once.
Every worker's results are written to files by one torchrun launch (this file, run as a script); the tests compare them
with single-process computations done here."""
import csv, dataclasses, json, math, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import fastcore.test as fct
from safetensors.torch import save_file, load_file
from a2lit.core import A2Error, load_artifact, state_hash, tensor_hash
from a2lit.data import load_dataset, Shapes10Config
from a2lit.losses import nt_xent
from a2lit.search import toy_problem, ViewsConfig
from a2lit.viewbank import ViewBank, build_view_bank
from a2lit.dist import gather_rows, init_distributed
from a2lit.models import ContrastiveModel
from a2lit.train import Trainer, TrainConfig, LOSSES, contrastive_loss
from a2lit.cli import fit_main as main

torch.set_num_threads(1)
WORLD = 2
SHAPES = Shapes10Config(n_train=96)
# SGD + momentum + weight decay, 3 steps an epoch. lr 0.01: at the paper's 0.06 this tiny BatchNorm-free net is chaotic (a 1e-6
# relative nudge of the initial weights moves the weights after 6 steps by 3e-3); at 0.01 by 2e-5, while training moves them by 1e-2
CFG = TrainConfig(backbone='small', width=8, proj_dims=(32, 16), epochs=2, batch_size=32, warmup_epochs=1, lr=0.01,
                  views=('expert', 'expert', 'generated'), loss='a2_simclr')
CLI = ['--n-train', '96', '--set', 'backbone=small', '--set', 'width=8', '--set', 'proj_dims=32,16', '--set', 'epochs=2',
       '--set', 'batch_size=32', '--set', 'warmup_epochs=1']
# 'noise' and fp32: the render count sees no bisection and no fp32 check of a bf16 search, only each chunk's rendering
BANK_KW = dict(**{k: v for k, v in ViewsConfig(n=4, eps2=0.35, max_steps=60, chunk_size=4, start='noise', cpu_bf16=False).__dict__.items()},
               dataset_hash='toy', progress=False)
B, D = 8, 16                       # the global batch of the loss checks
TIMEOUT = 240                      # seconds the torchrun job may take before it is killed (it takes ~20 s)

def quiet(): return dict(progress=False, log=lambda s: None)

def no_bn(m):
    "`m` with every BatchNorm replaced by an identity: no batch statistics, so a rank's rows do not depend on the others."
    for name, c in m.named_children():
        if isinstance(c, nn.modules.batchnorm._BatchNorm): setattr(m, name, nn.Identity())
        else: no_bn(c)
    return m

def make_model():
    torch.manual_seed(CFG.seed); return no_bn(ContrastiveModel(CFG.backbone, CFG.width, CFG.proj_dims))

def make_bank(ds):
    gen = ds.images[:, None].int() + torch.randint(-12, 13, (len(ds), 3, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    return ViewBank(torch.zeros(len(ds), 3, 2, 4), gen.clamp(0, 255).to(torch.uint8), dict(method='perturb', dataset_hash=ds.hash()))

def loss_inputs():
    "Three views' embeddings of a global batch, and a linear 'encoder' with its 2-view input for the DDP check."
    g = torch.Generator().manual_seed(0)
    zs = F.normalize(torch.randn(3, B, D, generator=g), dim=-1)
    lin = nn.Linear(12, D); lin.weight.data = torch.randn(D, 12, generator=g); lin.bias.data = torch.randn(D, generator=g)
    return zs, lin, torch.randn(2, B, 12, generator=g)

def encode(net, x, rows):
    "Both views of `x[:, rows]` in one forward (as the trainer does), L2-normalised, split per view."
    return F.normalize(net(torch.cat([x[0, rows], x[1, rows]])), dim=-1).split(len(x[0, rows]))

def param_hash(m): return tensor_hash(*[p for _, p in sorted(m.named_parameters())])

class CountingG(nn.Module):
    "A generator that counts its rendering calls (one per chunk of the toy bank)."
    def __init__(self, g): super().__init__(); self.g, self.renders = g, 0
    def forward(self, w):
        if not torch.is_grad_enabled() and w.shape[0] > 4: self.renders += 1
        return self.g(w)

def toy_bank_inputs():
    g, f = toy_problem('nonlinear')
    return g, f, torch.randn(20, 4, 16, generator=torch.Generator().manual_seed(5))   # 5 chunks of 4 images

# ---- the worker: every rank of the torchrun job runs this ---------------------------------------------------------------
def worker(work: Path):
    from torch.nn.parallel import DistributedDataParallel
    rank, world = init_distributed('gloo')
    assert world == WORLD, world
    rows = slice(rank * B // world, (rank + 1) * B // world)
    # (1) the losses on the gathered global batch, and the gradient of each rank's own rows
    zs, lin, x = loss_inputs()
    out = {}
    for loss, nv in LOSSES.items():
        local = [z[rows].clone().requires_grad_() for z in zs[:nv]]
        L = contrastive_loss(TrainConfig(views=('expert',) * nv, loss=loss), [gather_rows(z) for z in local])
        out[f'{loss}.loss'] = L.detach()
        out.update({f'{loss}.grad{v}': gr for v, gr in enumerate(torch.autograd.grad(L, local))})
    ddp = DistributedDataParallel(lin)
    L = nt_xent(*[gather_rows(z) for z in encode(ddp, x, rows)])
    (L * world).backward()                                   # the trainer's recipe: DDP averages world x (own share)
    out['ddp.weight'], out['ddp.bias'] = lin.weight.grad, lin.bias.grad
    save_file(out, str(work / f'loss-rank{rank}.safetensors'))
    # (2) training: straight, stopped after epoch 1 (resumed by 1 process in the test), and resuming 1 process's epoch 1
    ds = load_dataset('shapes10', work / 'data', shapes10=SHAPES)
    bank = ViewBank.load(work / 'bank.safetensors')
    Trainer(CFG, ds, out=work / 'ddp', bank=bank, model=make_model(), **quiet()).fit()
    Trainer(CFG, ds, out=work / 'ddp-then-1', bank=bank, model=make_model(), **quiet()).fit(until=1)
    tr = Trainer(CFG, ds, out=work / '1-then-ddp', bank=bank, model=make_model(), **quiet())
    assert tr.epoch == 1, tr.epoch
    tr.fit()
    # a ViewMaker row: its noise is per rank, so no single-process twin; DDP must keep both networks the same on every rank
    vm = Trainer(dataclasses.replace(CFG, views=('expert', 'viewmaker'), loss='a1', epochs=1, viewmaker_width=8, viewmaker_blocks=1),
                 ds, model=make_model(), **quiet())
    h = vm.fit()
    (work / f'viewmaker-rank{rank}.json').write_text(json.dumps([h[-1]['loss'], param_hash(vm.model), param_hash(vm.viewmaker)]))
    # (3) the view bank, each rank making its chunks
    g, f, lat0 = toy_bank_inputs()
    cg = CountingG(g)
    build_view_bank(cg, f, lat0, work / 'views-ddp.safetensors', g_hash=state_hash(g), **BANK_KW)
    (work / f'renders-rank{rank}.json').write_text(json.dumps(cg.renders))
    # a step rank 0 runs alone (a2lit.experiments' gan, invert, eval, report): every rank gets rank 0's result, or its error
    from a2lit.dist import on_rank0
    def boom(): raise A2Error('boom')
    try: on_rank0(boom, 'a test'); err = None
    except A2Error as e: err = [type(e).__name__, str(e)]
    (work / f'on-rank0-rank{rank}.json').write_text(json.dumps([on_rank0(lambda: f'from rank {rank}'), err]))
    # the command line (the default model: per-rank BatchNorm on CPU), stopped after epoch 1; it ends the process group
    main(['--out', str(work / 'cli'), '--root', str(work / 'data'), '--until', '1', *CLI])

if __name__ == '__main__':
    worker(Path(sys.argv[1]))

# ---- the tests --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def ds(work): return load_dataset('shapes10', work / 'data', shapes10=SHAPES)

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "Prepare the inputs, run the 2-process torchrun job once, return its folder."
    work = tmp_path_factory.mktemp('dist')
    ds = load_dataset('shapes10', work / 'data', shapes10=SHAPES)   # rendered once; the workers read the cache
    make_bank(ds).save(work / 'bank.safetensors')
    Trainer(CFG, ds, out=work / '1-then-ddp', bank=ViewBank.load(work / 'bank.safetensors'), model=make_model(), **quiet()).fit(until=1)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'PYTHONUNBUFFERED': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={WORLD}', __file__, str(work)]
    log = open(work / 'torchrun.log', 'w')
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)   # its own process group
    try: p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired: pass
    finally:                                                      # nothing outlives the test: torchrun and its workers
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait()
        log.close()
    text = (work / 'torchrun.log').read_text()
    assert p.returncode == 0, f"torchrun exited with {p.returncode}:\n{text[-4000:]}"
    return work

def test_global_batch_loss_and_gradients_equal_one_process(work):
    zs, lin, x = loss_inputs()
    ranks = [load_file(str(work / f'loss-rank{r}.safetensors')) for r in range(WORLD)]
    for loss, nv in LOSSES.items():
        full = [z.clone().requires_grad_() for z in zs[:nv]]
        L = contrastive_loss(TrainConfig(views=('expert',) * nv, loss=loss), full)
        grads = torch.autograd.grad(L, full)
        for r, res in enumerate(ranks):
            rows = slice(r * B // WORLD, (r + 1) * B // WORLD)
            fct.test_close(res[f'{loss}.loss'], L.detach(), eps=1e-6)                       # the same global loss on every rank
            for v in range(nv): fct.test_close(res[f'{loss}.grad{v}'], grads[v][rows], eps=1e-6)   # its rows' gradient, not 1/world of it
        assert grads[0].abs().max() > 1e-2, loss                                            # gradients that could disagree
    L = nt_xent(*encode(lin, x, slice(None)))
    gw, gb = torch.autograd.grad(L, [lin.weight, lin.bias])
    for res in ranks: fct.test_close(res['ddp.weight'], gw, eps=1e-5); fct.test_close(res['ddp.bias'], gb, eps=1e-5)
    # the factor of world size matters: a rank's own share alone is far from the full gradient
    assert (ranks[0]['ddp.weight'] / WORLD - gw).abs().max() > 1e-2

def assert_close_run(a_path, b_path, tol=1e-5):
    "Two checkpoints hold the same model and optimiser state (to float tolerance) and the same history of losses."
    (ta, ma), (tb, mb) = load_artifact(a_path), load_artifact(b_path)
    keys = sorted(k for k in ta if k != 'rng.torch')
    fct.test_eq(keys, sorted(k for k in tb if k != 'rng.torch'))
    for k in keys: torch.testing.assert_close(ta[k], tb[k], rtol=tol, atol=tol, msg=lambda m: f'{k}: {m}')
    fct.test_eq((ma['epoch'], ma['step']), (mb['epoch'], mb['step']))
    fct.test_close([h['loss'] for h in ma['history']], [h['loss'] for h in mb['history']], eps=1e-5)
    return ta, ma

def test_ddp_training_equals_one_process_and_resumes_across_world_sizes(work, ds):
    bank = ViewBank.load(work / 'bank.safetensors')
    init = {k: v.clone() for k, v in make_model().state_dict().items()}
    Trainer(CFG, ds, out=work / 'one', bank=bank, model=make_model(), **quiet()).fit()   # one process, the same global batches
    ref = work / 'one/checkpoint.safetensors'
    t, m = assert_close_run(work / 'ddp/checkpoint.safetensors', ref)
    fct.test_eq((m['epoch'], m['step'], m['world_size']), (2, 6, 2))
    moved = max((t[f'model.{k}'] - v).abs().max().item() for k, v in init.items())
    assert moved > 5e-3, moved                                   # training moved the weights 500x the tolerance
    # 2 processes for epoch 1, then 1 process for epoch 2
    fct.test_eq(load_artifact(work / 'ddp-then-1/checkpoint.safetensors')[1]['epoch'], 1)
    tr = Trainer(CFG, ds, out=work / 'ddp-then-1', bank=bank, model=make_model(), **quiet())
    fct.test_eq((tr.epoch, tr.step), (1, 3)); tr.fit()
    assert_close_run(work / 'ddp-then-1/checkpoint.safetensors', ref)
    # 1 process for epoch 1 (made before the job), then 2 processes for epoch 2
    _, m = assert_close_run(work / '1-then-ddp/checkpoint.safetensors', ref)
    fct.test_eq(m['world_size'], 2)

def test_viewmaker_row_trains_in_step_on_every_rank(work):
    (loss0, m0, v0), (loss1, m1, v1) = [json.loads((work / f'viewmaker-rank{r}.json').read_text()) for r in range(WORLD)]
    assert math.isfinite(loss0); fct.test_eq(loss0, loss1)      # the global loss, the same on both ranks
    fct.test_eq((m0, v0), (m1, v1))                              # encoder and ViewMaker weights identical across ranks (BatchNorm
                                                                 # buffers are per rank on CPU; DDP sends rank 0's before each step)
    fct.test_ne(v0, param_hash(Trainer(dataclasses.replace(CFG, views=('expert', 'viewmaker'), loss='a1', viewmaker_width=8, viewmaker_blocks=1),
                                       load_dataset('shapes10', work / 'data', shapes10=SHAPES), model=make_model(), **quiet()).viewmaker))   # and it trained

def test_a_global_batch_that_does_not_split_is_refused(ds, monkeypatch):
    import a2lit.train as tm
    monkeypatch.setattr(tm, 'rank_world', lambda: (0, 3))        # what rank 0 of a 3-process job sees; refused before any collective
    fct.test_fail(lambda: Trainer(CFG, ds, model=make_model(), **quiet()), contains='batch_size 32 is not a multiple of the 3 processes')

def test_two_process_bank_equals_one_process_bank(work, tmp_path):
    g, f, lat0 = toy_bank_inputs()
    one = build_view_bank(g, f, lat0, tmp_path / 'views-1.safetensors', **BANK_KW)
    fct.test_eq((work / 'views-ddp.safetensors').read_bytes(), (tmp_path / 'views-1.safetensors').read_bytes())
    ddp = ViewBank.load(work / 'views-ddp.safetensors')
    fct.test_eq(ddp.latents, one.latents); fct.test_eq(ddp.images, one.images); fct.test_eq(ddp.meta, one.meta)
    # each rank made its own chunks: rank 0 chunks 0, 2, 4 and rank 1 chunks 1, 3; the parts were merged and removed
    fct.test_eq([json.loads((work / f'renders-rank{r}.json').read_text()) for r in range(WORLD)], [3, 2])
    assert not (work / 'views-ddp.safetensors.parts').exists()

def test_a_step_on_rank_0_alone_answers_every_rank(work):
    fct.test_eq([json.loads((work / f'on-rank0-rank{r}.json').read_text()) for r in range(WORLD)],
                [['from rank 0', ['A2Error', 'boom']],                                          # rank 0 raises its own error
                 ['from rank 0', ['Rank0Error', 'rank 0 failed in a test: A2Error: boom']]])   # the others stop too, not waiting

def test_command_line_under_torchrun_then_resumed_by_one_process(work, capsys):
    t, m = load_artifact(work / 'cli/checkpoint.safetensors')
    fct.test_eq((m['epoch'], m['step'], m['world_size']), (1, 3, 2))
    log = (work / 'torchrun.log').read_text()
    assert 'note: BatchNorm statistics are per process (16 images each)' in log, log[-2000:]
    assert '2 process(es) on cpu, 16 images per process per step' in log, log[-2000:]
    main(['--out', str(work / 'cli'), '--root', str(work / 'data'), *CLI])   # no torchrun: one process finishes the run
    t2, m2 = load_artifact(work / 'cli/checkpoint.safetensors')
    fct.test_eq((m2['epoch'], m2['step'], m2['world_size']), (2, 6, 1))
    fct.test_eq(m2['history'][0], m['history'][0])
    assert 'epochs 2 to 2 of 2' in capsys.readouterr().out

# ---- the `a2lit` command under torchrun -------------------------------------------------------------------------------
# Every stage of the tiny preset (2 rows, 1 seed: one W-search bank, ~25 s) as 2 gloo processes and as 1 process. The stages
# rank 0 runs alone (data, gan, invert, eval, report) see the same inputs, so their artifacts equal one process's; the split
# stages (simclr, views, train) keep per-process BatchNorm statistics on CPU (32 images instead of 64), so their weights, the
# W-search bank made with that encoder and the scores differ from one process's: they are checked structurally.
TINY = ['run', 'tiny', '--out', 'runs', '--seed', '0', '--set', 'rows=simclr,a2-wsearch']
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={WORLD}']
A2LIT = [sys.executable, '-m', 'a2lit.cli']

def launch(cmd, cwd, timeout=TIMEOUT):
    "Run `cmd` in `cwd` (made if missing) in its own process group, killed with everything it started after `timeout` s."
    Path(cwd).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'PYTHONUNBUFFERED': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    t = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); out, err = p.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s:\n{out[-2000:]}\n{err[-2000:]}")
    return p.returncode, out, err, time.time() - t

def test_a2lit_run_under_torchrun(tmp_path):
    from a2lit.pipeline import STAGES
    from a2lit.core import read_json
    from a2lit.train import load_encoder
    rc, out1, err, _ = launch(A2LIT + TINY, tmp_path / 'one')
    assert rc == 0, err[-3000:]
    rc, out, err, secs = launch(TORCHRUN + ['-m', 'a2lit.cli'] + TINY, tmp_path / 'two')
    assert rc == 0, f"{out[-2000:]}\n{err[-3000:]}"
    one, two = tmp_path / 'one/runs/tiny', tmp_path / 'two/runs/tiny'
    for s in STAGES: fct.test_eq((out.count(f'{s}: done in'), out1.count(f'{s}: done in')), (1, 1))   # rank 0 speaks for the job
    assert 'note: BatchNorm statistics are per process (32 images each)' in out
    # rank 0 alone: the same artifacts as one process
    for f in ('gan/generator.safetensors', 'gan/encoder.safetensors', 'invert/w_plus.safetensors'):
        (ta, _), (tb, _) = load_artifact(one / f), load_artifact(two / f)
        fct.test_eq(sorted(ta), sorted(tb))
        for k in ta: assert torch.equal(ta[k], tb[k]), (f, k)
    fct.test_eq(read_json(two / 'eval/raw-pixels.json'), read_json(one / 'eval/raw-pixels.json'))
    sa, sb = read_json(one / 'data/stats.json'), read_json(two / 'data/stats.json')   # the means are sums over a cached or a fresh
    for k in ('channel_mean', 'channel_std'): fct.test_close(sa.pop(k), sb.pop(k), eps=1e-12)   # tensor: equal to rounding
    fct.test_eq(sa, sb)
    # the split stages: trained by both processes, the bank made with their encoder from the same latents, every chunk merged
    for row in ('simclr', 'a2-wsearch'):
        fct.test_eq([load_artifact(d / f'train/{row}-s0/checkpoint.safetensors')[1]['world_size'] for d in (one, two)], [1, 2])
    bank, ref = ViewBank.load(two / 'views/search.safetensors', verify=True), ViewBank.load(one / 'views/search.safetensors')
    fct.test_eq(bank.meta['f_hash'], state_hash(load_encoder(two / 'train/simclr-s0/checkpoint.safetensors')))
    fct.test_eq({k: bank.meta[k] for k in ('latents0_hash', 'dataset_hash', 'g_hash', 'n_images')},
                {k: ref.meta[k] for k in ('latents0_hash', 'dataset_hash', 'g_hash', 'n_images')})
    fct.test_eq(bank.images.shape, ref.images.shape)
    assert not (two / 'views/search.safetensors.parts').exists()
    # the report: the same tables with the same rows and columns; the scores themselves differ (see above)
    ra, rb = [list(csv.DictReader(open(d / 'report/results.csv'))) for d in (one, two)]
    fct.test_eq([list(r.items())[:5] for r in rb], [list(r.items())[:5] for r in ra])   # row, views, loss
    fct.test_eq([list(r) for r in rb], [list(r) for r in ra])
    for r in rb:
        for k in ('knn5_mean', 'linear_mean', 'knn5_cos_mean'): assert 0 <= float(r[k]) <= 100, r
    assert 'Raw pixels (no learning)' in (two / 'report/results.md').read_text()
    # what rank 0 recorded holds for one process: a plain rerun of the same command finds every stage up to date
    rc, out, err, _ = launch(A2LIT + TINY, tmp_path / 'two')
    assert rc == 0 and out.count('up to date') == len(STAGES), out

@pytest.mark.parametrize('args,msg', [
    (['run', 'tiny', '--set', 'train.tau=-1'], 'a2lit: error: tau must be > 0, got -1.0'),   # refused on every rank before they join
    (['eval', 'tiny', '--set', 'rows=simclr'], 'a2lit: error: missing artifact runs/tiny/train/simclr-s0/checkpoint.safetensors'),  # rank 0 alone
], ids=['bad-value', 'rank0-stage'])
def test_an_error_under_torchrun_stops_every_rank_and_is_said_once(tmp_path, args, msg):
    rc, out, err, secs = launch(TORCHRUN + ['-m', 'a2lit.cli', *args, '--out', 'runs'], tmp_path, timeout=120)
    assert rc != 0 and secs < 60, (rc, secs)
    fct.test_eq(err.count('a2lit: error'), 1)                    # rank 0 says it; rank 1 stops without repeating it
    assert msg in err, err[-2000:]

def test_map_in_processes_runs_jobs_in_one_thread_workers_in_order(capfd):
    "Independent jobs on the CPU's cores: results in job order, from worker processes of one thread each; a job's error reaches the caller."
    from a2lit.dist import map_in_processes
    from a2lit.core import A2Error
    from cli_helpers import square_in_worker
    out = map_in_processes(square_in_worker, [(i,) for i in range(5)], workers=2)
    assert [r for r, _, _ in out] == [0, 1, 4, 9, 16]
    pids = {p for _, p, _ in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2, pids
    assert {t for _, _, t in out} == {max(1, torch.get_num_threads() // 2)}   # this process's threads, shared out
    assert sorted(l for l in capfd.readouterr().out.splitlines() if l.startswith('job ')) == [f'job {i}' for i in range(5)]
    with pytest.raises(A2Error, match='bad job -1'): map_in_processes(square_in_worker, [(1,), (-1,)], workers=2)
    assert [r for r, _, _ in map_in_processes(square_in_worker, [(3,)], workers=4, log=lambda s: None)] == [9]   # one job: here
