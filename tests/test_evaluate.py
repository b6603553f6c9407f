"k-NN and the linear probe against independent computations: a brute-force k-NN that follows the documented tie rules, lightly's weighted k-NN monitor, constructed separable / shuffled data, and bad input."
import math
from collections import Counter
import pytest
import torch
import torch.nn.functional as F
import fastcore.test as fct
from a2lit.core import A2Error
from a2lit.data import normalize
from a2lit.baselines import SmallConvNet
from a2lit.evaluate import extract_features, knn_predict, knn_accuracy, linear_probe, ProbeAccuracy

torch.set_num_threads(1)

def brute_knn(tx, ty, qx, k, metric='euclidean'):
    "The documented rules, one test row at a time in plain Python: sort by (distance, index), majority vote, ties -> class of the nearest tied neighbour."
    out = []
    for q in qx.tolist():
        if metric == 'euclidean': d = [sum((a - b) ** 2 for a, b in zip(q, t)) for t in tx.tolist()]
        else:
            nq = math.sqrt(sum(a * a for a in q)) or 1.0
            d = [-sum(a * b for a, b in zip(q, t)) / (nq * (math.sqrt(sum(b * b for b in t)) or 1.0)) for t in tx.tolist()]
        nn = sorted(range(len(d)), key=lambda i: (d[i], i))[:k]
        votes = Counter(ty[i].item() for i in nn)
        best = max(votes.values())
        out.append(next(ty[i].item() for i in nn if votes[ty[i].item()] == best))
    return torch.tensor(out)

@pytest.mark.parametrize('k', [1, 2, 4, 5, 6])
def test_knn_matches_brute_force_with_many_ties(k):
    # small integer coordinates: many equal distances and many split votes
    g = torch.Generator().manual_seed(k)
    tx = torch.randint(0, 3, (40, 2), generator=g).float(); ty = torch.randint(0, 4, (40,), generator=g)
    qx = torch.randint(0, 3, (60, 2), generator=g).float()
    fct.test_eq(knn_predict(tx, ty, qx, k=k, chunk=7), brute_knn(tx, ty, qx, k))

def test_knn_cosine_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    tx, ty, qx = torch.randn(50, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (50,), generator=g), torch.randn(30, 5, generator=g, dtype=torch.float64)
    fct.test_eq(knn_predict(tx, ty, qx, k=5, metric='cosine'), brute_knn(tx, ty, qx, 5, 'cosine'))

def test_weighted_cosine_knn_matches_lightly():
    from lightly.utils.benchmarking import knn_predict as lightly_knn
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 32, generator=g)
    ty, qy = torch.randint(0, 10, (2000,), generator=g), torch.randint(0, 10, (500,), generator=g)
    tx, qx = centres[ty] + 1.5 * torch.randn(2000, 32, generator=g), centres[qy] + 1.5 * torch.randn(500, 32, generator=g)
    ours = knn_predict(tx, ty, qx, k=200, metric='cosine', weighted=True, temperature=0.1, chunk=128)
    theirs = lightly_knn(F.normalize(qx, dim=1), F.normalize(tx, dim=1).T, ty, 10, knn_k=200, knn_t=0.1)[:, 0]
    fct.test_eq(ours, theirs)
    acc = knn_accuracy(tx, ty, qx, qy, k=200, metric='cosine', weighted=True)
    fct.test_close(acc, (theirs == qy).double().mean().item(), eps=1e-12)

def test_knn_known_accuracy_and_bad_input():
    tx, ty = torch.tensor([[0.], [1.], [10.], [11.]]), torch.tensor([0, 0, 1, 1])
    fct.test_eq(knn_accuracy(tx, ty, torch.tensor([[0.2], [10.8], [5.4]]), torch.tensor([0, 1, 1]), k=1), 2 / 3)
    with pytest.raises(A2Error, match='k=5 must be between 1'): knn_accuracy(tx, ty, tx, ty, k=5)
    with pytest.raises(A2Error, match='4 rows but there are 3 train labels'): knn_accuracy(tx, ty[:3], tx, ty)
    with pytest.raises(A2Error, match=r'outside the class range 0\.\.0'): knn_accuracy(tx, ty, tx, ty, num_classes=1)
    with pytest.raises(A2Error, match='NaN or inf'): knn_accuracy(tx, ty, tx * float('nan'), ty)
    with pytest.raises(A2Error, match='1 dimensions but test features have 2'): knn_accuracy(tx, ty, torch.ones(4, 2), ty)
    with pytest.warns(UserWarning, match='constant'):
        fct.test_eq(knn_accuracy(torch.zeros(4, 1), torch.tensor([1, 0, 0, 1]), torch.randn(5, 1), torch.tensor([0, 0, 0, 1, 1]), k=3), 0.6)

def blobs(n, d, C, seed, sep):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(C, d, generator=torch.Generator().manual_seed(1234)), dim=1) * sep
    y = torch.randint(0, C, (n,), generator=g)
    return centres[y] + 0.3 * torch.randn(n, d, generator=g), y

@pytest.mark.parametrize('method', ['sgd', 'lbfgs'])
def test_linear_probe_separable_and_shuffled(method):
    x, y = blobs(2000, 32, 10, 0, 3.0); xt, yt = blobs(1000, 32, 10, 1, 3.0)
    acc = linear_probe(x, y, xt, yt, epochs=20, method=method)
    assert isinstance(acc, ProbeAccuracy) and acc >= 0.995 and acc.top5 is None, acc
    g = torch.Generator().manual_seed(5)
    ys, yts = y[torch.randperm(len(y), generator=g)], yt[torch.randperm(len(yt), generator=g)]
    acc = linear_probe(x, ys, xt, yts, epochs=20, method=method)
    assert abs(acc - 0.1) < 0.04, acc       # chance is 0.1; 1000 test rows: standard error 0.0095

def test_linear_probe_top5_and_agreement():
    x, y = blobs(3000, 16, 20, 0, 1.2); xt, yt = blobs(1000, 16, 20, 1, 1.2)
    sgd, lb = linear_probe(x, y, xt, yt, epochs=30), linear_probe(x, y, xt, yt, method='lbfgs')
    assert 0.3 < sgd < 0.99 and sgd.top5 >= sgd and lb.top5 >= lb, (sgd, lb)
    assert abs(sgd - lb) < 0.03, (sgd, lb)           # the same convex problem, two optimisers
    fct.test_eq(float(linear_probe(x, y, xt, yt, epochs=3, seed=1)), float(linear_probe(x, y, xt, yt, epochs=3, seed=1)))  # seeded

def test_linear_probe_bad_input_and_constant_features():
    x, y = blobs(200, 8, 4, 0, 3.0)
    with pytest.raises(A2Error, match='200 rows but there are 199 train labels'): linear_probe(x, y[:199], x, y)
    with pytest.raises(A2Error, match=r'label 3 is outside the class range 0\.\.2'): linear_probe(x, y, x, y, num_classes=3)
    with pytest.raises(A2Error, match='labels must be >= 0'): linear_probe(x, y - 1, x, y)
    with pytest.raises(A2Error, match='at least 2 training rows'): linear_probe(x[:1], y[:1], x, y)
    with pytest.warns(UserWarning, match='constant'):
        acc = linear_probe(torch.full((200, 8), 3.0), y, x, y, epochs=5)
    fct.test_eq(acc, (y == y.bincount().argmax()).double().mean().item())   # only the bias can be learned: the majority class

def test_extract_features_matches_manual_forward():
    torch.manual_seed(0)
    net = SmallConvNet(8).eval()
    imgs = torch.randint(0, 256, (13, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad(): ref = net(normalize(imgs.float() / 255, 'cifar10'))
    f = extract_features(net, imgs, 'cifar10', batch_size=4)
    fct.test_close(f, ref, eps=1e-5); fct.test_eq(f.shape, (13, 32))
    net.train(); extract_features(net, imgs, 'cifar10'); assert net.training   # the mode is restored
    with pytest.raises(A2Error, match='no images'): extract_features(net, imgs[:0], 'cifar10')
