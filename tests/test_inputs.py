"Damaged or hostile inputs give one clear A2Error and run nothing: CIFAR meta files and labels."
import os, pickle
import numpy as np
import fastcore.test as fct
from a2lit.data import load_dataset

def _cifar10(root, labels=None):
    base = root / 'cifar-10-batches-py'; base.mkdir(parents=True)
    r = np.random.default_rng(0)
    for f in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        d = {'data': r.integers(0, 256, (4, 3072), dtype=np.uint8), 'labels': labels or r.integers(0, 10, 4).tolist()}
        with open(base / f, 'wb') as fh: pickle.dump(d, fh, protocol=2)
    return base

class _Planted:
    "Unpickling this would run a command that creates a file."
    def __init__(self, path): self.path = path
    def __reduce__(self): return (os.system, (f'touch {self.path}',))

def test_cifar_meta_malicious_truncated_or_without_names(tmp_path):
    base = _cifar10(tmp_path)
    marker = tmp_path / 'ran'
    with open(base / 'batches.meta', 'wb') as fh: pickle.dump({'label_names': _Planted(marker)}, fh)
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path), contains='unsafe CIFAR meta file')
    assert not marker.exists()                                        # nothing ran
    with open(base / 'batches.meta', 'wb') as fh: pickle.dump({'label_names': [f'c{i}' for i in range(10)]}, fh)
    (base / 'batches.meta').write_bytes((base / 'batches.meta').read_bytes()[:20])
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path), contains='truncated')
    with open(base / 'batches.meta', 'wb') as fh: pickle.dump({'names': ['a']}, fh)
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path), contains="has no 'label_names' list of class names")
    with open(base / 'batches.meta', 'wb') as fh: pickle.dump({'label_names': ['a', 'b']}, fh)
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path), contains='names 2 classes, expected 10')

def test_cifar_labels_out_of_range(tmp_path):
    _cifar10(tmp_path, labels=[0, 3, 10, 2])
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path), contains='labels must lie in 0..9')
    _cifar10(tmp_path / 'neg', labels=[0, -1, 2, 2])
    fct.test_fail(lambda: load_dataset('cifar10', tmp_path / 'neg'), contains='holds labels -1..2')
