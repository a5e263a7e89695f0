"""Writes the small .pth files of checkpoint/testdata/pth, valid and broken,
that checkpoint's LoadPth tests read. Run from the repository root:

    /usr/bin/python3 tools/reference/make_pth_fixtures.py

The expected values are written out in checkpoint/pth_test.go. The values
are fixed; the bytes of the legacy files are not, since torch names legacy
storages by their memory address.
"""

import collections
import io
import os
import pickle
import zipfile

import torch
import torch.serialization

OUT = "checkpoint/testdata/pth"


def mixed(prefix):
    """A state dict of every dtype and layout the reader converts."""
    base = torch.arange(10, dtype=torch.float32)
    a = torch.tensor([[1, -2, 0.25], [3.5, 0, -0.125]])
    d = collections.OrderedDict()
    d["a"] = a
    d["t"] = a.t()                    # non-contiguous: stride (1, 3)
    d["base"] = base
    d["v"] = base[4:8].view(2, 2)     # shares base's storage at offset 4
    d["h"] = torch.tensor([1, -2, 65504, 2 ** -24], dtype=torch.float16)
    d["bf"] = torch.tensor([1, -0.5], dtype=torch.bfloat16)
    d["f64"] = torch.tensor([0.1, -1e10, 3], dtype=torch.float64)
    d["n"] = torch.tensor(7, dtype=torch.int64)   # like num_batches_tracked
    d["s"] = torch.tensor(0.5)                    # a scalar, shape ()
    d["e"] = torch.zeros(0, 3)
    return collections.OrderedDict((prefix + k, v) for k, v in d.items())


def save_as_cuda(obj, path, **kw):
    real = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path, _use_new_zipfile_serialization=False, **kw)
    finally:
        torch.serialization.location_tag = real


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda name: os.path.join(OUT, name)

    # Valid files.
    save_as_cuda(mixed("module."), p("legacy_cuda.pth"))
    torch.save(mixed(""), p("zip.pth"))
    torch.save({"w": torch.tensor([[1.5, -1.5]])}, p("legacy_dict_proto4.pth"),
               _use_new_zipfile_serialization=False, pickle_protocol=4)

    # Broken files.
    with open(p("legacy_cuda.pth"), "rb") as f:
        legacy = f.read()
    write("truncated_legacy.pth", legacy[: len(legacy) - 20])
    with open(p("zip.pth"), "rb") as f:
        z = f.read()
    write("truncated_zip.pth", z[: len(z) // 2])

    one = io.BytesIO()
    torch.save({"w": torch.arange(6, dtype=torch.float32)}, one, _use_new_zipfile_serialization=False)
    one = bytearray(one.getvalue())
    # The file ends with the storage: int64 element count, then 6 floats.
    assert int.from_bytes(one[-32:-24], "little") == 6
    one[-32:-24] = (7).to_bytes(8, "little")
    write("wrong_count.pth", bytes(one))

    torch.save([torch.ones(2)], p("list.pth"), _use_new_zipfile_serialization=False)
    torch.save({"w": torch.ones(2), "step": 5}, p("not_tensor.pth"), _use_new_zipfile_serialization=False)
    write("bad_magic.pth", pickle.dumps(12345, protocol=2) + b"\0" * 16)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("archive/other.txt", date_time=(2019, 3, 28, 0, 0, 0)), "no pickle here")
    write("zip_no_pickle.pth", buf.getvalue())

    # Check the valid ones with torch itself.
    for name in ("legacy_cuda.pth", "zip.pth"):
        back = torch.load(p(name), map_location="cpu")
        want = mixed("module." if name.startswith("legacy") else "")
        assert list(back) == list(want)
        for k in want:
            assert torch.equal(back[k], want[k]), (name, k)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
