"""Expert-view throughput: a2lit's batched ExpertAugment vs torchvision.transforms.v2 applied image by image
in a DataLoader with 2 workers (the usual SimCLR pipeline). Same Shapes-10 images, same process, same machine;
the two run interleaved (ours, peer, ours, ...) so that a load that changes during the run hits both alike; medians.
Run: OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/augment.py [--n 4096] [--batch 256] [--repeats 5]"""
from _result import record; record(__file__)   # the last result goes to reports/bench/ as JSON
import argparse, os, platform, statistics, tempfile, time
import torch
import torchvision.transforms.v2 as T
from a2lit.data import load_dataset, Shapes10Config
from a2lit.augment import ExpertAugment

p = argparse.ArgumentParser()
p.add_argument('--n', type=int, default=4096); p.add_argument('--batch', type=int, default=256); p.add_argument('--repeats', type=int, default=5)
a = p.parse_args()

ds = load_dataset('shapes10', tempfile.mkdtemp(), shapes10=Shapes10Config(n_train=a.n, n_test=16))
images = ds.images

# the peer: the paper's recipe with torchvision's transforms, one image at a time, in DataLoader workers
peer_tf = T.Compose([T.RandomResizedCrop(32, scale=(0.2, 1.0), antialias=True), T.RandomHorizontalFlip(),
                     T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), T.RandomGrayscale(0.2),
                     T.ToDtype(torch.float32, scale=True)])

class Views(torch.utils.data.Dataset):
    def __len__(self): return len(images)
    def __getitem__(self, i): return peer_tf(images[i])

def run_peer():
    dl = torch.utils.data.DataLoader(Views(), batch_size=a.batch, num_workers=2, persistent_workers=False)
    t = time.perf_counter(); n = sum(len(b) for b in dl); return n / (time.perf_counter() - t)

aug = ExpertAugment(32)
def run_ours():
    t = time.perf_counter()
    for i in range(0, len(images), a.batch): aug(images[i:i + a.batch].float() / 255)
    return len(images) / (time.perf_counter() - t)

load0 = os.getloadavg()
run_ours(); run_peer()   # warm-up
runs = [(run_ours(), run_peer()) for _ in range(a.repeats)]   # interleaved
ours, peer = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, torch {torch.__version__}, "
      f"threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; "
      f"{a.n} Shapes-10 images 32x32, batch {a.batch}, median of {a.repeats} interleaved runs")
print(f"load average (1 min) at start {load0[0]:.2f}, at end {os.getloadavg()[0]:.2f}")
print(f"ours (ExpertAugment, batched, main process): {ours:,.0f} images/s  (runs: {', '.join(f'{r[0]:,.0f}' for r in runs)})")
print(f"peer (torchvision.transforms.v2 per image, DataLoader 2 workers): {peer:,.0f} images/s  (runs: {', '.join(f'{r[1]:,.0f}' for r in runs)})")
print(f"speedup: {ours / peer:.2f}x (ours vs torchvision.transforms.v2 DataLoader)")
