"""Which study to annotate: the ``rank`` job's parameters and its result (no HTTP, no torch).

The choice of exemplar dominates one-shot results. A ``rank`` job (worker/pipeline.py) loads the
chosen studies and ranks them with ``elsnet_core.exemplar.rank_exemplars`` (each study registered
onto a few others; the one whose image maps best onto the cohort's is suggested; measured in
docs/benchmarks.md, session 24). The job stores the ranking in its ``metrics`` (:func:`ranking_document`);
``GET /api/v1/projects/{id}/exemplar-ranking`` reads the newest one as it stands now
(:func:`latest_ranking`: current names and exemplar flags, studies added or deleted since).
Shapes: docs/API.md, "Which study to annotate".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import services
from store.errors import BadInput, NotFound
from store.models import Job, Project, Study

KIND = "rank"
#: a ranking compares studies with each other: one study has nothing to be typical of
MIN_STUDIES = 2
#: a ranking registers each study onto up to 9 others (1-16 s each on 2 CPU cores: about 20-70 min
#: for 30 studies); a larger cohort is ranked by a chosen subset (``study_ids``)
MAX_STUDIES = 30


def _not_too_many(ids: list[str], what: str) -> None:
    if len(ids) > MAX_STUDIES:
        raise BadInput(
            f"{what} {len(ids)} studies; a ranking registers each onto up to 9 others (1-16 s each on 2 CPU "
            f"cores), so it ranks at most {MAX_STUDIES} at a time: pass study_ids with the candidates you would "
            f"consider annotating, or {MAX_STUDIES} picked at random"
        )


def rank_params(session: Session, project: Project, params: dict[str, Any]) -> dict[str, Any]:
    """The checked parameters of a ``rank`` job: ``study_ids`` (given, else every study of the
    project in upload order), each a study of ``project``, at least :data:`MIN_STUDIES` and at most
    :data:`MAX_STUDIES`."""
    given = params.get("study_ids")
    if given:
        ids = list(dict.fromkeys(str(sid) for sid in given))
        for sid in ids:
            services.get_study(session, project, sid)
        if len(ids) < MIN_STUDIES:
            raise BadInput(
                f"need at least {MIN_STUDIES} studies to rank them, study_ids names {len(ids)}: list two or more, "
                "or leave study_ids out to rank every study of the project"
            )
        _not_too_many(ids, "study_ids names")
        return {"study_ids": ids}
    ids = list(session.scalars(
        select(Study.id).where(Study.project_id == project.id).order_by(Study.created_at, Study.id)))
    if len(ids) < MIN_STUDIES:
        raise BadInput(
            f"need at least {MIN_STUDIES} studies in the project to rank them (it has {len(ids)}): upload the "
            f"cohort's studies first (POST /api/v1/projects/{project.id}/studies), then ask which one to annotate"
        )
    _not_too_many(ids, "the project has")
    return {"study_ids": ids}


def ranking_document(ranked: Sequence[tuple[int, float]], studies: Sequence[dict[str, Any]],
                     not_ranked: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a ``rank`` job stores in its metrics.

    Args:
        ranked: ``rank_exemplars``' answer, best first: (index into ``studies``, typicality).
        studies: the ranked studies in the order they were given: ``{study_id, name, is_exemplar}``.
        not_ranked: studies the job could not read: ``{study_id, name, reason}``.
    """
    rows = [{"study_id": studies[i]["study_id"], "name": studies[i]["name"], "rank": r,
             "score": float(score), "is_exemplar": bool(studies[i]["is_exemplar"])}
            for r, (i, score) in enumerate(ranked, start=1)]
    return {"ranking": rows, "n_ranked": len(rows), "suggested_study_id": rows[0]["study_id"] if rows else None,
            "not_ranked": list(not_ranked)}


def _not_found(session: Session, project: Project) -> NotFound:
    live = session.scalar(select(Job).where(
        Job.project_id == project.id, Job.kind == KIND, Job.state.in_(("queued", "running"))
    ).order_by(Job.created_at.desc()))
    if live is not None:
        return NotFound(
            f"project {project.id} has no exemplar ranking yet; rank job {live.id} is {live.state}: follow it "
            f"(GET /api/v1/jobs/{live.id}) and read this again when it has succeeded"
        )
    return NotFound(
        f"project {project.id} has no exemplar ranking yet: start one with POST /api/v1/projects/{project.id}/jobs "
        '{"kind": "rank"} (it needs at least 2 studies), then read this again when the job has succeeded'
    )


def latest_ranking(session: Session, project: Project) -> dict[str, Any]:
    """The newest succeeded ``rank`` job's ranking as it stands now, or a 404 saying how to start
    one. Names and ``is_exemplar`` are the studies' current ones; a study deleted since is left
    out (listed in ``removed_since``; ranks keep their numbers); ``added_since``: the project's
    studies created after the job was, which it could not rank; ``stale``: either is not empty."""
    job = session.scalar(select(Job).where(
        Job.project_id == project.id, Job.kind == KIND, Job.state == "succeeded"
    ).order_by(Job.created_at.desc()))
    if job is None or not (job.metrics or {}).get("ranking"):
        raise _not_found(session, project)
    current = {st.id: st for st in session.scalars(
        select(Study).where(Study.project_id == project.id).order_by(Study.created_at, Study.id))}
    rows = list(job.metrics["ranking"])
    not_ranked = list(job.metrics.get("not_ranked") or [])
    studies = [{**r, "name": current[r["study_id"]].name, "is_exemplar": current[r["study_id"]].annotation_key is not None}
               for r in rows if r["study_id"] in current]
    seen = {r["study_id"] for r in rows} | {r["study_id"] for r in not_ranked}
    added = [{"study_id": st.id, "name": st.name, "created_at": st.created_at}
             for st in current.values() if st.id not in seen and st.created_at > job.created_at]
    removed = [r["study_id"] for r in rows if r["study_id"] not in current]
    return {
        "job_id": job.id, "ranked_at": job.finished_at or job.created_at, "n_ranked": len(rows),
        "suggested_study_id": studies[0]["study_id"] if studies else None, "studies": studies,
        "not_ranked": [{**r, "name": current[r["study_id"]].name} for r in not_ranked if r["study_id"] in current],
        "added_since": added, "removed_since": removed, "stale": bool(added or removed),
    }
