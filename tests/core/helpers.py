"""Small synthetic volumes for core tests, and where the real CHAOS cases are."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[2]
_SHARED_CHAOS = REPO.parent / "shared" / "data" / "chaos_mr_t2"
#: real CHAOS MR cases: the shared pack next to the repository, else the bundled samples
#: (the same CHAOS files, unchanged, cases 01/02/03/05), so a clone anywhere has them
CHAOS = (_SHARED_CHAOS if (_SHARED_CHAOS / "dataset.json").exists()
         else REPO / "samples" / "chaos_mr_t2")


def oblique_affine(spacing=(1.5, 1.2, 4.0), angle_deg: float = 20.0) -> np.ndarray:
    """A non-trivial voxel->RAS affine: rotation about z, flipped x, anisotropic spacing."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    flip = np.diag([-1.0, 1.0, 1.0])
    aff = np.eye(4)
    aff[:3, :3] = rot @ flip @ np.diag(spacing)
    aff[:3, 3] = (12.5, -40.0, 7.0)
    return aff


def blob_case(shape=(40, 36, 8), shift=(0, 0), seed: int = 0, noise: float = 0.03
              ) -> tuple[np.ndarray, np.ndarray]:
    """A body ellipse with two organs: image (X, Y, Z) float32 MR-like, label uint8."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    cx, cy = shape[0] / 2 + shift[0], shape[1] / 2 + shift[1]
    body = ((x - cx) / (shape[0] * 0.42)) ** 2 + ((y - cy) / (shape[1] * 0.42)) ** 2 < 1
    organ1 = ((x - cx + 6) / 6) ** 2 + ((y - cy) / 7) ** 2 < 1
    organ2 = ((x - cx - 8) / 3.5) ** 2 + ((y - cy - 3) / 3.5) ** 2 < 1
    zmask = (z >= 1) & (z <= shape[2] - 2)
    label = np.zeros(shape, np.uint8)
    label[organ1 & zmask] = 1
    label[organ2 & zmask] = 2
    image = np.where(body, 300.0, 5.0)
    image = np.where(label == 1, 700.0, image)
    image = np.where(label == 2, 150.0, image)
    image = image * (1 + noise * rng.standard_normal(shape))
    return image.astype(np.float32), label


def write_case(folder: Path, name: str, image: np.ndarray, label: np.ndarray | None,
               affine: np.ndarray) -> tuple[Path, Path | None]:
    folder.mkdir(parents=True, exist_ok=True)
    ip = folder / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(image, affine), str(ip))
    lp = None
    if label is not None:
        lp = folder / f"{name}_label.nii.gz"
        nib.save(nib.Nifti1Image(label, affine), str(lp))
    return ip, lp
