"""Loads a ganshift model directory (from `ganshift export` or `import`) into
the PyTorch reference modules of biggan_ref.py, as a PyTorch user would load
it into BigGAN-PyTorch, and draws from it.

    /usr/bin/python3 tools/reference/load_export.py MODEL_DIR Z Y OUT

G.safetensors, G_ema.safetensors (when present) and D.safetensors are read
without the safetensors package (an 8-byte little-endian header length, a
JSON header, raw little-endian data) and loaded with
load_state_dict(strict=True), so a missing, extra or misshapen tensor fails.
Z holds raw little-endian float32 latents (n x dim_z), Y raw little-endian
int64 classes (n). OUT gets raw little-endian float32: G_ema's (else G's)
images in eval mode (n x 3 x R x R), then D's scores of them (n).
biggan_ref.py models the 128x128 layout only.
"""

import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import biggan_ref  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        out[key] = t.reshape(info["shape"]).clone()
    return out


def main():
    model_dir, z_path, y_path, out_path = sys.argv[1:5]
    with open(os.path.join(model_dir, "model.json")) as f:
        cfg = json.load(f)["config"]
    if cfg["resolution"] != 128:
        raise SystemExit(f"biggan_ref.py models 128x128 BigGANs, not {cfg['resolution']}")
    if cfg["sn_eps"] != biggan_ref.SN_EPS or cfg["bn_eps"] != biggan_ref.BN_EPS:
        raise SystemExit(f"eps {cfg['sn_eps']} / {cfg['bn_eps']} differ from the reference's")
    torch.set_grad_enabled(False)

    def new_g():
        return biggan_ref.Generator(cfg["g_ch"], cfg["n_classes"], cfg["dim_z"], cfg["shared_dim"],
                                    attn=tuple(cfg["g_attn"] or ()))

    G = new_g()
    G.load_state_dict(read_safetensors(os.path.join(model_dir, "G.safetensors")), strict=True)
    sampler = G
    ema_path = os.path.join(model_dir, "G_ema.safetensors")
    if os.path.exists(ema_path):
        sampler = new_g()
        sampler.load_state_dict(read_safetensors(ema_path), strict=True)
    D = biggan_ref.Discriminator(cfg["d_ch"], cfg["n_classes"], attn=tuple(cfg["d_attn"] or ()))
    D.load_state_dict(read_safetensors(os.path.join(model_dir, "D.safetensors")), strict=True)
    sampler.eval()
    D.eval()

    with open(z_path, "rb") as f:
        z = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    with open(y_path, "rb") as f:
        y = torch.frombuffer(bytearray(f.read()), dtype=torch.int64)
    z = z.reshape(y.shape[0], cfg["dim_z"])
    x = sampler(z, sampler.shared(y))
    scores = D(x, y).reshape(-1)
    with open(out_path, "wb") as f:
        f.write(x.contiguous().numpy().astype("<f4").tobytes())
        f.write(scores.contiguous().numpy().astype("<f4").tobytes())
    print(f"loaded {model_dir}: G {len(G.state_dict())} tensors, D {len(D.state_dict())}; drew {tuple(x.shape)}")


if __name__ == "__main__":
    main()
