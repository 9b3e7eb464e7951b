"""PNG thumbnails of a study (optionally with its mask), for the cohort review table."""

from __future__ import annotations

import io
import shutil
from typing import cast

import nibabel as nib
import numpy as np
from PIL import Image

from store import volumes
from store.models import Mask, Study
from store.settings import get_settings
from store.storage import get_store


def _hex(c: str) -> tuple[int, int, int]:
    c = c.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)) if len(c) >= 6 else (255, 0, 0)


def render_slice(image: np.ndarray, labels: np.ndarray | None, colors: dict[str, str], size: int) -> bytes:
    """image/labels: (X, Y) of one axial slice in nibabel voxel order -> PNG bytes (anterior up)."""
    lo, hi = np.percentile(image, [0.5, 99.5])
    g = np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat((g * 255).astype(np.uint8)[..., None], 3, axis=2).astype(np.float32)
    if labels is not None:
        for k, c in colors.items():
            m = labels == int(k)
            if m.any():
                rgb[m] = 0.45 * rgb[m] + 0.55 * np.array(_hex(c), dtype=np.float32)
    pic = Image.fromarray(np.rot90(rgb.astype(np.uint8)))
    pic.thumbnail((size, size))
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return buf.getvalue()


def thumbnail(study: Study, mask: Mask | None, colors: dict[str, str], size: int = 160) -> bytes:
    tmp = volumes.scratch_dir(get_settings().work / "render")
    try:
        store = get_store()
        img = np.asanyarray(cast(nib.Nifti1Image, nib.load(str(store.get_to_path(study.volume_key, tmp / "v.nii.gz")))).dataobj).astype(np.float32)
        lab = None
        if mask is not None:
            lab = np.asanyarray(cast(nib.Nifti1Image, nib.load(str(store.get_to_path(mask.key, tmp / "m.nii.gz")))).dataobj)
            area = (lab > 0).sum(axis=(0, 1))
            z = int(np.argmax(area)) if area.max() > 0 else img.shape[2] // 2
        else:
            z = img.shape[2] // 2
        return render_slice(img[:, :, z], None if lab is None else lab[:, :, z], colors, size)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
