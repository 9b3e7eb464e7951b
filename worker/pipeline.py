"""Train and infer jobs: load the job by id -> call elsnet_core -> store model and masks."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from store import cohort, exemplars, references, services
from store.db import session_scope
from store.errors import NotFound
from store.jobs import TERMINAL, add_event, claim
from store.models import Job, Mask, Model, Project, Study, new_id, utcnow
from store.queue import enqueue_job
from store.settings import get_settings
from store.storage import get_store
from store.volumes import save_label_map, sha256_files
from store.webhooks import job_finished
from worker.progress import JobReporter

if TYPE_CHECKING:
    from elsnet_core import Predictor

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, DBAPIError, ConnectionError, TimeoutError)


class UserError(Exception):
    """The project's data cannot be used as it is (fails at once, no retry)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: str, attempt: int) -> None:
    settings = get_settings()
    me = worker_name()
    with session_scope() as s:
        job = claim(s, job_id, attempt, me)
        if job is None:
            log.info("job %s attempt %d: not claimable (already handled or cancelled)", job_id, attempt)
            return
        kind = job.kind
    log.info("job %s (%s) attempt %d started on %s", job_id, kind, attempt, me)
    from elsnet_core.errors import Cancelled, InvalidInput

    work = settings.work / "jobs" / job_id  # kept across attempts: checkpoints live here
    work.mkdir(parents=True, exist_ok=True)
    try:
        with JobReporter(job_id, me, attempt) as reporter:
            if kind == "train":
                _train(job_id, work, reporter)
            elif kind == "import":
                _import(job_id, reporter)
            elif kind == "evaluate":
                _evaluate(job_id, work, reporter)
            elif kind == "rank":
                _rank(job_id, work, reporter)
            elif kind == "export":
                _export(job_id, work, reporter)
            else:
                _infer(job_id, work, reporter)
        if not _finish(job_id, "succeeded", owner=(me, attempt)):
            return  # superseded while finishing: the owning attempt reports the outcome
        shutil.rmtree(work, ignore_errors=True)
    except Cancelled:
        if _superseded(job_id, me, attempt):
            # the reaper gave this job to another attempt (e.g. our heartbeat was starved):
            # stop quietly and leave the checkpoints to the attempt that now owns the job
            log.warning("job %s attempt %d superseded by a newer attempt; stopping", job_id, attempt)
            return
        log.info("job %s cancelled; cleaning partial artefacts", job_id)
        _cleanup_partial(job_id)
        shutil.rmtree(work, ignore_errors=True)
    except (InvalidInput, UserError, NotFound) as exc:
        _finish(job_id, "failed", str(exc))
        shutil.rmtree(work, ignore_errors=True)
    except TRANSIENT as exc:
        _retry_or_fail(job_id, kind, attempt, exc)
    except Exception as exc:
        log.exception("job %s crashed", job_id)
        _finish(job_id, "failed", f"internal error: {exc.__class__.__name__}: {exc}")
        _cleanup_partial(job_id)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        _free_device_memory()


def _superseded(job_id: str, me: str, attempt: int) -> bool:
    with session_scope() as s:
        job = s.get(Job, job_id)
        return job is not None and not job.cancel_requested and (job.attempts != attempt or job.worker != me)


def _free_device_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def _retry_or_fail(job_id: str, kind: str, attempt: int, exc: Exception) -> None:
    settings = get_settings()
    log.warning("job %s attempt %d: transient error %s", job_id, attempt, exc)
    for _ in range(5):  # the database itself may be what is flaky
        try:
            with session_scope() as s:
                job = s.get(Job, job_id, with_for_update=True)  # one final state, one event
                if job is None or job.state in TERMINAL:
                    return
                if attempt >= settings.job_max_attempts:
                    job.state, job.finished_at = "failed", utcnow()
                    job.error = f"gave up after {attempt} attempts; last error: {exc}"
                    job_finished(s, job)
                    return
                job.state = "queued"
            time.sleep(min(60, 2**attempt))
            enqueue_job(job_id, kind, attempt + 1)
            return
        except TRANSIENT:
            time.sleep(2)


def _finish(job_id: str, state: str, error: str | None = None, owner: tuple[str, int] | None = None) -> bool:
    """Move the job to a final state; False when it is already final or (with ``owner``) not ours."""
    with session_scope() as s:
        # the row stays locked until the commit: a cancel arriving now waits and then finds the
        # job final (PostgreSQL), so a job gets one final state and one webhook event
        job = s.get(Job, job_id, with_for_update=True)
        if job is None or job.state in TERMINAL:
            return False
        if owner is not None and (job.worker, job.attempts) != owner:
            return False
        if state == "succeeded":
            add_event(s, job, stage=job.stage, progress=1.0, eta_s=0.0, message="done")
        job.state = state
        job.error = error
        job.finished_at = utcnow()
        job_finished(s, job)  # webhook deliveries commit with the final state, or not at all
        return True


def _cleanup_partial(job_id: str) -> None:
    """Remove objects of a model that never got registered, or the zip of an export that did not
    succeed (cancel / crash mid-upload)."""
    store = get_store()
    with session_scope() as s:
        job = s.get(Job, job_id)
        pending = (job.params or {}).get("pending_model_id") if job else None
        registered = pending and s.get(Model, pending) is not None
        unfinished_zip = (cohort.export_key(job.project_id, job_id)
                          if job is not None and job.kind == cohort.EXPORT_KIND and job.state != "succeeded" else None)
    if pending and not registered:
        store.delete_prefix(f"models/{pending}")
    if unfinished_zip:
        store.delete_prefix(unfinished_zip)


def _download_study(study: Study, dest: Path) -> Path:
    return get_store().get_to_path(study.volume_key, dest)


def _train(job_id: str, work: Path, reporter: JobReporter) -> None:
    from elsnet_core import fit

    settings = get_settings()
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        project = s.get(Project, job.project_id)
        assert project is not None
        studies = s.scalars(select(Study).where(Study.project_id == project.id).order_by(Study.created_at)).all()
        preset = str(job.params.get("preset", "fast"))
        seed = int(job.params.get("seed", 0))
        labels = {int(k): v for k, v in project.labels.items()}
        model_id = job.params.get("pending_model_id") or new_id()
        job.params = {**job.params, "pending_model_id": model_id}
        add_event(s, job, stage="synthesis", progress=0.0, message="downloading studies")
    exemplars = [st for st in studies if st.annotation_key]
    if not exemplars:
        raise UserError("the project has no exemplar: annotate at least one study (PUT .../annotation)")

    inputs = work / "inputs"
    ex_pairs, unlabeled = [], []
    for st in studies:
        img = inputs / f"{st.id}.nii.gz"
        if not img.exists():
            _download_study(st, img)
        if st.annotation_key:
            lbl = inputs / f"{st.id}_label.nii.gz"
            get_store().get_to_path(st.annotation_key, lbl)
            ex_pairs.append((img, lbl))
        else:
            unlabeled.append(img)

    model_dir = work / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    reporter.span = (0.0, 0.9)
    result = fit(
        exemplars=ex_pairs, unlabeled=unlabeled, out_dir=model_dir, preset=preset,
        device=settings.device, seed=seed, labels=labels, work_dir=work / "checkpoints",
        progress=reporter.on_fit_event, should_stop=reporter.should_stop,
    )
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir, arcname="model")
    key = f"models/{model_id}/model.tar.gz"
    get_store().put_file(key, archive)
    completed = _store_completions(model_id, result.completed_labels, exemplars, inputs)
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.add(
            Model(
                id=model_id, project_id=job.project_id, job_id=job_id, artifact_key=key,
                config=_jsonable(result.config),
                metrics={**_jsonable(result.metrics), "fit_seconds": float(result.fit_seconds), "device": str(result.device),
                         "next_slice_to_paint": _next_slices(result.next_slices, exemplars),
                         "completed_exemplars": completed,
                         "organs_not_learned": [labels.get(c, f"label {c}")
                                                for c in result.not_learned],
                         "organs_from_registration": [labels.get(c, f"label {c}")
                                                      for c in result.from_registration]},
                exemplar_study_ids=[st.id for st in exemplars],
            )
        )
        job.model_id = model_id
        # a model exists now: measure it on the reference masks in the same job, when there are any
        evaluate = bool(references.reference_studies(s, job.project_id))
    reporter.span = (0.9, 0.97 if evaluate else 1.0)
    _segment(job_id, model_id, model_dir, [st.id for st in studies], work, reporter)
    if evaluate:
        reporter.span = (0.97, 1.0)
        _evaluate_after_training(job_id, model_id, model_dir, work, reporter)


def _evaluate_after_training(job_id: str, model_id: str, model_dir: Path, work: Path, reporter: JobReporter) -> None:
    """The new model is registered and has segmented the cohort: an evaluation that fails as a
    whole must not undo that (nor, with a retry, train again). Its error is kept in the job's
    metrics; an ``evaluate`` job can run it again."""
    from elsnet_core.errors import Cancelled

    try:
        _evaluate_model(job_id, model_id, model_dir, work, reporter)
    except Cancelled:
        raise
    except Exception as exc:
        log.exception("job %s: evaluating the new model %s failed", job_id, model_id)
        with session_scope() as s:
            job = s.get(Job, job_id)
            if job is not None:
                job.metrics = {**(job.metrics or {}), "evaluation_error": f"{exc.__class__.__name__}: {exc}"}


def _store_completions(model_id: str, labels: dict, exemplars: list[Study], inputs: Path) -> list[str]:
    """Upload fit's completed slice exemplars (on each study's own grid); their study ids."""
    done = []
    for i, lab in sorted(labels.items()):
        st = exemplars[i]
        path = inputs / f"{st.id}_completion.nii.gz"
        save_label_map(np.asarray(lab), np.asarray(st.affine), path)
        get_store().put_file(services.completion_key(model_id, st.id), path)
        done.append(st.id)
    return done


def _next_slices(suggestions: dict, exemplars: list[Study]) -> list[dict]:
    """fit's per-exemplar slice suggestions keyed by study id (JSON for the model's metrics)."""
    return [
        {"study_id": exemplars[i].id, "slice": int(sug.slice_index), "gap_mm": float(sug.gap_mm),
         "organ_extent": [int(v) for v in sug.organ_extent]}
        for i, sug in sorted(suggestions.items())
    ]


def _jsonable(obj: object) -> dict:
    import json

    return json.loads(json.dumps(obj, default=str))


def _model_dir(model_id: str, work: Path) -> Path:
    with session_scope() as s:
        model = s.get(Model, model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        key = model.artifact_key
    archive = get_store().get_to_path(key, work / "model.tar.gz")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(work, filter="data")
    return work / "model"


def _segment(job_id: str, model_id: str, model_dir: Path, study_ids: list[str], work: Path, reporter: JobReporter) -> None:
    from elsnet_core import Predictor
    from elsnet_core.errors import Cancelled

    predictor = Predictor.load(model_dir, device=get_settings().device)
    t0 = time.monotonic()
    for i, sid in enumerate(study_ids):
        if reporter.should_stop():
            raise Cancelled("cancelled during segmentation")
        confidence = _segment_study(predictor, job_id, model_id, sid, work)
        if confidence is None:
            continue
        done = (i + 1) / len(study_ids)
        elapsed = time.monotonic() - t0
        reporter.report(
            "segment", done, eta_s=elapsed / done * (1 - done),
            metrics={"confidence": confidence}, message=f"segmented {i + 1}/{len(study_ids)}",
            force=True,
        )


def _segment_study(predictor: Predictor, job_id: str, model_id: str, sid: str, work: Path) -> float | None:
    """Segment one study with a loaded model and store its mask (one per study and model); the
    mask's confidence, or None when the study no longer exists."""
    store = get_store()
    with session_scope() as s:
        study = s.get(Study, sid)
        if study is None:
            return None
        shape, affine, vkey = list(study.shape), np.asarray(study.affine), study.volume_key
    img = work / "segment" / f"{sid}.nii.gz"
    store.get_to_path(vkey, img)
    pred = predictor.predict_file(img)
    if tuple(pred.labels.shape) != tuple(shape):
        raise RuntimeError(f"prediction shape {pred.labels.shape} != study shape {shape}")
    out = work / "segment" / f"{sid}_mask.nii.gz"
    save_label_map(pred.labels, affine, out)
    key = mask_key(sid, model_id)
    store.put_file(key, out)
    with session_scope() as s:
        existing = s.scalar(select(Mask).where(Mask.study_id == sid, Mask.model_id == model_id))
        if existing is None:
            s.add(
                Mask(
                    study_id=sid, model_id=model_id, job_id=job_id, key=key,
                    confidence=float(pred.confidence),
                    class_volumes_ml={str(k): float(v) for k, v in pred.class_volumes_ml.items()},
                )
            )
    return float(pred.confidence)


def mask_key(study_id: str, model_id: str) -> str:
    return f"masks/{study_id}/{model_id}.nii.gz"


def _infer(job_id: str, work: Path, reporter: JobReporter) -> None:
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        model_id = job.params.get("model_id") or job.model_id
        study_ids = list(job.params.get("study_ids") or [])
        job.model_id = model_id
        add_event(s, job, stage="segment", progress=0.0, message="loading model")
    if not model_id:
        raise UserError("no model to segment with: train one first")
    model_dir = _model_dir(model_id, work)
    _segment(job_id, model_id, model_dir, study_ids, work, reporter)


def _evaluate(job_id: str, work: Path, reporter: JobReporter) -> None:
    """An ``evaluate`` job: measure one model on the project's reference masks."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        model_id = job.params.get("model_id") or job.model_id
        job.model_id = model_id
        add_event(s, job, stage="evaluate", progress=0.0, message="finding the studies with a reference mask")
    if not model_id:
        raise UserError("no model to evaluate: train one first")
    evaluation = _evaluate_model(job_id, model_id, None, work, reporter)
    if evaluation["n_studies"] == 0 and evaluation["failed"]:
        first = evaluation["failed"][0]
        raise UserError(f"none of the {len(evaluation['failed'])} studies with a reference mask could be scored "
                        f"(see GET /api/v1/models/{model_id}/evaluation); first: {first['name']}: {first['reason']}")


def _evaluate_model(job_id: str, model_id: str, model_dir: Path | None, work: Path, reporter: JobReporter) -> dict:
    """Score ``model_id``'s mask of every study with a reference mask that the model was not
    trained on (segmenting a study first where the model has no mask of it), store the
    evaluation with the model and return it. A study that cannot be scored (an unreadable
    reference, a failed segmentation) is recorded with its reason; the others go on.
    ``model_dir``: the unpacked model when the caller has it (else downloaded if needed)."""
    from elsnet_core import Predictor
    from elsnet_core.errors import Cancelled
    from store.volumes import load_nifti
    from worker import evaluation

    with session_scope() as s:
        model = s.get(Model, model_id)
        if model is None:
            raise NotFound(f"model {model_id} not found")
        project = s.get(Project, model.project_id)
        assert project is not None
        labels = {int(k): v for k, v in project.labels.items()}
        todo, excluded = [], []
        for st in references.reference_studies(s, project.id):
            reason = references.exclusion_reason(model, st)
            if reason:
                excluded.append({"study_id": st.id, "name": st.name, "reason": reason})
            else:
                todo.append((st.id, st.name, str(st.reference_key), list(st.spacing),
                             st.reference_at.isoformat() if st.reference_at else None))
        masks = dict(s.execute(select(Mask.study_id, Mask.key).where(
            Mask.model_id == model_id, Mask.study_id.in_([t[0] for t in todo]))).all())
    reporter.report("evaluate", 0.0, message=f"measuring the model on {len(todo)} studies with a reference mask"
                    + (f" ({len(excluded)} excluded)" if excluded else ""), force=True)
    predictor = None
    cases, studies, failed = [], [], []
    store = get_store()
    folder = work / "evaluate"
    t0 = time.monotonic()
    for i, (sid, name, ref_key, spacing, ref_at) in enumerate(todo):
        if reporter.should_stop():
            raise Cancelled("cancelled during evaluation")
        try:
            key = masks.get(sid)
            if key is None:  # the model has not segmented this study yet: do it now (kept as its mask)
                if predictor is None:
                    unpacked = model_dir or _model_dir(model_id, work)
                    predictor = Predictor.load(unpacked, device=get_settings().device)
                if _segment_study(predictor, job_id, model_id, sid, work) is None:
                    raise NotFound("the study was deleted during the evaluation")
                key = mask_key(sid, model_id)
            pred = load_nifti(store.get_to_path(key, folder / f"{sid}_mask.nii.gz"), "the model's mask")
            ref = load_nifti(store.get_to_path(ref_key, folder / f"{sid}_reference.nii.gz"), "the reference mask")
            scores = evaluation.score_study(np.asanyarray(pred.dataobj), np.asanyarray(ref.dataobj), spacing,
                                            sorted(labels), study_id=sid)
        except (Cancelled, *TRANSIENT):
            raise
        except Exception as exc:  # this study cannot be scored: say why and go on with the others
            log.warning("job %s: study %s not evaluated", job_id, sid, exc_info=True)
            reason = getattr(exc, "detail", None) or f"{exc.__class__.__name__}: {exc}"
            failed.append({"study_id": sid, "name": name, "reason": str(reason)})
        else:
            cases.append(scores)
            studies.append(evaluation.study_record(scores, name, ref_at))
        done = (i + 1) / len(todo)
        elapsed = time.monotonic() - t0
        outcome = "could not be scored" if failed and failed[-1]["study_id"] == sid else "scored"
        reporter.report("evaluate", done, eta_s=elapsed / done * (1 - done), force=True,
                        message=f"{i + 1}/{len(todo)}: {name} {outcome}")
    doc = evaluation.evaluation_document(model_id=model_id, job_id=job_id, labels=labels, cases=cases,
                                         studies=studies, failed=failed, excluded=excluded, at=utcnow())
    with session_scope() as s:
        model = s.get(Model, model_id)
        if model is None:
            raise NotFound(f"model {model_id} was deleted during its evaluation")
        model.evaluation = doc
    metrics = {"evaluation_n_studies": doc["n_studies"]}
    if doc["mean_dice"] is not None:
        metrics["evaluation_mean_dice"] = doc["mean_dice"]
    if doc["mean_dice"] is not None:
        message = f"mean Dice {doc['mean_dice']:.3f} over {doc['n_studies']} studies"
    else:
        message = f"no study scored ({len(failed)} could not be, {len(excluded)} excluded)"
    reporter.report("evaluate", 1.0, metrics=metrics, force=True, message=message)
    shutil.rmtree(folder, ignore_errors=True)
    return doc


def _import(job_id: str, reporter: JobReporter) -> None:
    """Bring studies in from a PACS (DICOMweb), one at a time, each committed as it arrives.

    A study that cannot be imported (ambiguous, not found, too large, the PACS refusing) is
    recorded with its reason and the others go on; the job fails only when none arrived.
    The outcome per study is in the job's metrics (``import_results``). Afterwards the
    project's new studies are segmented when it asks for that (``auto_segment``).
    """
    from elsnet_core.errors import Cancelled
    from store import dicomweb
    from store.errors import BadInput, PayloadTooLarge, UpstreamError

    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        project_id, server = job.project_id, str(job.params["server"])
        refs = list(job.params["studies"])
        add_event(s, job, stage="import", progress=0.0, message=f"importing {len(refs)} studies from {server}")
    results: list[dict] = []
    ok = 0  # studies that arrived
    t0 = time.monotonic()
    for i, ref in enumerate(refs):
        if reporter.should_stop():
            raise Cancelled("import cancelled")
        uid = ref["study_instance_uid"]
        try:
            with session_scope() as s:
                project = s.get(Project, project_id)
                if project is None:
                    raise UserError(f"project {project_id} was deleted")
                study, created = dicomweb.import_series(s, project, server, uid, ref.get("series_instance_uid"))
                results.append({"study_instance_uid": uid, "study_id": study.id, "created": created})
                ok += 1
        except (BadInput, NotFound, PayloadTooLarge, UpstreamError) as exc:
            log.warning("job %s: study %s not imported: %s", job_id, uid, exc.detail)
            results.append({"study_instance_uid": uid, "error": exc.detail})
        done = (i + 1) / len(refs)
        elapsed = time.monotonic() - t0
        reporter.report("import", done, eta_s=elapsed / done * (1 - done),
                        metrics={"imported": ok, "not_imported": len(results) - ok},
                        message=f"{i + 1}/{len(refs)}: {uid} " + ("imported" if "study_id" in results[-1] else "failed"),
                        force=True)
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.metrics = {**(job.metrics or {}), "import_results": results, "imported": ok,
                       "not_imported": len(results) - ok}
    if ok == 0:
        first = next(r["error"] for r in results)
        raise UserError(f"none of the {len(refs)} studies could be imported from {server}; first reason: {first}")
    services.segment_new_studies(project_id)



def _rank(job_id: str, work: Path, reporter: JobReporter) -> None:
    """A ``rank`` job: which study to annotate (store/exemplars.py).

    Fetches the job's studies and checks each can be read (stage ``load``), then ranks them
    with ``elsnet_core.exemplar.rank_exemplars`` (stage ``rank``, most of the job's time: each
    study registered to a few others, progress per registration; the library holds only a few
    volumes at once, read from the fetched files) and stores the ranking in the job's metrics.
    A study that cannot be read is listed with its reason (``not_ranked``) and the others go on;
    the job fails when fewer than two could be read.
    """
    from elsnet_core.errors import Cancelled, InvalidInput
    from elsnet_core.exemplar import rank_exemplars
    from elsnet_core.io import load_volume

    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        todo = []
        for sid in job.params.get("study_ids") or []:
            st = s.get(Study, sid)
            if st is not None and st.project_id == job.project_id:
                todo.append(({"study_id": st.id, "name": st.name, "is_exemplar": st.annotation_key is not None},
                             st.volume_key))
        add_event(s, job, stage="load", progress=0.0, message=f"reading {len(todo)} studies")
    store = get_store()
    folder = work / "rank"
    paths: list[Path] = []
    ranked_studies: list[dict] = []
    not_ranked: list[dict] = []
    reporter.span = (0.0, 0.1)
    t0 = time.monotonic()
    for i, (info, key) in enumerate(todo):
        if reporter.should_stop():
            raise Cancelled("cancelled while reading the studies")
        path = folder / f"{info['study_id']}.nii.gz"
        readable = False
        try:
            load_volume(store.get_to_path(key, path))  # readable? (the ranking reads it again)
            readable = True
            paths.append(path)
            ranked_studies.append(info)
        except (Cancelled, *TRANSIENT):
            raise
        except Exception as exc:  # this study cannot be read: say why and rank the others
            log.warning("job %s: study %s not ranked", job_id, info["study_id"], exc_info=True)
            if isinstance(exc, InvalidInput):  # its message names the worker's scratch file: not for users
                reason = "its stored volume is not a readable 3D image (details in the worker's log)"
            elif isinstance(exc, NotFound):
                reason = "its stored volume is missing from object storage"
            else:
                reason = f"{exc.__class__.__name__}: {exc}"
            not_ranked.append({"study_id": info["study_id"], "name": info["name"], "reason": reason})
        finally:
            if not readable:
                path.unlink(missing_ok=True)
        done = (i + 1) / len(todo)
        outcome = "read" if readable else "could not be read"
        reporter.report("load", done, eta_s=(time.monotonic() - t0) / done * (1 - done), force=True,
                        message=f"{i + 1}/{len(todo)}: {info['name']} {outcome}")
    if len(paths) < exemplars.MIN_STUDIES:
        first = f"; first: {not_ranked[0]['name']}: {not_ranked[0]['reason']}" if not_ranked else ""
        raise UserError(f"only {len(paths)} of the {len(todo)} studies could be read; a ranking needs at least "
                        f"{exemplars.MIN_STUDIES}{first}")
    reporter.span = (0.1, 1.0)
    reporter.report("rank", 0.0, message=f"registering each of {len(paths)} studies to a few others", force=True)
    t1 = time.monotonic()

    def registered(done: int, total: int) -> None:
        if reporter.should_stop():
            raise Cancelled("cancelled while ranking")
        reporter.report("rank", done / total, eta_s=(time.monotonic() - t1) / done * (total - done),
                        message=f"{done}/{total} registrations", force=done == total)

    doc = exemplars.ranking_document(rank_exemplars(paths, progress=registered), ranked_studies, not_ranked)
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.metrics = {**(job.metrics or {}), **doc}
    best = doc["ranking"][0]
    reporter.report("rank", 1.0, force=True,
                    message=f"best of {doc['n_ranked']} studies: {best['name']} (typicality {best['score']:.3f})")


def _export(job_id: str, work: Path, reporter: JobReporter) -> None:
    """An ``export`` job: the cohort's masks in one zip (store/cohort.py ``write_zip``, as the
    ``GET .../masks.zip`` builds it inside a request), stored under ``cohort.export_key`` for
    ``GET /api/v1/jobs/{id}/download``. Stage ``export``: one event per mask written (DICOM SEG
    takes seconds each), up to 0.95; then ``store``. The masks are those of the moment the job runs.
    """
    from elsnet_core.errors import Cancelled

    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        project = s.get(Project, job.project_id)
        assert project is not None
        fmt = str(job.params.get("format") or "nifti")
        model_id = job.params.get("model_id") or None
        table = cohort.rows(s, project, model_id)
        n_masks = sum(r.mask is not None for r in table)
        if not n_masks:  # the masks went since the job was created (a study deleted, ...)
            raise UserError(cohort.no_masks_message(project, model_id))
        add_event(s, job, stage="export", progress=0.0,
                  message=f"zipping {n_masks} masks of {len(table)} studies as {fmt}")
    # the rows stay readable after the session closed (expire_on_commit=False): no transaction
    # is held open while the zip is written
    reporter.span = (0.0, 0.95)
    t0 = time.monotonic()

    def progress(done: int, total: int, row: cohort.Row) -> None:
        frac = done / total
        reporter.report("export", frac, eta_s=(time.monotonic() - t0) / frac * (1 - frac), force=True,
                        message=f"{done}/{total}: {row.study.name}")
        if reporter.should_stop():
            raise Cancelled("cancelled while writing the zip")

    if reporter.should_stop():
        raise Cancelled("cancelled before the zip was started")
    dest = cohort.write_zip(project, table, fmt, work / "export.zip", progress=progress)
    size = dest.stat().st_size
    digest = sha256_files([dest])
    reporter.span = (0.95, 1.0)
    reporter.report("store", 0.0, force=True, message=f"storing the zip ({size / 1e6:.1f} MB)")
    if reporter.should_stop():
        raise Cancelled("cancelled before the zip was stored")
    get_store().put_file(cohort.export_key(project.id, job_id), dest)
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.metrics = {**(job.metrics or {}),
                       **cohort.export_document(project, table, fmt, size, digest)}
    reporter.report("store", 1.0, force=True,
                    message=f"{n_masks} masks, {size / 1e6:.1f} MB: GET /api/v1/jobs/{job_id}/download")
