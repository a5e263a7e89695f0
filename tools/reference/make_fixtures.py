"""Writes the BigGAN parity fixtures of biggan/testdata/parity.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 tools/reference/make_fixtures.py [OUT_DIR [TINY_DIR]]

It builds a width-8 128x128 G and D of biggan_ref.py (10 classes, dim_z 60,
shared embedding 32, attention at 64 in both), gives every tensor a random,
non-trivial value (attention gammas, stored statistics, output-BN affine and
the spectral-norm u vectors included), and writes

    G.pth, D.pth        the state dicts, torch.save LEGACY format, storages
                        tagged "cuda:0" as in the released BigGAN files
    G_zip.pth           G again, zip format, tagged "cpu"
    G_train_buffers.pth G's buffers (u0, sv0, stored_mean, stored_var) after
                        the one training-mode forward of g_train.npy
    z.npy, y.npy        fixed latents (2, 60) float32 and classes (2,) int64
    g_eval.npy          G(z, shared(y)) with stored statistics (2, 3, 128, 128)
    g_train.npy         the same with batch statistics, one forward from the
                        saved weights
    blend_y.npy         class pairs (2, 2) int64; blend_alpha.npy the weight a
    g_blend.npy         G(z, (1-a)·shared(pair[0]) + a·shared(pair[1])), eval
    d_eval.npy          D(g_eval, y), (2, 1)

and, in biggan/testdata/pth, tiny networks (width 1, 3 classes, dim_z 12,
shared embedding 4, no attention) for the loader's tests:

    tiny_G_module_zip.pth  G, zip format, keys prefixed "module."
    tiny_D.pth             D, legacy format
    tiny_G_bad_shape.pth   G whose blocks.1.0.conv2.weight is (8, 8, 1, 3)
    tiny_G_truncated.pth   G, legacy format, cut short in its data
"""

import copy
import io
import os
import sys

import numpy as np
import torch
import torch.serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import biggan_ref  # noqa: E402

WIDTH, CLASSES, DIM_Z, SHARED = 8, 10, 60, 32


def randomise(module, gen):
    """Overwrite every tensor of module with random, non-trivial values."""
    for name, t in module.state_dict().items():
        leaf = name.rsplit(".", 1)[-1]
        shape = t.shape
        if leaf == "weight":
            fan_in = max(1, t[0].numel()) if t.dim() > 1 else 1
            v = torch.randn(shape, generator=gen) / fan_in ** 0.5
            if name == "shared.weight":
                v = torch.randn(shape, generator=gen)
        elif leaf == "gain":      # output BN, used as is; small keeps tanh unsaturated
            v = 0.3 + 0.2 * torch.rand(shape, generator=gen)
        elif leaf == "bias":
            v = 0.1 * torch.randn(shape, generator=gen)
        elif leaf == "gamma":     # nonzero, so attention shows
            v = 0.5 + torch.rand(shape, generator=gen)
        elif leaf == "u0":        # deliberately not unit length
            v = 2 * torch.randn(shape, generator=gen)
        elif leaf == "sv0":
            v = 1 + torch.rand(shape, generator=gen)
        elif leaf == "stored_mean":
            v = 0.3 * torch.randn(shape, generator=gen)
        elif leaf == "stored_var":
            v = 0.5 + torch.rand(shape, generator=gen)
        else:
            raise SystemExit(f"no rule for {name}")
        with torch.no_grad():
            t.copy_(v)


def save_legacy_as_cuda(obj, path):
    """torch.save in the legacy format with every storage tagged cuda:0, as
    a state dict saved from a GPU is, without needing a GPU."""
    real = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    finally:
        torch.serialization.location_tag = real
    with open(path, "rb") as f:
        assert b"cuda:0" in f.read(), "location patch had no effect"


def check_same(path, state):
    back = torch.load(path, map_location="cpu")
    assert list(back) == list(state), path
    for k in state:
        assert torch.equal(back[k], state[k]), (path, k)


def tiny_files(out, gen):
    os.makedirs(out, exist_ok=True)
    G = biggan_ref.Generator(1, 3, 12, 4, attn=())
    D = biggan_ref.Discriminator(1, 3, attn=())
    randomise(G, gen)
    randomise(D, gen)
    gs, ds = G.state_dict(), D.state_dict()
    torch.save({"module." + k: v for k, v in gs.items()}, os.path.join(out, "tiny_G_module_zip.pth"))
    torch.save(ds, os.path.join(out, "tiny_D.pth"), _use_new_zipfile_serialization=False)
    bad = dict(gs)
    assert tuple(bad["blocks.1.0.conv2.weight"].shape) == (8, 8, 3, 3)
    bad["blocks.1.0.conv2.weight"] = torch.randn(8, 8, 1, 3, generator=gen)
    torch.save(bad, os.path.join(out, "tiny_G_bad_shape.pth"), _use_new_zipfile_serialization=False)
    buf = io.BytesIO()
    torch.save(gs, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    with open(os.path.join(out, "tiny_G_truncated.pth"), "wb") as f:
        f.write(data[: len(data) * 3 // 4])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "biggan/testdata/parity"
    tiny_out = sys.argv[2] if len(sys.argv) > 2 else "biggan/testdata/pth"
    os.makedirs(out, exist_ok=True)
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(20190328)

    G = biggan_ref.Generator(WIDTH, CLASSES, DIM_Z, SHARED, attn=(64,))
    D = biggan_ref.Discriminator(WIDTH, CLASSES, attn=(64,))
    randomise(G, gen)
    randomise(D, gen)
    G.eval()
    D.eval()

    gs = {k: v.clone() for k, v in G.state_dict().items()}
    ds = {k: v.clone() for k, v in D.state_dict().items()}
    save_legacy_as_cuda(gs, os.path.join(out, "G.pth"))
    save_legacy_as_cuda(ds, os.path.join(out, "D.pth"))
    torch.save(gs, os.path.join(out, "G_zip.pth"))
    for name, s in (("G.pth", gs), ("D.pth", ds), ("G_zip.pth", gs)):
        check_same(os.path.join(out, name), s)

    z = torch.randn(2, DIM_Z, generator=gen)
    y = torch.tensor([3, 8])
    pairs = torch.tensor([[3, 7], [5, 1]])
    alpha = torch.tensor(0.3)

    g_eval = G(z, G.shared(y))
    e = (1 - alpha) * G.shared(pairs[:, 0]) + alpha * G.shared(pairs[:, 1])
    g_blend = G(z, e)
    d_eval = D(g_eval, y)

    Gt = copy.deepcopy(G).train()
    g_train = Gt(z, Gt.shared(y))
    bufs = {k: v.clone() for k, v in Gt.state_dict().items()
            if k.rsplit(".", 1)[-1] in ("u0", "sv0", "stored_mean", "stored_var")}
    torch.save(bufs, os.path.join(out, "G_train_buffers.pth"), _use_new_zipfile_serialization=False)

    # Sanity: the fixtures must be able to show errors.
    assert (g_eval - g_train).abs().max() > 1e-2
    assert (g_eval - g_blend).abs().max() > 1e-2
    for img in (g_eval, g_train, g_blend):
        assert (img.abs() > 0.99).float().mean() < 0.01, "saturated output hides differences"
    for k in bufs:
        if k.endswith("u0"):
            assert not torch.equal(bufs[k], gs[k]), k

    arrays = {
        "z": z.numpy().astype(np.float32),
        "y": y.numpy().astype(np.int64),
        "g_eval": g_eval.numpy(),
        "g_train": g_train.numpy(),
        "blend_y": pairs.numpy().astype(np.int64),
        "blend_alpha": np.array(alpha.item(), dtype=np.float32),
        "g_blend": g_blend.numpy(),
        "d_eval": d_eval.numpy(),
    }
    for name, a in arrays.items():
        np.save(os.path.join(out, name + ".npy"), a)
    tiny_files(tiny_out, gen)
    print("wrote", out, {k: tuple(a.shape) for k, a in arrays.items()})
    print("G", sum(v.numel() for v in gs.values()), "values; D", sum(v.numel() for v in ds.values()))
    print("g_eval range", g_eval.min().item(), g_eval.max().item(), "d_eval", d_eval.flatten().tolist())


if __name__ == "__main__":
    main()
