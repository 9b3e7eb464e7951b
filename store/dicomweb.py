"""DICOMweb: find studies on a PACS (QIDO-RS), bring a series in (WADO-RS), send masks back as
DICOM SEG (STOW-RS). No FastAPI, no Celery; the API's routes are thin wrappers over this.

Only servers configured by the operator (``ELSNET_DICOMWEB_SERVERS``, see
:class:`store.settings.DicomwebServer`) are reachable: a caller names a server, never a URL, so
the service cannot be pointed at arbitrary hosts.

Errors: an unknown server name or an ambiguous study is :class:`BadInput` (422); a study or
series the server does not have is :class:`NotFound` (404); a server that does not answer or
answers with an error is :class:`UpstreamError` (502). Nothing is stored unless the whole series
arrived and was read as one volume.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pydicom
from sqlalchemy.orm import Session

from store import services, volumes
from store.errors import BadInput, NotFound, PayloadTooLarge, UpstreamError
from store.models import Project, Study
from store.settings import DicomwebServer, get_settings

log = logging.getLogger(__name__)

DICOM_PART = "application/dicom"
#: series of these modalities hold no image volume (segmentations, reports, presentation states,
#: key objects, RT structures, raw data): an import never picks them
NON_IMAGE_MODALITIES = {"SEG", "SR", "PR", "KO", "RTSTRUCT", "RTPLAN", "RTDOSE", "REG", "DOC", "RAW", "OT"}

# DICOM JSON attribute tags (PS3.18 F.2) of the fields the service shows
_TAGS = {
    "StudyInstanceUID": "0020000D", "SeriesInstanceUID": "0020000E", "SOPInstanceUID": "00080018",
    "PatientID": "00100020", "PatientName": "00100010", "StudyDate": "00080020",
    "StudyDescription": "00081030", "AccessionNumber": "00080050", "ModalitiesInStudy": "00080061",
    "NumberOfStudyRelatedSeries": "00201206", "Modality": "00080060", "SeriesDescription": "0008103E",
    "SeriesNumber": "00200011", "NumberOfSeriesRelatedInstances": "00201209",
}
STUDY_FIELDS = ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "StudyDescription",
                "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries")
SERIES_FIELDS = ("SeriesInstanceUID", "Modality", "SeriesDescription", "SeriesNumber",
                 "NumberOfSeriesRelatedInstances")
#: QIDO-RS query keys a caller may pass through (anything else is refused, not forwarded)
STUDY_QUERY_KEYS = ("PatientID", "PatientName", "StudyDate", "AccessionNumber", "StudyInstanceUID",
                    "ModalitiesInStudy", "StudyDescription")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _value(item: dict[str, Any], field: str) -> Any:
    """One attribute of a DICOM JSON object as a plain value (names as their alphabetic form)."""
    attr = item.get(_TAGS[field]) or {}
    vals = attr.get("Value") or []
    if not vals:
        return None
    out = [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in vals]
    return out if len(out) > 1 or field == "ModalitiesInStudy" else out[0]


def check_uid(uid: str, what: str) -> str:
    uid = (uid or "").strip()
    if not _UID.match(uid) or len(uid) > 64:
        raise BadInput(f"{what} {uid!r} is not a DICOM UID (digits and dots, at most 64 characters)")
    return uid


def server_names() -> list[str]:
    return sorted(get_settings().dicomweb_servers)


def get_server(name: str) -> DicomwebServer:
    servers = get_settings().dicomweb_servers
    if name not in servers:
        known = ", ".join(sorted(servers)) or "none"
        raise BadInput(
            f"unknown DICOMweb server {name!r}; configured servers: {known} "
            "(the operator sets them in ELSNET_DICOMWEB_SERVERS)"
        )
    return servers[name]


@dataclass
class DicomwebClient:
    """QIDO-RS / WADO-RS / STOW-RS against one configured server."""

    name: str
    server: DicomwebServer

    @classmethod
    def named(cls, name: str) -> DicomwebClient:
        return cls(name, get_server(name))

    def _client(self) -> httpx.Client:
        headers = {}
        if self.server.token:
            headers["Authorization"] = f"Bearer {self.server.token}"
        auth = (self.server.username, self.server.password or "") if self.server.username else None
        return httpx.Client(base_url=self.server.url.rstrip("/"), headers=headers, auth=auth,
                            timeout=self.server.timeout_s, follow_redirects=False)

    def _fail(self, what: str, exc: Exception | None = None, resp: httpx.Response | None = None) -> UpstreamError:
        if resp is not None:
            body = resp.text[:200].replace("\n", " ") if resp.content else ""
            why = f"HTTP {resp.status_code}" + (f": {body}" if body else "")
        else:
            why = f"{type(exc).__name__}: {exc}"
        log.warning("DICOMweb server %s: %s failed (%s)", self.name, what, why)
        return UpstreamError(f"DICOMweb server {self.name!r} failed to {what} ({why}); check that it is "
                             "running and that the service's credentials for it are valid")

    def _qido(self, path: str, params: dict[str, str], not_found: str | None = None) -> list[dict]:
        try:
            with self._client() as c:
                r = c.get(path, params=params, headers={"Accept": "application/dicom+json"})
        except httpx.HTTPError as exc:
            raise self._fail("search", exc) from exc
        if r.status_code == 204:
            return []
        if r.status_code == 404 and not_found:
            raise NotFound(not_found)
        if r.status_code != 200:
            raise self._fail("search", resp=r)
        try:
            data = r.json()
        except ValueError as exc:
            raise self._fail("search (the answer is not DICOM JSON)", exc) from exc
        return data if isinstance(data, list) else []

    def search_studies(self, query: dict[str, str], limit: int = 50) -> list[dict[str, Any]]:
        bad = sorted(set(query) - set(STUDY_QUERY_KEYS))
        if bad:
            raise BadInput(f"unknown study search keys {bad}; use {list(STUDY_QUERY_KEYS)}")
        params = {k: v for k, v in query.items() if v}
        params.update({"limit": str(limit), "includefield": "all"})
        return [{f: _value(it, f) for f in STUDY_FIELDS} for it in self._qido("/studies", params)]

    def search_series(self, study_uid: str) -> list[dict[str, Any]]:
        study_uid = check_uid(study_uid, "StudyInstanceUID")
        missing = f"study {study_uid} not found on DICOMweb server {self.name!r}"
        items = self._qido(f"/studies/{study_uid}/series", {"includefield": "all"}, not_found=missing)
        if not items:
            raise NotFound(missing)
        out = [{f: _value(it, f) for f in SERIES_FIELDS} for it in items]
        return sorted(out, key=lambda s: (s["SeriesNumber"] is None, s["SeriesNumber"] or 0))

    def retrieve_series(self, study_uid: str, series_uid: str, dest: Path, max_bytes: int) -> list[Path]:
        """WADO-RS: every instance of the series as a Part-10 file in ``dest``; the answer is
        streamed to disk (never whole in memory) and refused beyond ``max_bytes``."""
        body = dest / "wado.multipart"
        url = f"/studies/{study_uid}/series/{series_uid}"
        accept = f'multipart/related; type="{DICOM_PART}"; transfer-syntax=*'
        try:
            with self._client() as c, c.stream("GET", url, headers={"Accept": accept}) as r:
                if r.status_code == 404:
                    raise NotFound(f"series {series_uid} of study {study_uid} not found on DICOMweb "
                                   f"server {self.name!r}")
                if r.status_code != 200:
                    r.read()
                    raise self._fail("retrieve the series", resp=r)
                ctype = r.headers.get("content-type", "")
                total = 0
                with open(body, "wb") as out:
                    for chunk in r.iter_bytes(1024 * 1024):
                        total += len(chunk)
                        if total > max_bytes:
                            raise PayloadTooLarge(
                                f"series {series_uid} exceeds the upload limit of {max_bytes} bytes "
                                "(ELSNET_MAX_UPLOAD_BYTES)")
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise self._fail("retrieve the series", exc) from exc
        try:
            return split_multipart(body, ctype, dest)
        finally:
            body.unlink(missing_ok=True)

    def store(self, parts: list[bytes]) -> None:
        """STOW-RS: send Part-10 DICOM instances to the server."""
        boundary = uuid.uuid4().hex
        payload = b"".join(
            b"--" + boundary.encode() + b"\r\nContent-Type: " + DICOM_PART.encode() + b"\r\n\r\n" + p + b"\r\n"
            for p in parts
        ) + b"--" + boundary.encode() + b"--\r\n"
        ctype = f'multipart/related; type="{DICOM_PART}"; boundary={boundary}'
        try:
            with self._client() as c:
                r = c.post("/studies", content=payload,
                           headers={"Content-Type": ctype, "Accept": "application/dicom+json"})
        except httpx.HTTPError as exc:
            raise self._fail("store the segmentation", exc) from exc
        if r.status_code not in (200, 202):  # 202: stored with warnings
            raise self._fail("store the segmentation", resp=r)


def split_multipart(path: Path, content_type: str, dest: Path) -> list[Path]:
    """The parts of a ``multipart/related`` body on disk, each written to a file in ``dest``."""
    m = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    if not m:
        raise UpstreamError(f"the DICOMweb answer is not multipart (Content-Type {content_type!r})")
    delim = b"--" + m.group(1).encode()
    files: list[Path] = []
    if path.stat().st_size == 0:
        return files
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = mm.find(delim)
        while pos >= 0:
            start = pos + len(delim)
            if mm[start:start + 2] == b"--":
                break  # the closing delimiter
            head_end = mm.find(b"\r\n\r\n", start)
            nxt = mm.find(b"\r\n" + delim, head_end) if head_end >= 0 else -1
            if head_end < 0 or nxt < 0:
                raise UpstreamError("the DICOMweb answer ended in the middle of an instance; retry")
            out = dest / f"{len(files):05d}.dcm"
            out.write_bytes(mm[head_end + 4:nxt])
            files.append(out)
            pos = nxt + 2
    return files


def display_name(path: Path, fallback: str) -> str:
    """A study name a person recognises: patient id, study date, series description (or
    modality and series number), from the DICOM header; the series UID when all are blank."""
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception:  # unreadable: the ingestion that follows reports it properly
        return fallback
    series = str(getattr(ds, "SeriesDescription", "") or "").strip() or " ".join(
        str(v) for v in (getattr(ds, "Modality", ""), getattr(ds, "SeriesNumber", "")) if str(v or "").strip())
    parts = [str(getattr(ds, k, "") or "").strip() for k in ("PatientID", "StudyDate")] + [series]
    name = " ".join(p for p in parts if p)
    return name[:300] or fallback


def _add_series(session: Session, project: Project, series_uid: str, paths: list[Path],
                modality: str | None) -> tuple[Study, bool]:
    """One series' instances (Part-10 files) as a study of the project, as an upload would add
    them. The study is found by its UIDs (``volumes.series_identity``), so the same instances,
    imported, pushed or uploaded, give the same study; instances without UIDs fall back to a
    hash over the sorted per-instance hashes."""
    digest = volumes.series_identity(paths) or hashlib.sha256(
        "".join(sorted(volumes.sha256_files([p]) for p in paths)).encode()).hexdigest()
    named = [(f"{series_uid}_{i:05d}.dcm", p) for i, p in enumerate(paths)]
    size = sum(p.stat().st_size for p in paths)
    return services.add_study(session, project, named, digest, size, modality,
                              name=display_name(paths[0], series_uid))


# the service operations ----------------------------------------------------------------
def import_series(session: Session, project: Project, server: str, study_uid: str,
                  series_uid: str | None = None, modality: str | None = None) -> tuple[Study, bool]:
    """Bring one image series of a PACS study into the project (as if uploaded).

    Without ``series_uid`` the study must hold exactly one image series; otherwise the error
    lists them so the caller can choose. Returns (study, created); the same instances again,
    imported, pushed (:func:`receive_stow`) or uploaded, give the existing study.
    """
    client = DicomwebClient.named(server)
    study_uid = check_uid(study_uid, "study_instance_uid")
    if series_uid is None:
        images = [s for s in client.search_series(study_uid)
                  if str(s.get("Modality") or "").upper() not in NON_IMAGE_MODALITIES]
        if not images:
            raise BadInput(f"study {study_uid} on {server!r} holds no image series (only "
                           "segmentations, reports or similar)")
        if len(images) > 1:
            listing = "; ".join(
                f"{s['SeriesInstanceUID']} ({s.get('Modality') or '?'}, "
                f"{s.get('SeriesDescription') or 'no description'}, "
                f"{s.get('NumberOfSeriesRelatedInstances') or '?'} images)" for s in images)
            raise BadInput(f"study {study_uid} holds {len(images)} image series; choose one with "
                           f"series_instance_uid: {listing[:1500]}")
        series_uid = str(images[0]["SeriesInstanceUID"])
    series_uid = check_uid(series_uid, "series_instance_uid")
    settings = get_settings()
    work = volumes.scratch_dir(settings.work / "dicomweb")
    try:
        paths = client.retrieve_series(study_uid, series_uid, work, settings.max_upload_bytes)
        if not paths:
            raise NotFound(f"series {series_uid} of study {study_uid} has no instances on {server!r}")
        log.info("retrieved %d instances of series %s from %s", len(paths), series_uid, server)
        return _add_series(session, project, series_uid, paths, modality)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class StowResult:
    """What a STOW-RS push stored: the DICOM JSON answer (PS3.18 10.5.3) and its HTTP status
    (200 all stored, 202 some refused, 409 none stored), and the studies made or found."""

    status: int
    body: dict[str, Any]
    study_ids: list[str]


#: STOW-RS failure reason 0xC000 "cannot understand" (PS3.4 B.2.3); the words go in ErrorComment
CANNOT_UNDERSTAND = 0xC000


def _sop_ref(path: Path, refused: bool) -> dict[str, Any] | None:
    """A ReferencedSOPSequence / FailedSOPSequence item for one received instance."""
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception:
        return None
    item: dict[str, Any] = {
        "00081150": {"vr": "UI", "Value": [str(getattr(ds, "SOPClassUID", ""))]},
        "00081155": {"vr": "UI", "Value": [str(getattr(ds, "SOPInstanceUID", ""))]},
    }
    if refused:
        item["00081197"] = {"vr": "US", "Value": [CANNOT_UNDERSTAND]}
    return item


def check_stow_content_type(content_type: str) -> None:
    if "multipart/related" not in content_type.lower():
        raise BadInput("STOW-RS takes 'Content-Type: multipart/related; type=\"application/dicom\"' with one "
                       f"DICOM instance per part; got {content_type!r}")


def receive_stow(session: Session, project: Project, body: Path, content_type: str,
                 on_stored: Callable[[], object] | None = None) -> StowResult:
    """STOW-RS receiver: a PACS (or any DICOMweb client) pushes instances to the project.

    The instances are grouped by series; each image series becomes a study (or is found again:
    same content, same study), exactly as an upload of those files. Series that hold no image
    volume (SEG, SR, ...) or cannot be read are refused with a reason; the others are stored.
    ``on_stored`` runs after each committed study (e.g. to segment it when the project asks).
    """
    check_stow_content_type(content_type)
    settings = get_settings()
    work = volumes.scratch_dir(settings.work / "stow")
    try:
        paths = split_multipart(body, content_type, work)
        if not paths:
            raise BadInput("the STOW-RS request holds no DICOM instance")
        grouped = volumes.group_dicom_series(paths)
        in_series = {p for g in grouped.values() for p in g}
        unreadable = [p for p in paths if p not in in_series]
        stored: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        reasons: list[str] = []
        study_ids: list[str] = []
        failed.extend({"00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}} for _ in unreadable)
        if unreadable:
            reasons.append(f"{len(unreadable)} part(s) are not DICOM instances with a SeriesInstanceUID")
        for series_uid, files in grouped.items():
            head = pydicom.dcmread(str(files[0]), stop_before_pixels=True)
            modality = str(getattr(head, "Modality", "") or "").upper()
            why = None
            if modality in NON_IMAGE_MODALITIES:
                why = f"series {series_uid} is {modality}, not an image series"
            else:
                try:
                    study, _ = _add_series(session, project, series_uid, files, None)
                    session.commit()
                    study_ids.append(study.id)
                    if on_stored is not None:
                        on_stored()
                except (BadInput, PayloadTooLarge) as exc:
                    session.rollback()
                    why = f"series {series_uid}: {exc.detail}"
            refs = [r for r in (_sop_ref(f, why is not None) for f in files) if r is not None]
            (failed if why else stored).extend(refs)
            if why:
                reasons.append(why)
                log.warning("STOW-RS to project %s refused: %s", project.id, why)
        answer: dict[str, Any] = {}
        if stored:
            answer["00081199"] = {"vr": "SQ", "Value": stored}
        if failed:
            answer["00081198"] = {"vr": "SQ", "Value": failed}
        if reasons:  # ErrorComment (0000,0902): the reasons in words
            answer["00000902"] = {"vr": "LO", "Value": ["; ".join(reasons)[:1000]]}
        status = 200 if not failed else (202 if stored else 409)
        log.info("STOW-RS to project %s: %d instances stored in %d studies, %d refused",
                 project.id, len(stored), len(study_ids), len(failed))
        return StowResult(status, answer, study_ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_mask(session: Session, project: Project, study: Study, server: str,
                model_id: str | None = None) -> dict[str, Any]:
    """Send a study's mask to a PACS as DICOM SEG (STOW-RS).

    A study that came as DICOM gets a SEG referencing its own instances (it joins the original
    study on the PACS). A study uploaded as NIfTI has no DICOM of its own: the derived image
    series the SEG references is sent with it, so a PACS viewer can show both.
    """
    from store import export  # highdicom is heavy; only loaded when a SEG is made

    client = DicomwebClient.named(server)
    mask = services.pick_mask(session, project, study, model_id)
    seg, derived = export.mask_to_dicom_seg_with_sources(study, mask, project)
    client.store([*derived, seg])
    ds = pydicom.dcmread(BytesIO(seg), stop_before_pixels=True)
    log.info("stored the SEG of study %s (model %s) on %s", study.id, mask.model_id, server)
    return {"server": server, "model_id": mask.model_id,
            "study_instance_uid": str(ds.StudyInstanceUID),
            "series_instance_uid": str(ds.SeriesInstanceUID),
            "sop_instance_uid": str(ds.SOPInstanceUID),
            "derived_instances_sent": len(derived)}
