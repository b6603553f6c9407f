"Loaders on small fake folders written in the exact layouts the real datasets ship in, and their errors."
import os, pickle
import numpy as np
import pytest
import torch
import fastcore.test as fct
from PIL import Image
from a2lit.data import load_dataset, ImageSet
from a2lit.baselines import train_classifier

def _cifar_batch(path, n, label_key, seed, fine=False):
    r = np.random.default_rng(seed)
    d = {'batch_label': 'fake', 'data': r.integers(0, 256, (n, 3072), dtype=np.uint8),
         label_key: r.integers(0, 100 if fine else 10, n).tolist(), 'filenames': [f'{i}.png' for i in range(n)]}
    with open(path, 'wb') as f: pickle.dump(d, f, protocol=2)   # the real files are protocol-2 pickles of such dicts
    return d

@pytest.fixture
def cifar10(tmp_path):
    base = tmp_path / 'cifar-10-batches-py'; base.mkdir()
    batches = [_cifar_batch(base / f'data_batch_{i}', 7, 'labels', i) for i in range(1, 6)]
    test = _cifar_batch(base / 'test_batch', 5, 'labels', 9)
    with open(base / 'batches.meta', 'wb') as f: pickle.dump({'label_names': [f'c{i}' for i in range(10)]}, f)
    return tmp_path, batches, test

def test_cifar10_layout(cifar10):
    root, batches, test = cifar10
    tr = load_dataset('cifar10', root)
    fct.test_eq(tr.images.shape, (35, 3, 32, 32)); fct.test_eq(tr.images.dtype, torch.uint8)
    # row-major 3072 bytes = R plane, G plane, B plane of 32x32
    fct.test_eq(tr.images[0].flatten().numpy(), batches[0]['data'][0])
    fct.test_eq(tr.labels.tolist(), sum((b['labels'] for b in batches), []))
    fct.test_eq(tr.classes[:2], ['c0', 'c1'])
    te = load_dataset('cifar10', root, 'test')
    fct.test_eq(len(te), 5); fct.test_eq(te.labels.tolist(), test['labels'])

def test_cifar100_fine_labels(tmp_path):
    base = tmp_path / 'cifar-100-python'; base.mkdir()
    d = _cifar_batch(base / 'train', 6, 'fine_labels', 0, fine=True)
    d['coarse_labels'] = [0] * 6
    with open(base / 'train', 'wb') as f: pickle.dump(d, f)
    _cifar_batch(base / 'test', 4, 'fine_labels', 1, fine=True)
    with open(base / 'meta', 'wb') as f: pickle.dump({'fine_label_names': [f'f{i}' for i in range(100)], 'coarse_label_names': []}, f)
    ds = load_dataset('cifar100', tmp_path)
    fct.test_eq(ds.labels.tolist(), d['fine_labels']); fct.test_eq(len(ds.classes), 100)

def test_cifar_errors(cifar10, tmp_path):
    root = cifar10[0]
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path / 'empty'), contains='download=True')
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path / 'empty'), contains=str(tmp_path / 'empty' / 'cifar-10-batches-py'))
    p = root / 'cifar-10-batches-py' / 'data_batch_3'
    p.write_bytes(p.read_bytes()[:500])
    fct.test_fail(lambda: load_dataset('cifar10', root), contains='corrupt or truncated CIFAR batch')
    (root / 'cifar-10-batches-py' / 'data_batch_3').unlink()
    fct.test_fail(lambda: load_dataset('cifar10', root), contains='missing CIFAR batch file')

class _Evil:
    def __reduce__(self): return (os.system, ('touch pwned',))

def test_cifar_malicious_pickle_refused(cifar10, monkeypatch):
    root = cifar10[0]
    monkeypatch.chdir(root)
    with open(root / 'cifar-10-batches-py' / 'data_batch_1', 'wb') as f: pickle.dump({'data': _Evil(), 'labels': []}, f)
    fct.test_fail(lambda: load_dataset('cifar10', root), contains='refusing to load')
    assert not (root / 'pwned').exists()

def _tiny(tmp_path, wnids=('n01', 'n02'), per_class=3, n_val=4):
    base = tmp_path / 'tiny-imagenet-200'
    (base / 'val' / 'images').mkdir(parents=True)
    (base / 'wnids.txt').write_text('\n'.join(wnids) + '\n')
    (base / 'words.txt').write_text('n01\tgoldfish, Carassius auratus\nn02\tsalamander\nn99\tunused\n')
    r = np.random.default_rng(0)
    for w in wnids:
        d = base / 'train' / w / 'images'; d.mkdir(parents=True)
        for i in range(per_class):
            arr = r.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(arr if i else arr[..., 0], mode=None).save(d / f'{w}_{i}.JPEG', quality=95)   # one grayscale JPEG per class
    rows = []
    for i in range(n_val):
        Image.fromarray(r.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(base / 'val' / 'images' / f'val_{i}.JPEG')
        rows.append(f'val_{i}.JPEG\t{wnids[i % len(wnids)]}\t0\t0\t63\t63')
    (base / 'val' / 'val_annotations.txt').write_text('\n'.join(rows) + '\n')
    return base

def test_tinyimagenet_layout_and_cache(tmp_path):
    base = _tiny(tmp_path)
    tr = load_dataset('tinyimagenet', tmp_path)
    fct.test_eq(tr.images.shape, (6, 3, 64, 64)); fct.test_eq(tr.labels.tolist(), [0, 0, 0, 1, 1, 1])
    fct.test_eq(tr.classes, ['goldfish, Carassius auratus', 'salamander'])
    g = tr.images[0]                                             # the grayscale JPEG became RGB with equal channels
    fct.test_eq(g[0], g[1]); fct.test_eq(g[1], g[2])
    assert (base / 'a2lit-train.safetensors').exists()
    (base / 'train' / 'n01' / 'images' / 'n01_1.JPEG').unlink()   # the cache is read, the folder not rescanned
    fct.test_eq(load_dataset('tinyimagenet', tmp_path).images, tr.images)
    va = load_dataset('tinyimagenet', tmp_path, 'test')
    fct.test_eq(va.labels.tolist(), [0, 1, 0, 1])

def test_tinyimagenet_errors(tmp_path):
    fct.test_fail(lambda: load_dataset('tinyimagenet', tmp_path), contains='download=True')
    base = _tiny(tmp_path)
    (base / 'wnids.txt').unlink()
    fct.test_fail(lambda: load_dataset('tinyimagenet', tmp_path), contains='missing ' + str(base / 'wnids.txt'))
    base2 = _tiny(tmp_path / 'b')
    (base2 / 'val' / 'val_annotations.txt').unlink()
    fct.test_fail(lambda: load_dataset('tinyimagenet', tmp_path / 'b', 'test'), contains='val_annotations.txt')
    base3 = _tiny(tmp_path / 'c')
    import shutil; shutil.rmtree(base3 / 'train' / 'n02')
    fct.test_fail(lambda: load_dataset('tinyimagenet', tmp_path / 'c'), contains='missing folder')

def test_unknown_names(tmp_path):
    fct.test_fail(lambda: load_dataset('imagenet', tmp_path), contains="unknown dataset 'imagenet'; expected one of shapes10")
    fct.test_fail(lambda: load_dataset('shapes10', tmp_path, split='validation'), contains="unknown split 'validation'")

def test_train_classifier_on_a_factor():
    g = torch.Generator().manual_seed(0)
    ds = ImageSet(torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=g), torch.zeros(64, dtype=torch.long), ['x'],
                  {'fg_hue': torch.arange(64) % 3, 'scale': torch.rand(64, generator=g)}, 'shapes10')
    fct.test_fail(lambda: train_classifier(ds, target='nope'), contains="target 'nope' is not a factor of this dataset (factors: ['fg_hue', 'scale'])")
    fct.test_fail(lambda: train_classifier(ds, target='scale'), contains="target 'scale' is a continuous factor")
    net = train_classifier(ds, epochs=1, batch_size=32, target='fg_hue')
    fct.test_eq(net[1].out_features, 3)   # one output per value of the factor

def test_expert_grayscale_is_torchvisions_bit_for_bit(tmp_path):
    "The batched ExpertAugment's grayscale step is torchvision's rgb_to_grayscale of the same crop and jitter, exactly."
    import torchvision.transforms.v2.functional as TF
    from a2lit.augment import ExpertAugment
    from a2lit.data import Shapes10Config
    x = load_dataset('shapes10', tmp_path, shapes10=Shapes10Config(n_train=64, n_test=16)).images.float() / 255
    color = ExpertAugment(32, p_gray=0)(x, generator=torch.Generator().manual_seed(3))      # the same draws: only the last step differs
    gray = ExpertAugment(32, p_gray=1)(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(gray, TF.rgb_to_grayscale(color, 3))
