"""Writes the ResNet fixtures of classifier/testdata.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 tools/reference/make_resnet_fixtures.py [OUT_DIR]

With the reference modules of resnet_ref.py (torchvision's layout, written
from its facts), it writes to OUT_DIR (default classifier/testdata):

  keys/ARCH.txt       the state-dict keys and shapes of full-size resnet18,
                      resnet50 and resnext101_32x8d ("name (d0, d1, ...)"),
                      built on the meta device, with their parameter counts

and to OUT_DIR/parity:

  resnet18_w8.pth     a ResNet-18 layout at base width 8 (planes 8..64),
                      5 classes, legacy torch.save format
  resnext50_w4.pth    a ResNeXt-50 layout at base width 4, 4 groups of
                      width 32/64 of the planes (a "resnext50_4x32d"; stage
                      widths 8..64, outputs 16..128), 3 classes, zip format
  x.npy               inputs (2, 3, 64, 64) float32 in [-1, 1]
  x48.npy             inputs (2, 3, 48, 48) float32 in [-1, 1]
  NAME_eval.npy       logits of x, eval mode (running statistics)
  NAME_resized.npy    logits of x48 resized bilinearly (align_corners
                      False) to 64x64, eval mode
  resnet18_w8_train.npy        logits of x in training mode (batch
                               statistics), one forward from the saved weights
  resnet18_w8_train_mean.npy   bn1.running_mean after that forward
  resnet18_w8_train_var.npy    layer4.1.bn2.running_var after it

and small broken files (base width 2) to OUT_DIR/pth:

  tiny_ok.pth         a valid ResNet-18 layout, 4 classes, zip
  bad_shape.pth       layer2.0.conv2.weight is (4, 2, 3, 3), not (4, 4, 3, 3)
  missing.pth         layer3.1.bn2.running_var left out
  extra.pth           an extra tensor layer4.0.conv3.weight
  counts.pth          layer3 has three blocks: no torchvision depth has that
  no_fc.pth           fc.weight and fc.bias left out

Every model's input is in [-1, 1], mapped to [0, 1] and normalised with
ImageNet's mean and std inside forward (resnet_ref.ResNet.forward), as
ganshift does. Weights are random and seeded; batch-norm running statistics
come from three training-mode passes over random inputs (cumulative
average), so they are non-trivial yet keep activations in range, and the
affine weights and biases are random too.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resnet_ref  # noqa: E402

KEY_ARCHS = ["resnet18", "resnet50", "resnext101_32x8d"]


def listing(arch):
    """The state-dict keys and shapes of the full-size arch, and its
    parameter count."""
    m = resnet_ref.build(arch, device="meta")
    lines = [f"# torchvision {arch} state dict (tools/reference/resnet_ref.py): name (shape)"]
    for k, v in m.state_dict().items():
        dims = ", ".join(str(d) for d in v.shape)
        if v.dim() == 1:
            dims += ","
        lines.append(f"{k} ({dims})")
    params = sum(p.numel() for p in m.parameters())
    lines.insert(1, f"# {params} parameters")
    return "\n".join(lines) + "\n", params


def randomise(model, gen, size):
    """Random conv/fc weights, BN affine parts, and running statistics from
    three training-mode passes."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 4:  # convolutions: He normal
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif name.startswith("fc."):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif name.endswith(".weight"):  # batch-norm gains
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
            else:  # batch-norm biases
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None  # cumulative average
            mod.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand((4, 3, size, size), generator=gen) * 2 - 1)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = 0.1  # torchvision's, for the training-mode fixture
    model.eval()


def npy(path, a):
    np.save(path, np.ascontiguousarray(a))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("classifier", "testdata")
    keys = os.path.join(out, "keys")
    parity = os.path.join(out, "parity")
    broken = os.path.join(out, "pth")
    for d in (keys, parity, broken):
        os.makedirs(d, exist_ok=True)

    for arch in KEY_ARCHS:
        text, params = listing(arch)
        with open(os.path.join(keys, arch + ".txt"), "w") as f:
            f.write(text)
        print(f"{arch}: {params} parameters")

    gen = torch.Generator().manual_seed(20240611)
    x = torch.rand((2, 3, 64, 64), generator=gen) * 2 - 1
    x48 = torch.rand((2, 3, 48, 48), generator=gen) * 2 - 1
    npy(os.path.join(parity, "x.npy"), x.numpy())
    npy(os.path.join(parity, "x48.npy"), x48.numpy())

    nets = [
        ("resnet18_w8", resnet_ref.ResNet(18, classes=5, base=8), False),
        ("resnext50_w4", resnet_ref.ResNet(50, groups=4, wpg=32, classes=3, base=4), True),
    ]
    for name, m, use_zip in nets:
        randomise(m, gen, 64)
        torch.save(m.state_dict(), os.path.join(parity, name + ".pth"),
                   _use_new_zipfile_serialization=use_zip)
        with torch.no_grad():
            npy(os.path.join(parity, name + "_eval.npy"), m(x).numpy())
            up = F.interpolate(x48, size=(64, 64), mode="bilinear", align_corners=False)
            npy(os.path.join(parity, name + "_resized.npy"), m(up).numpy())
        params = sum(p.numel() for p in m.parameters())
        print(f"{name}: {params} parameters, logits spread {m(x).abs().max().item():.3g}")

    # Training mode, from the saved weights: batch statistics, and the
    # running statistics it updates (momentum 0.1).
    name, m, _ = nets[0]
    m.train()
    with torch.no_grad():
        npy(os.path.join(parity, name + "_train.npy"), m(x).numpy())
    npy(os.path.join(parity, name + "_train_mean.npy"), m.bn1.running_mean.numpy())
    npy(os.path.join(parity, name + "_train_var.npy"), m.layer4[1].bn2.running_var.numpy())

    tiny = resnet_ref.ResNet(18, classes=4, base=2)
    randomise(tiny, gen, 32)
    sd = tiny.state_dict()
    torch.save(sd, os.path.join(broken, "tiny_ok.pth"))
    bad = dict(sd)
    bad["layer2.0.conv2.weight"] = torch.zeros(4, 2, 3, 3)
    torch.save(bad, os.path.join(broken, "bad_shape.pth"))
    missing = {k: v for k, v in sd.items() if k != "layer3.1.bn2.running_var"}
    torch.save(missing, os.path.join(broken, "missing.pth"))
    extra = dict(sd)
    extra["layer4.0.conv3.weight"] = torch.zeros(16, 16, 1, 1)
    torch.save(extra, os.path.join(broken, "extra.pth"))
    counts = dict(sd)
    for k, v in sd.items():
        if k.startswith("layer3.1."):
            counts["layer3.2." + k[len("layer3.1."):]] = v.clone()
    torch.save(counts, os.path.join(broken, "counts.pth"))
    no_fc = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    torch.save(no_fc, os.path.join(broken, "no_fc.pth"))


if __name__ == "__main__":
    main()
