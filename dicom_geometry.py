"""Geometry of one DICOM series, checked from its headers before it becomes a volume.

SimpleITK reads a series whatever its slices are: with a slice missing, slices unevenly
spaced, several echoes or phases at each position, or a gantry tilt it logs a warning at most
and returns a volume with the wrong geometry (masks misplaced, organ volumes wrong). The checks
here refuse such a series with a message that says what to send instead, and read what can be
read right: localizer (scout) images mixed into a series are left out, and an enhanced
(multi-frame) image, whose per-frame positions SimpleITK does not use, is read here.

Both ``store/`` (uploads) and ``elsnet_core`` (CLI on DICOM folders) call this module; it sits
below both and imports numpy and pydicom only (SimpleITK inside :func:`read_series`), so the
API process stays free of torch and elsnet_core of the service.

Geometry in DICOM terms: patient LPS millimetres; ImagePositionPatient is the centre of a
slice's first voxel; the slice normal is cross(row direction, column direction) of
ImageOrientationPatient. A slice's position along the series is its position projected on the
normal.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

if TYPE_CHECKING:
    import SimpleITK

log = logging.getLogger(__name__)

MIN_SLICES = 3
SAME_POSITION_MM = 0.01  # two images closer than this along the normal lie at one position
SPACING_TOLERANCE = 0.10  # a gap may differ from the median gap by 10% of it ...
SPACING_TOLERANCE_MM = 0.05  # ... or by 0.05 mm, whichever is larger
MAX_TILT_DEG = 0.5  # the step between slices may deviate this much from the slice normal
ORIENTATION_TOLERANCE = 1e-3  # ImageOrientationPatient components (~0.06 deg)

#: what tells apart the images that lie at one position (single-frame keyword first, then the
#: functional-group keywords of enhanced images)
DISTINGUISHING = (
    "TriggerTime", "NominalCardiacTriggerDelayTime", "EchoTime", "EffectiveEchoTime",
    "TemporalPositionIdentifier", "TemporalPositionIndex", "AcquisitionNumber", "DiffusionBValue",
)


class SeriesError(ValueError):
    """The files are not one usable volume series; the message says what to send instead."""


@dataclass(frozen=True)
class Frame:
    """One image of a series: a single-frame file (``index`` None) or one frame of an
    enhanced multi-frame file (``index`` = 0-based frame number)."""

    path: Path
    index: int | None
    position: np.ndarray  # (3,) float64, LPS mm, centre of the first voxel
    orientation: np.ndarray  # (6,) float64, row then column direction cosines (LPS)
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # (between rows, between columns) mm, as in DICOM
    rescale: tuple[float, float]  # (slope, intercept)
    localizer: bool
    attributes: dict[str, str] = field(default_factory=dict)  # DISTINGUISHING values it has


@dataclass(frozen=True)
class SeriesGeometry:
    """A series that passed the checks: its frames in slice order (ascending along the normal)."""

    frames: list[Frame]
    slice_spacing: float  # mm between consecutive slices along the normal
    normal: np.ndarray  # (3,) unit slice normal, LPS

    @property
    def files(self) -> list[Path]:
        """The files that make the volume, in slice order (each file once)."""
        return list(dict.fromkeys(f.path for f in self.frames))

    @property
    def enhanced(self) -> bool:
        """True when any image is a frame of an enhanced (multi-frame) file."""
        return any(f.index is not None for f in self.frames)


@dataclass(frozen=True)
class SeriesVolume:
    """Voxels and geometry of a series in SimpleITK's (ITK, LPS) convention.

    array: (Z, Y, X) = (slice, row, column), rescaled values; origin: (3,) LPS mm of voxel
    (0, 0, 0); spacing: (column, row, slice) mm; direction: 3x3 row-major, columns = row
    direction, column direction, slice normal.
    """

    array: np.ndarray
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[float, ...]


def group_series(files: list[Path]) -> dict[str, list[Path]]:
    """DICOM files by SeriesInstanceUID; files that are not DICOM or lack the UID are left out."""
    series: dict[str, list[Path]] = defaultdict(list)
    for f in files:
        try:
            ds = pydicom.dcmread(str(f), stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
        except (InvalidDicomError, OSError, EOFError, ValueError, AttributeError):
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "")
        if uid:
            series[uid].append(f)
    return dict(series)


def slice_frames(files: list[Path]) -> list[Frame]:
    """One series' images (headers only) in slice order, ascending along the slice normal of
    the first; localizer images left out (logged), an instance sent twice counted once.
    Nothing else is checked (see :func:`check_series`)."""
    frames = _frames(files)
    localizers = [f for f in frames if f.localizer]
    if localizers:
        frames = [f for f in frames if not f.localizer]
        if not frames:
            raise SeriesError("the series holds only localizer (scout) images; send the image series itself")
        log.info("left out %d localizer image(s) of the series", len(localizers))
    normal = _normal(frames[0])
    return sorted(frames, key=lambda f: float(normal @ f.position))


def check_series(files: list[Path]) -> SeriesGeometry:
    """Check one series' headers (no pixel data read) and return its frames in slice order.

    Refuses (``SeriesError``) several orientations or image sizes, several images at one
    position, fewer than ``MIN_SLICES`` slices, a gantry tilt, and missing or unevenly spaced
    slices. Localizer images are left out (logged); a file sent twice counts once.
    """
    frames = slice_frames(files)
    _check_one_stack(frames)
    normal = _normal(frames[0])
    along = np.array([float(normal @ f.position) for f in frames])
    _check_one_image_per_position(frames, along)
    if len(frames) < MIN_SLICES:
        raise SeriesError(
            f"the series has {len(frames)} slice(s); a 3D volume needs at least {MIN_SLICES}: "
            "send every slice of the series (or a NIfTI volume)"
        )
    _check_no_tilt(frames, normal)
    spacing = _check_even_spacing(along)
    return SeriesGeometry(frames=frames, slice_spacing=spacing, normal=normal)


def read_series(geometry: SeriesGeometry) -> SimpleITK.Image:
    """The series as a SimpleITK image (LPS geometry, as SimpleITK gives it).

    Single-frame series go through SimpleITK's ImageSeriesReader, as always; enhanced images
    are assembled by :func:`assemble_frames` (SimpleITK ignores their per-frame positions).
    SimpleITK's ``RuntimeError`` (undecodable pixels) passes through.
    """
    import SimpleITK as sitk

    if not geometry.enhanced:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames([str(p) for p in geometry.files])
        return reader.Execute()
    vol = assemble_frames(geometry)
    image = sitk.GetImageFromArray(vol.array)
    image.SetOrigin(vol.origin)
    image.SetSpacing(vol.spacing)
    image.SetDirection(vol.direction)
    return image


def assemble_frames(geometry: SeriesGeometry) -> SeriesVolume:
    """Pixel data of every frame (pydicom), rescaled and stacked in slice order, with the
    geometry of :func:`check_series`: what ImageSeriesReader gives for the same images as
    single-frame files."""
    pixels: dict[Path, np.ndarray] = {}
    slices = []
    for f in geometry.frames:
        if f.path not in pixels:
            ds = pydicom.dcmread(str(f.path))
            if int(getattr(ds, "SamplesPerPixel", 1) or 1) != 1:
                raise SeriesError("the series holds colour images; send a greyscale CT or MR series")
            try:
                pixels[f.path] = np.asarray(ds.pixel_array)
            except Exception as exc:  # pydicom raises many types for undecodable data
                raise SeriesError(
                    f"the pixel data of an enhanced image cannot be decoded ({exc}); send it "
                    "uncompressed (Explicit VR Little Endian)"
                ) from exc
        data = pixels[f.path]
        slices.append(data[f.index] if f.index is not None and data.ndim == 3 else data)
    stored = np.stack(slices)
    slopes = np.array([f.rescale[0] for f in geometry.frames])
    intercepts = np.array([f.rescale[1] for f in geometry.frames])
    array: np.ndarray
    if np.all(slopes == 1) and np.all(intercepts == 0):
        array = stored
    else:
        values = stored * slopes[:, None, None] + intercepts[:, None, None]
        integral = np.all(np.mod(slopes, 1) == 0) and np.all(np.mod(intercepts, 1) == 0)
        array = values.astype(np.int32 if integral else np.float64)
    first, last = geometry.frames[0], geometry.frames[-1]
    n = len(geometry.frames)
    slice_spacing = float(geometry.normal @ (last.position - first.position)) / (n - 1)
    direction = np.column_stack([first.orientation[:3], first.orientation[3:], geometry.normal])
    return SeriesVolume(
        array=np.ascontiguousarray(array),
        origin=tuple(float(v) for v in first.position),  # type: ignore[arg-type]
        spacing=(first.pixel_spacing[1], first.pixel_spacing[0], slice_spacing),
        direction=tuple(float(v) for v in direction.ravel()),
    )


# reading the headers ----------------------------------------------------------------------
def _frames(files: list[Path]) -> list[Frame]:
    frames: list[Frame] = []
    seen: set[str] = set()
    for path in files:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        uid = str(getattr(ds, "SOPInstanceUID", "") or "")
        if uid and uid in seen:
            log.info("the series holds instance %s twice; reading it once", uid)
            continue
        seen.add(uid)
        if "PerFrameFunctionalGroupsSequence" in ds:
            frames.extend(_enhanced_frames(path, ds))
        else:
            frames.append(_frame(path, None, ds, ds, ds, ds, _attributes([ds])))
    return frames


def _enhanced_frames(path: Path, ds: Dataset) -> list[Frame]:
    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else Dataset()
    out = []
    for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        def group(keyword: str, item: Dataset = item) -> Dataset:
            for source in (item, shared_item):
                if keyword in source and len(source[keyword].value):
                    return source[keyword].value[0]
            return Dataset()

        rescale = group("PixelValueTransformationSequence")
        out.append(_frame(
            path, i, ds, group("PlanePositionSequence"), group("PlaneOrientationSequence"),
            group("PixelMeasuresSequence"), _attributes([item, shared_item]),
            rescale if "RescaleSlope" in rescale else ds,
        ))
    return out


def _frame(path: Path, index: int | None, ds: Dataset, position: Dataset, orientation: Dataset,
           measures: Dataset, attributes: dict[str, str], rescale: Dataset | None = None) -> Frame:
    missing = [kw for kw, src in (("ImagePositionPatient", position), ("ImageOrientationPatient", orientation),
                                  ("PixelSpacing", measures), ("Rows", ds), ("Columns", ds))
               if not src.get(kw)]
    if missing:
        raise SeriesError(
            f"an image of the series has no {', '.join(missing)}: it carries no 3D geometry; "
            "send a CT or MR image series (or a NIfTI volume)"
        )
    rescale = ds if rescale is None else rescale
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    return Frame(
        path=path, index=index,
        position=np.asarray(position.ImagePositionPatient, dtype=np.float64),
        orientation=np.asarray(orientation.ImageOrientationPatient, dtype=np.float64),
        rows=int(ds.Rows), columns=int(ds.Columns),
        pixel_spacing=(float(measures.PixelSpacing[0]), float(measures.PixelSpacing[1])),
        rescale=(float(rescale.get("RescaleSlope", 1) or 1), float(rescale.get("RescaleIntercept", 0) or 0)),
        localizer="LOCALIZER" in image_type,
        attributes=attributes,
    )


def _normal(frame: Frame) -> np.ndarray:
    """(3,) unit slice normal: cross(row direction, column direction)."""
    normal = np.cross(frame.orientation[:3], frame.orientation[3:])
    return normal / np.linalg.norm(normal)


def _attributes(sources: list[Dataset]) -> dict[str, str]:
    """The DISTINGUISHING values found in ``sources`` or one sequence level below them (where
    enhanced images keep them, e.g. MREchoSequence > EffectiveEchoTime)."""
    found: dict[str, str] = {}
    for source in sources:
        items = [source] + [el.value[0] for el in source if el.VR == "SQ" and len(el.value)]
        for item in items:
            for kw in DISTINGUISHING:
                value = item.get(kw)
                if kw not in found and value is not None and str(value) != "":
                    found[kw] = str(value)
    return found


# the checks -------------------------------------------------------------------------------
def _check_one_stack(frames: list[Frame]) -> None:
    """One orientation, one image size, one pixel spacing."""
    first = frames[0]
    problems = []
    if any(not np.allclose(f.orientation, first.orientation, atol=ORIENTATION_TOLERANCE) for f in frames):
        n = max(2, len({tuple(np.round(f.orientation, 3)) for f in frames}))
        problems.append(f"{n} image orientations (ImageOrientationPatient)")
    sizes = sorted({(f.rows, f.columns) for f in frames})
    if len(sizes) > 1:
        problems.append("image sizes " + ", ".join(f"{r}x{c}" for r, c in sizes[:5]))
    spacings = sorted({tuple(round(s, 4) for s in f.pixel_spacing) for f in frames})
    if not all(np.allclose(s, spacings[0], rtol=1e-3) for s in spacings):
        problems.append("pixel spacings " + ", ".join(f"{a:g}x{b:g} mm" for a, b in spacings[:5]))
    if problems:
        raise SeriesError(
            f"the series mixes {' and '.join(problems)}: it holds several stacks of images, not one "
            "volume; export one stack (one orientation, one image size) as its own series"
        )


def _check_one_image_per_position(frames: list[Frame], along: np.ndarray) -> None:
    groups: list[list[int]] = [[0]]
    for i in range(1, len(frames)):
        if along[i] - along[groups[-1][0]] < SAME_POSITION_MM:
            groups[-1].append(i)
        else:
            groups.append([i])
    counts = [len(g) for g in groups]
    if max(counts) == 1:
        return
    if min(counts) == max(counts):
        how_many = f"{counts[0]} images at each of {len(groups)} positions"
    else:
        several = sum(c > 1 for c in counts)
        how_many = f"several images (up to {max(counts)}) at {several} of {len(groups)} positions"
    differ = ""
    crowded = [frames[i] for i in groups[counts.index(max(counts))]]
    for kw in DISTINGUISHING:
        values = sorted({f.attributes.get(kw, "") for f in crowded})
        if len(values) > 1:
            differ = f"; they differ in {kw}: {', '.join(v or '(none)' for v in values[:6])}"
            break
    raise SeriesError(
        f"the series holds {how_many} (e.g. a cine or multi-echo series{differ}): export one "
        "phase/echo as its own series"
    )


def _check_no_tilt(frames: list[Frame], normal: np.ndarray) -> None:
    """Each slice follows the previous one along the normal, not sideways (a gantry tilt
    shears the stack). Measured over the whole stack, where rounded positions average out,
    and per step, with ``SPACING_TOLERANCE_MM`` of sideways play for the rounding."""
    positions = np.stack([f.position for f in frames])

    def angle(step: np.ndarray) -> np.ndarray:
        cosine = np.abs(step @ normal) / np.linalg.norm(step, axis=-1)
        return np.degrees(np.arccos(np.clip(cosine, 0.0, 1.0)))

    steps = np.diff(positions, axis=0)
    along = np.abs(steps @ normal)
    sideways = np.linalg.norm(steps - np.outer(steps @ normal, normal), axis=1)
    whole = float(angle(positions[-1] - positions[0]))
    if whole > MAX_TILT_DEG or (sideways > np.tan(np.radians(MAX_TILT_DEG)) * along + SPACING_TOLERANCE_MM).any():
        tilt = whole if whole > MAX_TILT_DEG else float(angle(steps).max())
        raise SeriesError(
            f"the series was acquired with a gantry tilt of {tilt:.1f} deg (its slices are shifted "
            "sideways, not stacked along their normal) and is not supported; send a reconstruction "
            "without tilt"
        )


def _check_even_spacing(along: np.ndarray) -> float:
    """The slice spacing (median gap, mm), when every gap is within tolerance of it."""
    gaps = np.diff(along)
    spacing = float(np.median(gaps))
    tolerance = max(SPACING_TOLERANCE * spacing, SPACING_TOLERANCE_MM)
    off = np.abs(gaps - spacing) > tolerance
    if not off.any():
        return spacing
    missing, uneven = [], False
    for i in np.flatnonzero(off):
        k = round(float(gaps[i]) / spacing)
        if k >= 2 and abs(gaps[i] - k * spacing) <= tolerance:
            missing.append(f"{along[i]:.1f} and {along[i + 1]:.1f} mm ({k - 1} slice{'s' * (k > 2)})")
        else:
            uneven = True
    problems = []
    if uneven:
        problems.append(f"slice spacing varies (min {gaps.min():.2f} mm, max {gaps.max():.2f} mm, "
                        f"median {spacing:.2f} mm)")
    if missing:
        shown = "; ".join(missing[:5]) + (f"; and {len(missing) - 5} more gaps" if len(missing) > 5 else "")
        problems.append(f"slices missing along the slice normal between positions {shown}")
    raise SeriesError(f"{' and '.join(problems)}: the series is incomplete; send every instance of the series")
