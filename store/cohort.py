"""The cohort's results in one download: a CSV of organ volumes and confidence per study (what a
research team tabulates), and a zip of every study's mask (NIfTI or DICOM SEG) with that CSV.

Each study contributes the mask a single-study download would give (``services.find_mask``:
the given model's, else the active model's, else the newest); a study without one is listed in
the CSV with ``status`` ``no mask`` and left out of the zip. No FastAPI: the API streams what
these functions write.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import services
from store.models import Mask, Project, Study
from store.storage import get_store

FORMATS = ("nifti", "dicom-seg")


@dataclass(frozen=True)
class Row:
    study: Study
    mask: Mask | None


def rows(session: Session, project: Project, model_id: str | None) -> list[Row]:
    """Every study of the project (upload order) with the mask it is exported with, or None."""
    if model_id:
        services.project_model(session, project, model_id)  # 404 before anything is read
    studies = session.scalars(select(Study).where(Study.project_id == project.id).order_by(Study.created_at)).all()
    return [Row(s, services.find_mask(session, project, s, model_id)) for s in studies]


def _label_columns(project: Project) -> list[tuple[str, str]]:
    """(label value, column name) in label order, e.g. ("1", "liver_ml")."""
    return [(v, f"{project.labels[v]}_ml") for v in sorted(project.labels, key=int)]


def safe_stem(name: str, limit: int, fallback: str) -> str:
    """``name`` as a file-name stem: runs of other characters than letters, digits, ``._-`` become
    ``_``; at most ``limit`` characters; ``fallback`` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:limit] or fallback


def file_name(row: Row, fmt: str) -> str:
    """The mask's name in the zip: the study name made file-safe, its id (names repeat)."""
    safe = safe_stem(row.study.name, 80, "study")
    return f"masks/{safe}__{row.study.id}" + ("_seg.dcm" if fmt == "dicom-seg" else "_mask.nii.gz")


def volumes_csv(project: Project, table: list[Row], fmt: str | None = None) -> str:
    """One row per study: ids, name, exemplar or not, the mask's model, confidence and the
    volume of every organ in millilitres (0 where the mask has none of it); ``mask_file`` names
    the file in the zip when ``fmt`` is given."""
    labels = _label_columns(project)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["study_id", "study_name", "is_exemplar", "status", "model_id", "confidence",
                *(c for _, c in labels), *(["mask_file"] if fmt else [])])
    for r in table:
        ex = "yes" if r.study.annotation_key else "no"
        if r.mask is None:
            w.writerow([r.study.id, r.study.name, ex, "no mask", "", "", *([""] * len(labels)), *([""] if fmt else [])])
            continue
        vols = {str(k): float(v) for k, v in (r.mask.class_volumes_ml or {}).items()}
        conf = "" if r.mask.confidence is None else f"{r.mask.confidence:.4f}"
        w.writerow([r.study.id, r.study.name, ex, "segmented", r.mask.model_id, conf,
                    *(f"{vols.get(v, 0.0):.2f}" for v, _ in labels), *([file_name(r, fmt)] if fmt else [])])
    return out.getvalue()


def write_zip(session: Session, project: Project, table: list[Row], fmt: str, dest: Path) -> Path:
    """``dest``: a zip of every mask in ``table`` (stored as is: NIfTI is gzipped already) and
    ``volumes.csv``."""
    from store import export  # highdicom, only for DICOM SEG

    store = get_store()
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("volumes.csv", volumes_csv(project, table, fmt), compress_type=zipfile.ZIP_DEFLATED)
        for r in table:
            if r.mask is None:
                continue
            if fmt == "dicom-seg":
                zf.writestr(file_name(r, fmt), export.mask_to_dicom_seg(r.study, r.mask, project),
                            compress_type=zipfile.ZIP_DEFLATED)
            else:
                local = store.get_to_path(r.mask.key, dest.parent / f"{r.study.id}.nii.gz")
                zf.write(local, file_name(r, fmt))
                local.unlink()
    return dest
