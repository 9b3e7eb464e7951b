"""Inference: :class:`Predictor` (load once, predict many) and :class:`Prediction`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from elsnet_core.artifact import Plan, load_model
from elsnet_core.config import ElsnetConfig
from elsnet_core.io import Volume, load_volume
from elsnet_core.preprocess import WorkingGrid, normalize_intensity
from elsnet_core.training import autocast_ctx

log = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> cuda when available else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from elsnet_core.errors import InvalidInput

        raise InvalidInput("device='cuda' requested but no CUDA device is available")
    if device not in ("cpu", "cuda"):
        from elsnet_core.errors import InvalidInput

        raise InvalidInput(f"unknown device {device!r} (use auto, cpu or cuda)")
    return torch.device(device)


def context_stack(volume: np.ndarray, context: int) -> np.ndarray:
    """(Z, S, S) -> (Z, 2*context+1, S, S): each slice with its clamped neighbours."""
    z = volume.shape[0]
    idx = np.clip(np.arange(z)[:, None] + np.arange(-context, context + 1)[None], 0, z - 1)
    return volume[idx]


def _scaled_size(size: int, factor: float, multiple: int = 16) -> int:
    """In-plane size for a test-time zoom by ``factor``, a multiple of the U-Net's stride."""
    return max(multiple, round(size * factor / multiple) * multiple)


@torch.no_grad()
def infer_probs(model: torch.nn.Module, volume: np.ndarray, context: int, device: torch.device,
                *, tta: bool = False, amp: bool = True, batch: int = 16,
                scales: tuple[float, ...] = ()) -> torch.Tensor:
    """Class probabilities of a working volume.

    volume: (Z, S, S) float32 in [0, 1]. Returns (Z, C, S, S) float32 on CPU.
    TTA averages the plain prediction with the one on the slice-order-reversed context
    (trained for; in-plane mirror flips are NOT used since they swap left/right organs).
    ``scales``: extra in-plane zoom factors (e.g. 0.875, 1.125: within the training's scale
    augmentation); each is predicted on the zoomed slices, resampled back and averaged in.
    """
    model.eval()
    x_all = torch.from_numpy(np.ascontiguousarray(context_stack(volume, context))).float()
    size = tuple(x_all.shape[-2:])

    def probs(x: torch.Tensor) -> torch.Tensor:
        with autocast_ctx(device, amp):
            p = model(x).float().softmax(dim=1)
            if tta and context > 0:
                p = 0.5 * (p + model(x.flip(1)).float().softmax(dim=1))
        return p

    out = []
    for s in range(0, x_all.shape[0], batch):
        x = x_all[s : s + batch].to(device)
        p = probs(x)
        for f in scales:
            zoomed = (_scaled_size(size[0], f), _scaled_size(size[1], f))
            if zoomed == size:
                continue
            xs = F.interpolate(x, size=zoomed, mode="bilinear", align_corners=False)
            p = p + F.interpolate(probs(xs), size=size, mode="bilinear", align_corners=False)
        out.append((p / p.sum(dim=1, keepdim=True)).cpu())
    return torch.cat(out)


# A component at least this share of the organ's largest one is a contender for it (below).
CONTENDER_RATIO = 0.5


def largest_component_per_class(labels: np.ndarray, fill: int = 0,
                                contenders: bool = False) -> np.ndarray:
    """Keep one 26-connected 3D component of every organ class (1..254); voxels of the other
    components become ``fill``. labels: 3D uint8 (any axis order).

    The largest component is kept, unless ``contenders``: then, among the components at least
    ``CONTENDER_RATIO`` of the largest one's size, the one whose centre is nearest (in voxels)
    to the centre of all other organs' voxels is kept. A network trained on an exemplar that
    does not reach the pelvis can call a pelvic structure "kidney" as confidently and on as many
    voxels as the real kidney it also finds; size alone then keeps the wrong one (synapse_ct,
    exemplar case_04: three kidneys lost that way, docs/benchmarks.md, Session 19), while the
    other organs say where the abdomen is. A clear winner by size (the others below half of it)
    is kept as before.
    """
    out = labels.copy()
    struct = np.ones((3, 3, 3), dtype=bool)
    organs = (labels != 0) & (labels != 255) if contenders else None
    for c in np.unique(labels):
        if c == 0 or c == 255:  # background, not annotated
            continue
        mask = labels == c
        lab, n = ndimage.label(mask, structure=struct)
        if n <= 1:
            continue
        sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
        keep = int(np.argmax(sizes)) + 1
        if organs is not None:
            rivals = [i + 1 for i in range(n) if sizes[i] >= CONTENDER_RATIO * sizes.max()]
            rest = organs & ~mask
            if len(rivals) > 1 and rest.any():
                ref = np.array(ndimage.center_of_mass(rest))
                centres = ndimage.center_of_mass(mask, lab, rivals)
                keep = rivals[int(np.argmin([np.linalg.norm(np.array(x) - ref) for x in centres]))]
        out[mask & (lab != keep)] = fill
    return out


@dataclass(frozen=True)
class Prediction:
    """labels: (X, Y, Z) uint8, exactly the input's shape; affine: (4, 4) == input affine.

    confidence: mean max-probability over the predicted organ voxels (0 if none), in [0, 1].
    class_volumes_ml: predicted volume in millilitres per class present (1..K).
    """

    labels: np.ndarray
    affine: np.ndarray
    confidence: float
    class_volumes_ml: dict[int, float]


def predict_volume(model: torch.nn.Module, cfg: ElsnetConfig, plan: Plan, image: np.ndarray,
                   affine: np.ndarray, device: torch.device, *, tta: bool | None = None,
                   lcc: bool | None = None) -> tuple[Prediction, np.ndarray]:
    """Segment one study. image: (X, Y, Z) any numeric dtype, affine (4, 4) voxel->RAS mm.

    Returns the Prediction and the max-probability map (X, Y, Z) float32.
    """
    affine = np.asarray(affine, dtype=np.float64)
    image = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    norm = normalize_intensity(image, plan.modality, cfg.ct_window, cfg.mr_percentiles)
    grid = WorkingGrid.plan(affine, norm.shape, norm, cfg.size, plan.pixel_mm,
                            (plan.offset_mm[0], plan.offset_mm[1]))
    work = grid.to_working(norm)
    probs = infer_probs(model, work, cfg.context, device,
                        tta=cfg.tta if tta is None else tta, amp=cfg.amp)
    labels, conf = grid.probs_to_original(probs)
    if cfg.lcc if lcc is None else lcc:
        labels = largest_component_per_class(labels, contenders=True)
    fg = labels > 0
    confidence = float(conf[fg].mean()) if fg.any() else 0.0
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    counts = np.bincount(labels.reshape(-1), minlength=plan.n_classes)
    volumes = {int(c): float(counts[c] * voxel_ml) for c in range(1, len(counts)) if counts[c]}
    return Prediction(labels, affine, confidence, volumes), conf


class Predictor:
    """Loads a model artefact once and segments many studies.

    >>> p = Predictor.load("model_dir")          # doctest: +SKIP
    >>> pred = p.predict_file("study.nii.gz")    # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, cfg: ElsnetConfig, plan: Plan,
                 labels: dict[int, str], device: torch.device, meta: dict | None = None) -> None:
        self.model = model
        self.cfg = cfg
        self.plan = plan
        self.labels = labels
        self.device = device
        self.meta = meta or {}

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto") -> Predictor:
        dev = resolve_device(device)
        model, cfg, plan, labels, meta = load_model(Path(model_dir), dev)
        return cls(model, cfg, plan, labels, dev, meta)

    def predict_array(self, image: np.ndarray, affine: np.ndarray) -> Prediction:
        """image: (X, Y, Z) nibabel voxel order; affine: (4, 4) voxel -> RAS+ mm."""
        from elsnet_core.errors import InvalidVolume

        image = np.asarray(image)
        if image.ndim != 3:
            raise InvalidVolume(f"expected a 3D (X, Y, Z) image, got shape {image.shape}")
        return predict_volume(self.model, self.cfg, self.plan, image, affine, self.device)[0]

    def predict_volume(self, volume: Volume) -> Prediction:
        return self.predict_array(volume.array, volume.affine)

    def predict_file(self, path: str | Path) -> Prediction:
        """NIfTI file or DICOM series folder -> Prediction on that file's grid."""
        return self.predict_volume(load_volume(path))
