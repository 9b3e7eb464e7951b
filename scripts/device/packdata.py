"""Lossless compact copy of benchmark packs for the 64 MiB device transfer.

Every image in these packs holds few distinct values (<= 65536), so it is stored as
an index array (uint8/uint16) plus its value table, with the original NIfTI header;
`unpack` rebuilds NIfTI files whose voxel values, dtype and affine are bit-identical
(checked by `pack` before it writes anything). Labels are copied as they are.
Used only to carry ../shared/data to a lent GPU machine; never committed data.
"""
from __future__ import annotations

import io
import lzma
import shutil
import sys
import tarfile
from pathlib import Path

import nibabel as nib
import numpy as np


def _encode(path: Path) -> bytes:
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    values, index = np.unique(data, return_inverse=True)
    if len(values) > 65536:
        raise ValueError(f"{path}: too many distinct values for a lossless index")
    index = index.reshape(data.shape).astype(np.uint8 if len(values) <= 256 else np.uint16)
    buf = io.BytesIO()
    np.savez(buf, index=index, values=values, header=np.frombuffer(img.header.binaryblock, np.uint8),
             affine=img.affine)
    raw = buf.getvalue()
    again = _decode(raw)
    assert again.get_fdata().shape == data.shape
    assert np.array_equal(np.asanyarray(again.dataobj), data) and np.asanyarray(again.dataobj).dtype == data.dtype
    assert np.array_equal(again.affine, img.affine)
    return raw


def _decode(raw: bytes) -> nib.Nifti1Image:
    z = np.load(io.BytesIO(raw))
    data = z["values"][z["index"]]
    header = nib.Nifti1Header(z["header"].tobytes())
    img = nib.Nifti1Image(data, z["affine"], header)
    img.set_data_dtype(data.dtype)
    return img


def pack(packs_root: Path, names: list[str], out: Path) -> None:
    with tarfile.open(out, "w:xz", preset=6) as tar:
        for name in names:
            root = packs_root / name
            for f in sorted(root.rglob("*")):
                if f.is_dir():
                    continue
                rel = f.relative_to(packs_root)
                if f.parent.name == "images":
                    raw = _encode(f)
                    info = tarfile.TarInfo(str(rel) + ".npz")
                    info.size = len(raw)
                    tar.addfile(info, io.BytesIO(raw))
                else:
                    tar.add(str(f), arcname=str(rel))


def unpack(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:xz") as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            raw = tar.extractfile(m).read()
            if m.name.endswith(".nii.gz.npz"):
                target = dest / m.name[: -len(".npz")]
                target.parent.mkdir(parents=True, exist_ok=True)
                nib.save(_decode(raw), str(target))
            else:
                target = dest / m.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(raw)


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        pack(Path(sys.argv[2]), sys.argv[4:], Path(sys.argv[3]))
    else:
        unpack(Path(sys.argv[2]), Path(sys.argv[3]))
