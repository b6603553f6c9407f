"Oracle views: strength 0 is the image itself, strength 1 keeps the class, class_flip flips at its rate; bad input is one line."
import math
import pytest
import torch
import fastcore.test as fct
from a2lit.data import load_dataset, Shapes10Config, ImageSet
from a2lit.oracle import oracle_bank, oracle_factors

CFG = Shapes10Config(n_train=300, n_test=8)

@pytest.fixture(scope='module')
def ds(tmp_path_factory): return load_dataset('shapes10', tmp_path_factory.mktemp('data'), 'train', shapes10=CFG)

def test_strength_zero_reproduces_every_image_exactly(ds):
    b = oracle_bank(ds, n=2, strength=0.0, cfg=CFG, chunk=128)
    assert torch.equal(b.images, ds.images[:, None].expand(-1, 2, -1, -1, -1))

def test_strength_one_keeps_the_class_and_draws_factors_afresh(ds):
    b = oracle_bank(ds, n=2, strength=1.0, cfg=CFG, chunk=128)
    fct.test_eq(b.extras['label'], ds.labels[:, None].expand(-1, 2))
    assert (b.images != ds.images[:, None]).flatten(2).any(-1).float().mean() > 0.99
    # a fresh draw: independent of the original factors (the positions of original and view are uncorrelated)
    f = {k: v for k, v in ds.factors.items() if k != 'occluded'}; f['label'] = ds.labels
    views = oracle_factors(f, 1.0, torch.Generator().manual_seed(0), CFG)
    r = torch.corrcoef(torch.stack([f['cx'], views['cx']]))[0, 1].item()
    assert abs(r) < 4 / math.sqrt(len(ds)), r

def test_class_flip_rate_matches_p(ds):
    for p in (0.1, 0.3):
        b = oracle_bank(ds, n=4, strength=1.0, class_flip=p, cfg=CFG, seed=3)
        changed = (b.extras['label'] != ds.labels[:, None])
        n = changed.numel(); rate = changed.float().mean().item()
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n), (p, rate)          # 4 binomial standard deviations
    assert not (oracle_bank(ds, n=2, strength=1.0, class_flip=0.0, cfg=CFG).extras['label'] != ds.labels[:, None]).any()

def test_the_bank_does_not_depend_on_chunking(ds):
    fct.test_eq(oracle_bank(ds.subset(slice(0, 50)), n=2, strength=0.5, cfg=CFG, chunk=7).images,
                oracle_bank(ds.subset(slice(0, 50)), n=2, strength=0.5, cfg=CFG, chunk=50).images)

@pytest.mark.parametrize('kw, msg', [(dict(strength=-0.1), 'strength must be a number in [0, 1], got -0.1'),
                                     (dict(strength=float('nan')), 'strength must be a number in [0, 1], got nan'),
                                     (dict(class_flip=1.5), 'class_flip must be a number in [0, 1], got 1.5'),
                                     (dict(n=0), 'n (views per image) must be an integer >= 1, got 0')])
def test_bad_input_is_refused(ds, kw, msg):
    fct.test_fail(lambda: oracle_bank(ds, cfg=CFG, **kw), contains=msg)

def test_a_dataset_without_factors_is_refused(ds):
    fct.test_fail(lambda: oracle_bank(ImageSet(ds.images, ds.labels, ds.classes, None, 'cifar10'), cfg=CFG),
                  contains="oracle views need a dataset whose images come with their factors (Shapes-10); 'cifar10' has none")
