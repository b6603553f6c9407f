"Bad input to the public API is refused with one A2Error naming the value (never NaN results or a raw exception), and good input still works."
import json, math, struct
import pytest
import torch
import fastcore.test as fct
from safetensors.torch import save_file
from a2lit.search import w_search, w_perturb, search_objective, view_features, mean_pairwise, check_search_args, toy_problem
from a2lit.viewbank import ViewBank, build_view_bank, open_safetensors
from a2lit.mi import mine_mi
from a2lit.analysis import alignment, pair_similarity, view_pair_table, read_csv, write_csv, plot_training_curves

torch.set_num_threads(1)
W0 = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(0))
NAN, INF = float('nan'), float('inf')

def _with(w, value, at=(0, 0, 0)):
    w = w.clone(); w[at] = value; return w

# ------------------------------------------------------------------ W-search, W-perturb and their helpers
@pytest.mark.parametrize('kw,msg', [
    *[(dict(eps1=v), f'eps1 must be a finite number > 0, got {v}') for v in (NAN, INF)],
    *[(dict(eps2=v), f'eps2 must be a finite number > 0, got {v}') for v in (NAN, INF)],
    *[(dict(lam=v), f'lam must be a finite number >= 0, got {v}') for v in (NAN, INF)],
    *[(dict(sigma=v), f'sigma must be a finite number > 0, got {v}') for v in (NAN, INF)],
    *[(dict(lr=v), f'lr must be a finite number > 0, got {v}') for v in (NAN, INF)],
    *[(dict(tol=v), f'tol must be a finite number >= 0, got {v}') for v in (NAN, INF)],
    (dict(n=0), 'n (views per image) must be >= 1, got 0'),                 # was a ZeroDivisionError (the CPU pool size 256 // n)
    (dict(n=True, lam=0), 'n (views per image) must be an integer >= 1, got True'),
    (dict(n=2.5), 'n (views per image) must be an integer >= 1, got 2.5'),
    (dict(eps1=True), 'eps1 must be a finite number > 0, got True'),
    (dict(eps1='0.3'), "eps1 must be a finite number > 0, got '0.3'"),
    (dict(max_steps=INF), 'max_steps must be an integer >= 0, got inf'),
    (dict(chunk=0), 'chunk and check_every must be >= 1, got 0 and None'),
    (dict(check_every=1.5), 'check_every must be an integer >= 1 (or None: the default), got 1.5'),
    (dict(keep_anchor=1), 'keep_anchor must be True or False, got 1'),
    (dict(eps1=0), 'eps1 (distance of each view from f0) must be > 0, got 0'),   # the range messages are unchanged
])
def test_search_settings_refused(kw, msg):
    g, f = toy_problem('linear')
    fct.test_fail(lambda: w_search(g, f, W0, max_steps=kw.pop('max_steps', 3), **kw), contains=msg)

def test_latents_and_features_refused_and_good_calls_work():
    g, f = toy_problem('linear')
    for bad in (_with(W0, NAN), _with(W0, INF), _with(W0, -INF)):
        fct.test_fail(lambda: w_search(g, f, bad, max_steps=3), contains='w0 holds 1 NaN or infinite values (of 192); latents must be finite')
        fct.test_fail(lambda: w_perturb(bad), contains='w0 holds 1 NaN or infinite values')
    fct.test_fail(lambda: w_search(g, f, W0[:, :0]), contains='w0 must be a non-empty float tensor of latents [B,L,D]')
    fct.test_fail(lambda: w_search(g, lambda x: f(x) * NAN, W0), contains='f must return L2-normalised features')   # NaN norms fail too
    for kw, msg in [(dict(n=0), 'n (views per image) must be >= 1, got 0'), (dict(n=2.0), 'n (views per image) must be an integer >= 1, got 2.0'),
                    (dict(n=True), 'must be an integer >= 1, got True'), (dict(sigma=NAN), 'sigma must be a finite number >= 0, got nan'),
                    (dict(sigma=INF), 'sigma must be a finite number >= 0, got inf'), (dict(sigma=-1), 'sigma must be >= 0, got -1')]:
        fct.test_fail(lambda: w_perturb(W0, **kw), contains=msg)
    fct.test_fail(lambda: view_features(g, f, _with(W0, NAN)), contains='w holds 1 NaN or infinite values')
    fct.test_fail(lambda: view_features(g, f, W0[0, 0]), contains='w must be a non-empty float tensor of latents [B,L,D] or [B,n,L,D], got torch.float32 (16,)')
    fct.test_fail(lambda: view_features(g, f, [W0]), contains='got list')
    fct.test_fail(lambda: view_features(g, f, W0, chunk=0), contains='chunk must be an integer >= 1, got 0')
    z, f0 = torch.nn.functional.normalize(torch.randn(3, 4, 8), dim=-1), torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    fct.test_fail(lambda: search_objective(z, f0, eps1=NAN), contains='eps1 must be a finite number, got nan')
    fct.test_fail(lambda: search_objective(z, f0, lam=INF), contains='lam must be a finite number >= 0, got inf')
    fct.test_fail(lambda: search_objective(z, f0[:2]), contains='f0 must be float features [B,F] = [3,8], one per image of z, got torch.float32 (2, 8)')
    fct.test_fail(lambda: search_objective(z[:, :1], f0), contains='needs n >= 2 views per image, got n=1')   # was a 0/0 NaN loss
    fct.test_fail(lambda: search_objective(z[:, :1], f0, lam=0, anchor=True), contains='anchor=True needs n >= 2')
    fct.test_fail(lambda: search_objective(_with(z, NAN), f0), contains='z contains NaN or inf')
    fct.test_fail(lambda: mean_pairwise(z[:, :1]), contains='n >= 2 views per image')
    fct.test_fail(lambda: check_search_args(8, 0.3, 0.5, 0.01, NAN, 0.01, 10, 1e-3, False), contains='sigma must be a finite number > 0, got nan')
    # good calls
    r = w_search(g, f, W0, n=4, max_steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(r.latents).all() and torch.isfinite(r.loss).all()
    fct.test_eq(w_perturb(W0, n=2, sigma=0).shape, (3, 2, 4, 16))
    loss, d = search_objective(z, f0); assert torch.isfinite(loss).all() and d.shape == (3, 4)

def test_build_view_bank_settings_refused(tmp_path):
    g, f = toy_problem('linear')
    for kw, msg in [(dict(eps1=NAN), 'eps1 must be a finite number > 0, got nan'), (dict(n=0), 'n (views per image) must be >= 1, got 0'),
                    (dict(chunk=0), 'chunk and check_every must be >= 1, got 0 and None'),
                    (dict(chunk_size=2.5), 'chunk_size must be an integer >= 1, got 2.5'), (dict(chunk_size=NAN), 'chunk_size must be an integer >= 1, got nan'),
                    (dict(chunk_size=0), 'chunk_size must be >= 1, got 0'),
                    (dict(seed='1'), "seed must be an integer, got '1'"), (dict(seed=True), 'seed must be an integer, got True'), (dict(seed=1.5), 'seed must be an integer, got 1.5'),
                    (dict(method='perturb', perturb_sigma=NAN), 'perturb_sigma must be a finite number >= 0, got nan'),
                    (dict(method='perturb', n=0), 'n (views per image) must be >= 1, got 0'),
                    (dict(epsilon=0.2), 'build_view_bank got unknown settings epsilon'),
                    (dict(cfg={'n': 2}), 'cfg must be a ViewsConfig, got dict'), (dict(shard=2), 'shard must be (rank, world) with 0 <= rank < world, got 2')]:
        fct.test_fail(lambda: build_view_bank(g, f, W0, tmp_path / 'bank.safetensors', progress=False, **kw), contains=msg)
    fct.test_fail(lambda: build_view_bank(g, f, _with(W0, NAN), tmp_path / 'bank.safetensors', progress=False), contains='latents0 holds 1 NaN or infinite values')
    assert list(tmp_path.iterdir()) == []                                   # refused before anything is written
    b = build_view_bank(g, f, W0, tmp_path / 'bank.safetensors', n=2, max_steps=3, chunk_size=2, progress=False)
    fct.test_eq(b.latents.shape, (3, 2, 4, 16)); assert torch.isfinite(b.latents).all()

# ------------------------------------------------------------------ opening a bank: damaged files, wrong contents; sampling
def _bank(path):
    lat, img = torch.randn(5, 2, 3, 4), torch.randint(0, 256, (5, 2, 3, 8, 8), dtype=torch.uint8)
    return ViewBank(lat, img, {'method': 'perturb'}).save(path)

def _rewrite(src, dst, edit=lambda h: None, data=None):
    "Copy the safetensors file `src` to `dst` with its header edited in place (and its data replaced, if given)."
    raw = src.read_bytes(); n = struct.unpack('<Q', raw[:8])[0]
    h = json.loads(raw[8:8 + n]); edit(h)
    hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
    dst.write_bytes(struct.pack('<Q', len(hb)) + hb + (raw[8 + n:] if data is None else data)); return dst

def test_view_bank_load_refuses_damaged_files(tmp_path):
    p = _bank(tmp_path / 'bank.safetensors')
    lat_end = 5 * 2 * 3 * 4 * 4                                             # latents: 480 bytes of F32, first (wide dtypes first)
    body = p.read_bytes()[-2400:]                                           # the data: latents, then 1920 bytes of images
    def meta(v): return lambda h: h['__metadata__'].__setitem__('a2lit', v)
    def field(t, k, v): return lambda h: h[t].__setitem__(k, v)
    cases = [
        (tmp_path, f'{tmp_path} is a directory, not a safetensors file'),
        (_rewrite(p, tmp_path / 'm1.safetensors', meta('{not json')), 'm1.safetensors is not a view bank: its a2lit metadata is not JSON'),
        (_rewrite(p, tmp_path / 'm2.safetensors', meta('[1, 2]')), 'm2.safetensors is not a view bank: its a2lit metadata is a JSON list, not an object'),
        (_rewrite(p, tmp_path / 'o1.safetensors', field('images', 'data_offsets', [0, 2400 - lat_end])), "tensors 'latents' and 'images' overlap (data_offsets up to 480 and from 0)"),
        (_rewrite(p, tmp_path / 'o2.safetensors', field('images', 'data_offsets', [lat_end, 10 ** 7])), "tensor 'images' has data_offsets [480, 10000000] past the end of the data"),
        (_rewrite(p, tmp_path / 'o3.safetensors', field('images', 'data_offsets', [2400, lat_end])), 'which end before they begin'),
        (_rewrite(p, tmp_path / 'o4.safetensors', field('images', 'data_offsets', ['480', '2400'])), "tensor 'images' has no valid shape and data_offsets"),
        (_rewrite(p, tmp_path / 's1.safetensors', field('images', 'shape', [5, 2, 3, 8, 9])), "tensor 'images' of shape [5, 2, 3, 8, 9] (U8) needs 2160 bytes, its data_offsets [480, 2400] hold 1920"),
        (_rewrite(p, tmp_path / 's2.safetensors', field('images', 'shape', [2 ** 62, 4])), "needs"),
        (_rewrite(p, tmp_path / 'g.safetensors', field('images', 'data_offsets', [lat_end + 8, 2408]), data=body[:lat_end] + bytes(8) + body[lat_end:]),
         'no tensor holds bytes 480..488 of the data'),
        (_rewrite(p, tmp_path / 'tr.safetensors', data=body + b'x' * 16), 'its tensors hold 2400 bytes of data, the file 2416'),
    ]
    (tmp_path / 'junk.safetensors').write_bytes(b'this is a text file, not a safetensors file\n' * 4)
    (tmp_path / 'empty.safetensors').write_bytes(b'')
    (tmp_path / 'hdr.safetensors').write_bytes(struct.pack('<Q', 8) + b'garbage!')
    cases += [(tmp_path / 'junk.safetensors', 'junk.safetensors: its first 8 bytes give a header of'),
              (tmp_path / 'empty.safetensors', 'empty.safetensors: 0 bytes, less than the 8-byte header length (not a safetensors file)'),
              (tmp_path / 'hdr.safetensors', 'hdr.safetensors: its header is not JSON')]
    save_file({'latents': torch.randn(4, 2, 3, 4), 'images': torch.zeros(5, 2, 3, 8, 8, dtype=torch.uint8)}, str(tmp_path / 'd1.safetensors'), {'a2lit': '{}'})
    save_file({'latents': torch.randn(5, 2, 3, 4), 'images': torch.zeros(5, 2, 3, 8, 8, dtype=torch.uint8), 'steps': torch.arange(4)},
              str(tmp_path / 'd2.safetensors'), {'a2lit': '{}'})
    cases += [(tmp_path / 'd1.safetensors', f"view bank {tmp_path / 'd1.safetensors'}: ViewBank images (5, 2) and latents (4, 2) disagree on [N,n]"),
              (tmp_path / 'd2.safetensors', "ViewBank extra 'steps' must hold one row per image (5), got torch.int64 (4,)")]
    for path, msg in cases:
        fct.test_fail(lambda: ViewBank.load(path), contains=msg)
        if path.is_file() and path.name[0] not in 'dm': fct.test_fail(lambda: ViewBank.load(path), contains=f'corrupt or truncated safetensors file {path}')
    b = ViewBank.load(p, verify=True)                                        # the good file still opens
    fct.test_eq(len(b), 5); fct.test_eq(open_safetensors(p)[0]['images'], b.images)

def test_view_bank_sample_refuses_bad_indices(tmp_path):
    b = ViewBank.load(_bank(tmp_path / 'bank.safetensors'))
    for idx, msg in [([0, 5], 'indices must lie in 0..4 (the bank\'s images), got 0..5'), ([-1], 'indices must lie in 0..4'),
                     ([0.5], 'indices must be integers, got torch.float32'), (torch.ones(5, dtype=torch.bool), 'indices must be integers, got torch.bool'),
                     ('a', 'indices must be integers, got str')]:
        fct.test_fail(lambda: b.sample(idx), contains=msg)
    g = torch.Generator().manual_seed(0)
    s = b.sample(torch.tensor([4, 0, 2]), g)
    fct.test_eq(s.shape, (3, 3, 8, 8)); fct.test_eq(b.sample([]).shape, (0, 3, 8, 8))
    k = torch.randint(0, 2, (3,), generator=torch.Generator().manual_seed(0))   # the same draw as before the checks
    fct.test_eq(s, b.images[torch.tensor([4, 0, 2]), k])

# ------------------------------------------------------------------ analysis: metrics CSVs, MINE, alignment, the view-pair table
def test_damaged_metrics_csv_refused(tmp_path):
    good = tmp_path / 'good.csv'; good.write_text('epoch,step,loss,knn5\n1,4,4.6,\n2,8,4.4,0.25\n')
    files = {'missing.csv': ('epoch,step\n1,4\n2,8\n', "has no column 'loss' (it has ['epoch', 'step'])"),
             'nonnum.csv': ('epoch,step,loss\n1,4,abc\n2,8,4.4\n', "column 'loss' holds 'abc' in row 1, not a number"),
             'xnonnum.csv': ('epoch,loss\none,4.6\n', "column 'epoch' holds 'one' in row 1, not a number"),
             'header.csv': ('epoch,step,loss\n', 'has no rows, only a header'),
             'empty.csv': ('', 'empty.csv is empty: a CSV file needs at least its header row'),
             'ragged.csv': ('epoch,step,loss\n1,4\n', 'ragged.csv: row 1 has 2 fields, the header 3'),
             'dup.csv': ('epoch,loss,loss\n1,2,3\n', 'dup.csv has a damaged header: it repeats a column name')}
    for name, (text, msg) in files.items():
        (tmp_path / name).write_text(text)
        fct.test_fail(lambda: plot_training_curves({'r': tmp_path / name}), contains=msg)
        fct.test_fail(lambda: plot_training_curves({'r': tmp_path / name}), contains=str(tmp_path / name))   # the file is named
    (tmp_path / 'bin.csv').write_bytes(bytes(range(256)) * 4)
    (tmp_path / 'nul.csv').write_bytes(b'epoch,loss\n1,\x002\n')
    for name in ('bin.csv', 'nul.csv'):
        fct.test_fail(lambda: read_csv(tmp_path / name), contains=f'{tmp_path / name} is not a CSV text file')
        fct.test_fail(lambda: plot_training_curves({'r': tmp_path / name}), contains=f'{tmp_path / name} is not a CSV text file')
    fct.test_fail(lambda: read_csv(tmp_path), contains=f'{tmp_path} is not a file')
    fct.test_fail(lambda: read_csv(tmp_path / 'nope.csv'), contains='missing file')
    fct.test_fail(lambda: plot_training_curves({'r': {'epoch': [1, 2, 3], 'loss': [1.0, 2.0]}}), contains="run 'r': column 'epoch' has 3 values, 'loss' 2")
    fct.test_fail(lambda: plot_training_curves({'r': 3}), contains="run 'r' must be a CSV path, a DataFrame, a dict of lists or a list of numbers, got int")
    fct.test_fail(lambda: plot_training_curves([good]), contains='curves must be a dict')
    # good files: numbers become floats, text stays text, empty cells are values not logged at that row
    write_csv([{'row': 'simclr', 'acc': 0.5}, {'row': 'a2', 'acc': 0.625}], tmp_path / 'res.csv')
    fct.test_eq(read_csv(tmp_path / 'res.csv'), [{'row': 'simclr', 'acc': 0.5}, {'row': 'a2', 'acc': 0.625}])
    fct.test_eq(read_csv(good)[0], {'epoch': 1.0, 'step': 4.0, 'loss': 4.6, 'knn5': ''})
    fig = plot_training_curves({'csv': good, 'list': [3.0, 2.0]}, y='knn5')
    fct.test_eq([list(l.get_xdata()) for l in fig.axes[0].lines], [[2.0], [1, 2]])
    fct.test_eq(list(fig.axes[0].lines[0].get_ydata()), [0.25])
    import matplotlib.pyplot as plt; plt.close(fig)

def test_analysis_inputs_refused():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 4, generator=g); b = a + 0.1 * torch.randn(64, 4, generator=g)
    for bad in (_with(a, NAN, (0, 0)), _with(a, INF, (3, 1))):
        fct.test_fail(lambda: mine_mi(bad, b, epochs=1), contains='a contains NaN or inf')
        fct.test_fail(lambda: alignment(bad, b), contains='a contains NaN or inf')        # was a NaN mean
        fct.test_fail(lambda: pair_similarity(a, bad), contains='b contains NaN or inf')
        fct.test_fail(lambda: view_pair_table({'Original': a, 'Expert': bad}, epochs=1), contains="features['Expert'] contains NaN or inf")
    fct.test_fail(lambda: mine_mi(a, b[:60], epochs=1), contains='a and b must be paired row by row, got 64 and 60 rows')
    fct.test_fail(lambda: alignment(a, b[:60]), contains='a and b must have the same shape, got (64, 4) and (60, 4)')
    fct.test_fail(lambda: alignment([1., 2.], [1., 2.]), contains='a must be a tensor of features [..., D], got list')
    fct.test_fail(lambda: view_pair_table({'Original': a, 'Expert': b[:60]}, epochs=1), contains='every view type must hold the same images')
    fct.test_fail(lambda: view_pair_table({'Original': a, 'Expert': [[1.0]]}, epochs=1), contains="features['Expert'] must be non-empty float features [N,D] or [N,n,D], got list")
    fct.test_fail(lambda: view_pair_table({'Original': a, 'W-search': torch.zeros(64, 0, 4)}, epochs=1), contains="features['W-search'] must be non-empty float features")
    for kw, msg in [(dict(lr=NAN), 'lr must be a finite number > 0, got nan'), (dict(lr=0), 'lr must be a finite number > 0, got 0'),
                    (dict(epochs=1.5), 'epochs must be an integer >= 1, got 1.5'), (dict(epochs=True), 'epochs must be an integer >= 1, got True'),
                    (dict(ma_rate=NAN), 'ma_rate must be a number in [0, 1], got nan'), (dict(ma_rate=-0.1), 'ma_rate must be a number in [0, 1], got -0.1'),
                    (dict(holdout=NAN), 'holdout must be a number in [0, 1), got nan'), (dict(hidden=0), 'hidden must be an integer >= 1'),
                    (dict(seed='x'), "seed must be an integer, got 'x'")]:
        fct.test_fail(lambda: mine_mi(a, b, **{'epochs': 1, **kw}), contains=msg)
    fct.test_fail(lambda: mine_mi(a[:, :0], b, epochs=1), contains='a must be a float tensor [N,D] (D >= 1), got torch.float32 (64, 0)')
    # good calls
    est = mine_mi(a, b, epochs=1, hidden=8); assert math.isfinite(est)
    rows = view_pair_table({'Original': a, 'Expert': b}, epochs=1, hidden=8)
    fct.test_eq(rows[0]['View pair'], 'Original, Expert'); fct.test_close(rows[0]['E[f.f~]'], alignment(a, b), eps=1e-6)
