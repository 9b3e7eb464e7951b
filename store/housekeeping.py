"""Objects no database row reaches any more ("orphans"), found and (on request) removed.

Deletion removes rows first (committed), then files (store/services.py, "deletion"), and a
training writes its model's objects before the model row exists; a process that dies in between,
a storage error, or a worker winding down a cancelled job leaves objects behind: patient data
the API can no longer reach nor delete. ``elsnet storage-check`` lists them; ``--delete`` removes
them. Rules, by key (only objects older than ``min_age``, so nothing being written now is touched):

- ``projects/<project>/...``: the project does not exist; ``projects/<project>/studies/<study>/...``:
  the study does not exist (in that project);
- ``projects/<project>/studies/<study>/{annotation,reference}/<version>.nii.gz``: the study's row
  points at another version or none (the API deletes a replaced version after the commit, unless a
  job could still read it or storage failed), and no queued or running job may read the study
  (``services.uses_study``: a training reads the versions its study rows named when it started).
  Nothing else names a version (a model records its exemplars' study ids, not their versions);
- ``masks/<study>/<model>.nii.gz``: no mask row has this key;
- ``models/<model>/...``: no model row, and no queued or running job is training it;
- ``projects/<project>/exports/<job>.zip`` (an ``export`` job's zip, store/cohort.py): no export
  job of that project has this id, or it failed or was cancelled, or it expired (past its
  ``expires_at``: the reaper deletes it, unless it is not running); kept while the job is queued
  or running, and until it expires after it succeeded;
- a ``.tmp-`` file anywhere: an interrupted write (never read);
- anything else is not judged (listed as unknown, never removed). Other objects of existing
  rows are kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import cohort, services
from store.jobs import TERMINAL
from store.models import Job, Mask, Model, Project, Study, utcnow
from store.storage import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class Orphan:
    key: str
    size: int
    modified: datetime
    reason: str


@dataclass(frozen=True)
class Report:
    orphans: list[Orphan]
    unknown: list[ObjectInfo]
    scanned: int
    too_recent: int

    def by_reason(self) -> dict[str, tuple[int, int]]:
        """reason -> (objects, bytes)."""
        n: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for o in self.orphans:
            n[o.reason] += 1
            size[o.reason] += o.size
        return {r: (n[r], size[r]) for r in sorted(n)}


def _export_reason(parts: list[str], exports: dict[str, Job], now: datetime) -> str | None:
    """``projects/<project>/exports/<job>.zip``: why it is an orphan, or None while it is live."""
    if len(parts) != 4 or not parts[3].endswith(".zip"):
        return "unknown"
    job = exports.get(parts[3].removesuffix(".zip"))
    if job is None or job.project_id != parts[1]:
        return "its export job does not exist"
    if job.state not in TERMINAL:
        return None
    if job.state != "succeeded":
        return "its export job did not succeed"
    return "its export expired" if cohort.is_expired(job, now) else None


def _reason(key: str, projects: set[str], studies: dict[tuple[str, str], set[str]], busy: set[tuple[str, str]],
            mask_keys: set[str], live_models: set[str], exports: dict[str, Job], now: datetime) -> str | None:
    """Why ``key`` is an orphan, None when a row reaches it, or "unknown".

    ``studies``: (project, study) -> the annotation and reference keys its row points at;
    ``busy``: the (project, study) pairs a queued or running job may read."""
    parts = key.split("/")
    if parts[-1].startswith(".tmp-"):
        return "an interrupted write"
    if parts[0] == "projects" and len(parts) >= 3:
        if parts[1] not in projects:
            return "its project was deleted"
        if parts[2] == "studies" and len(parts) >= 5 and (parts[1], parts[3]) not in studies:
            return "its study was deleted"
        if parts[2] == "studies" and len(parts) == 6 and parts[4] in ("annotation", "reference"):
            study = (parts[1], parts[3])
            if key in studies[study] or study in busy:
                return None
            return f"a replaced or removed {parts[4]} version"
        if parts[2] == "exports":
            return _export_reason(parts, exports, now)
        return None
    if parts[0] == "masks" and len(parts) == 3:
        return None if key in mask_keys else "no mask row points at it"
    if parts[0] == "models" and len(parts) >= 3:
        return None if parts[1] in live_models else "its model does not exist and no job is training it"
    return "unknown"


def find_orphans(session: Session, store: ObjectStore, *, min_age: timedelta,
                 now: datetime | None = None) -> Report:
    """Scan the object store against the database (read only)."""
    now = now or utcnow()
    projects = set(session.scalars(select(Project.id)))
    studies = {(p, s): {k for k in (a, r) if k}
               for s, p, a, r in session.execute(select(Study.id, Study.project_id, Study.annotation_key,
                                                        Study.reference_key))}
    active = list(session.scalars(select(Job).where(Job.state.not_in(TERMINAL))))
    busy = {(p, s) for p, s in studies if any(j.project_id == p and services.uses_study(j, s) for j in active)}
    mask_keys = set(session.scalars(select(Mask.key)))
    live_models = set(session.scalars(select(Model.id)))
    for job in active:
        if (job.params or {}).get("pending_model_id"):
            live_models.add(str(job.params["pending_model_id"]))
    exports = {j.id: j for j in session.scalars(select(Job).where(Job.kind == cohort.EXPORT_KIND))}
    orphans, unknown, scanned, recent = [], [], 0, 0
    for obj in store.list_objects():
        scanned += 1
        reason = _reason(obj.key, projects, studies, busy, mask_keys, live_models, exports, now)
        if reason is None:
            continue
        if reason == "unknown":
            unknown.append(obj)
        elif now - obj.modified < min_age:
            recent += 1
        else:
            orphans.append(Orphan(obj.key, obj.size, obj.modified, reason))
    return Report(orphans, unknown, scanned, recent)


def remove_orphans(store: ObjectStore, report: Report) -> int:
    """Delete the orphans of ``report`` one object at a time; returns how many went."""
    for o in report.orphans:
        store.delete_prefix(o.key)
    return len(report.orphans)
