"""PyTorch peer of `ganshift bench`: the same computations, written as a
PyTorch user would write them, on the independent reference modules in
tools/reference (biggan_ref.py, resnet_ref.py).

Run one case per process so that its peak memory is its own:

    /usr/bin/python3 tools/bench/peer.py --case step128 --threads 2 --iters 5

It prints one JSON object on its last line of stdout. `ganshift bench` runs
it; it needs PyTorch (Debian's python3-torch 1.13 is what was measured).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import biggan_ref  # noqa: E402
import resnet_ref  # noqa: E402

# Block tables of biggan_ref's generator and discriminator, per resolution
# (biggan_ref holds the 128x128 ones as module constants).
LAYOUTS = {
    128: dict(G_IN=[16, 16, 8, 4, 2], G_OUT=[16, 8, 4, 2, 1], G_RES=[8, 16, 32, 64, 128],
              D_IN=[None, 1, 2, 4, 8, 16], D_OUT=[1, 2, 4, 8, 16, 16],
              D_DOWN=[True, True, True, True, True, False], D_RES=[64, 32, 16, 8, 4, 4]),
    32: dict(G_IN=[4, 4, 4], G_OUT=[4, 4, 4], G_RES=[8, 16, 32],
             D_IN=[None, 4, 4, 4], D_OUT=[4, 4, 4, 4],
             D_DOWN=[True, True, False, False], D_RES=[16, 8, 8, 8]),
}


def use_layout(res):
    for k, v in LAYOUTS[res].items():
        setattr(biggan_ref, k, v)


def init_weights(module, seed):
    """Random weights: normal with std 1/sqrt(fan_in) for matrices and
    kernels (torch.empty leaves them uninitialised)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)


class SmallCNN(nn.Module):
    """ganshift's small CNN: three conv3x3-relu-maxpool stages (16, 32, 64
    channels), a 128-unit hidden layer and the head."""

    def __init__(self, size, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(64 * (size // 8) ** 2, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def build_gan(res, ch, n_classes, dim_z, shared_dim, g_attn, d_attn):
    use_layout(res)
    G = biggan_ref.Generator(ch=ch, n_classes=n_classes, dim_z=dim_z, shared_dim=shared_dim, attn=tuple(g_attn))
    D = biggan_ref.Discriminator(ch=ch, n_classes=n_classes, attn=tuple(d_attn))
    init_weights(G, 1)
    init_weights(D, 2)
    return G, D


def step_setup(a):
    """G, D and the classifier of a fine-tuning step, D and C frozen."""
    if a.case.startswith("step128"):
        G, D = build_gan(128, a.width, 1000, 120, 128, [64], [64])
        C = resnet_ref.build(a.arch, classes=2, base=a.cls_width)
        size, dim_z, n_classes = 224, 120, 1000
    else:  # the demo's embedded 32x32 model and its small CNN
        G, D = build_gan(32, 8, 10, 64, 32, [16], [])
        C = SmallCNN(32, 2)
        size, dim_z, n_classes = 32, 64, 10
    init_weights(C, 3)
    for net in (D, C):
        net.eval()
        net.requires_grad_(False)
    G.train()  # batch statistics, as the fine-tuning step uses
    return G, D, C, size, dim_z, n_classes


def finetune_step(G, D, C, opt, size, dim_z, n_classes, batch, bf16=False):
    z = torch.randn(batch, dim_z)
    y = torch.randint(n_classes, (batch,))
    x = G(z, G.shared(y))
    xc = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) if x.shape[-1] != size else x
    # bf16: the frozen networks under CPU autocast, G and Adam in float32.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = C(xc).float()
        score = D(x, y).float()
    target = torch.ones(batch, dtype=torch.long)
    cls_loss = F.cross_entropy(logits, target)
    d_loss = -score.mean()
    loss = cls_loss + d_loss
    with torch.no_grad():
        prob = torch.softmax(logits, 1)[:, 1].mean()
    metrics = (loss.item(), cls_loss.item(), d_loss.item(), prob.item(), score.mean().item())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return metrics


def count_flops(fn):
    """FLOPs of fn's operators as torch.profiler counts them (convolutions,
    matrix products, elementwise mul/add)."""
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        fn()
    return sum(e.flops for e in prof.key_averages() if e.flops)


def step_flops(G, D, C, size, dim_z, n_classes, batch):
    """Forward FLOPs of G, D and C by the profiler, and the step's total
    estimated as 3x G's forward (backward: input and weight gradients) plus
    2x D's and C's (backward to the image only)."""
    z = torch.randn(batch, dim_z)
    y = torch.randint(n_classes, (batch,))
    with torch.no_grad():
        e = G.shared(y)
        fg = count_flops(lambda: G(z, e))
        x = G(z, e)
        xc = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) if x.shape[-1] != size else x
        fc = count_flops(lambda: C(xc))
        fd = count_flops(lambda: D(x, y))
    return dict(g_fwd=fg, d_fwd=fd, c_fwd=fc, step=3 * fg + 2 * (fd + fc))


def vm_hwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


CPU_TIMES = []


def timed(fn, warmup, iters):
    """Wall times of iters calls after warmup ones; their CPU times go to
    CPU_TIMES."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        CPU_TIMES.append(time.process_time() - c0)
    return times


def mapped_libs():
    """BLAS, oneDNN and OpenMP libraries in this process's memory map."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            base = os.path.basename(parts[5]).lower()
            if any(k in base for k in ("blas", "mkl", "dnnl", "omp", "lapack")) and parts[5] not in out:
                out.append(parts[5])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--case", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, default=9)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--cls-width", type=int, default=64)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--flops", action="store_true", help="also count the step's FLOPs (not timed)")
    p.add_argument("--bf16", action="store_true", help="step: run D and the classifier under bfloat16 autocast")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = dict(case=a.case, threads=torch.get_num_threads(), torch=torch.__version__)

    if a.case.startswith("step"):
        G, D, C, size, dim_z, n_classes = step_setup(a)
        opt = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-6)
        if a.flops:
            out["flops"] = step_flops(G, D, C, size, dim_z, n_classes, a.batch)
        times = timed(lambda: finetune_step(G, D, C, opt, size, dim_z, n_classes, a.batch, a.bf16), a.warmup, a.iters)
        out["per_iter"] = a.batch
    elif a.case.startswith("sample128"):
        G, _ = build_gan(128, a.width, 1000, 120, 128, [64], [64])
        G.eval()
        def sample():
            with torch.no_grad():
                z = torch.randn(a.batch, 120)
                y = torch.randint(1000, (a.batch,))
                return G(z, G.shared(y)).numpy()
        times = timed(sample, a.warmup, a.iters)
        out["per_iter"] = a.batch
    elif a.case == "cls32":
        C = SmallCNN(32, 10)
        init_weights(C, 3)
        C.train()
        opt = torch.optim.Adam(C.parameters(), lr=1e-3)
        x = torch.rand(a.batch, 3, 32, 32) * 2 - 1
        y = torch.randint(10, (a.batch,))
        def train_step():
            loss = F.cross_entropy(C(x), y)
            loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times = timed(train_step, a.warmup, a.iters)
        out["per_iter"] = a.batch
    elif a.case == "sgemm":
        x = torch.randn(a.size, a.size)
        w = torch.randn(a.size, a.size)
        times = timed(lambda: x @ w, a.warmup, a.iters)
        out["per_iter"] = 1
        out["flops"] = dict(step=2 * a.size ** 3)
        out["libs"] = mapped_libs()
        out["mkldnn"] = torch.backends.mkldnn.is_available()
    else:
        sys.exit(f"peer: unknown case {a.case}")
    out["times"] = times
    out["median_s"] = statistics.median(times)
    out["cpu_s"] = statistics.median(CPU_TIMES)
    out["peak_mb"] = vm_hwm_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
