"""Which study to annotate: a ``rank`` job is refused when there is nothing to compare, and
GET .../exemplar-ranking answers with the newest ranking as it stands now (real app, PostgreSQL;
the ranking itself is computed by a real worker in tests/worker/test_exemplar_ranking_e2e.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from store import exemplars
from store.db import session_scope
from store.models import Job, utcnow
from tests.api.test_deletion import annotate, upload


def ranking_url(pid: str) -> str:
    return f"/api/v1/projects/{pid}/exemplar-ranking"


def finish_rank_job(job_id: str, ranked: list[tuple[int, float]], studies: list[dict]) -> None:
    """What a worker leaves behind when a rank job succeeds (worker/pipeline.py ``_rank``)."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        assert job is not None
        info = [{"study_id": st["id"], "name": st["name"], "is_exemplar": st["is_exemplar"]} for st in studies]
        job.metrics = exemplars.ranking_document(ranked, info, [])
        job.state, job.progress, job.stage, job.finished_at = "succeeded", 1.0, "rank", utcnow()


def test_no_ranking_is_a_404_that_says_how_to_start_one(client: TestClient, project: dict) -> None:
    r = client.get(ranking_url(project["id"]))
    assert r.status_code == 404
    assert '{"kind": "rank"}' in r.json()["detail"] and f"/api/v1/projects/{project['id']}/jobs" in r.json()["detail"]


def test_a_rank_job_needs_two_studies(client: TestClient, project: dict) -> None:
    pid = project["id"]
    jobs = f"/api/v1/projects/{pid}/jobs"
    # no study, then one: refused before anything is queued, saying what to do
    r = client.post(jobs, json={"kind": "rank"})
    assert r.status_code == 422, r.text
    assert "need at least 2 studies in the project to rank them (it has 0)" in r.json()["detail"]
    first = upload(client, pid, seed=1)
    r = client.post(jobs, json={"kind": "rank"})
    assert r.status_code == 422 and "(it has 1): upload the cohort's studies" in r.json()["detail"], r.text
    second = upload(client, pid, seed=2)
    # study_ids naming one study (twice) is one study; another project's study is a 404
    r = client.post(jobs, json={"kind": "rank", "study_ids": [first["id"], first["id"]]})
    assert r.status_code == 422 and "study_ids names 1" in r.json()["detail"]
    r = client.post(jobs, json={"kind": "rank", "study_ids": [first["id"], "0" * 32]})
    assert r.status_code == 404 and "not found in project" in r.json()["detail"]
    assert client.get(jobs).json()["count"] == 0
    # two studies: queued on the infer queue with the studies it will rank, in upload order
    r = client.post(jobs, json={"kind": "rank"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["state"]) == ("rank", "queued")
    with session_scope() as s:
        assert s.get(Job, job["id"]).params == {"study_ids": [first["id"], second["id"]]}  # type: ignore[union-attr]
    # while it runs, the 404 names it; a study it reads cannot be deleted
    r = client.get(ranking_url(pid))
    assert r.status_code == 404 and f"rank job {job['id']} is queued" in r.json()["detail"]
    r = client.delete(f"/api/v1/projects/{pid}/studies/{first['id']}")
    assert r.status_code == 409 and f"rank job {job['id']}" in r.json()["detail"]


def test_a_rank_job_ranks_at_most_max_studies(client: TestClient, project: dict,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # the limit lowered to 3 so that the test uploads 4 studies, not 31
    monkeypatch.setattr(exemplars, "MAX_STUDIES", 3)
    pid = project["id"]
    jobs = f"/api/v1/projects/{pid}/jobs"
    ids = [upload(client, pid, seed=i)["id"] for i in range(4)]
    r = client.post(jobs, json={"kind": "rank"})
    assert r.status_code == 422, r.text
    assert "the project has 4 studies" in r.json()["detail"] and "at most 3 at a time: pass study_ids" in r.json()["detail"]
    r = client.post(jobs, json={"kind": "rank", "study_ids": ids})
    assert r.status_code == 422 and "study_ids names 4 studies" in r.json()["detail"], r.text
    assert client.get(jobs).json()["count"] == 0
    # a chosen subset is accepted
    r = client.post(jobs, json={"kind": "rank", "study_ids": ids[:3]})
    assert r.status_code in (201, 202), r.text
    assert r.json()["kind"] == "rank"


def test_the_ranking_as_it_stands_now(client: TestClient, project: dict) -> None:
    # given: three studies ranked by a finished rank job (the second most typical, then the third)
    pid = project["id"]
    a, b, c = (upload(client, pid, seed=i) for i in (1, 2, 3))
    job = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "rank"}).json()
    finish_rank_job(job["id"], [(1, 0.91), (2, 0.85), (0, 0.42)], [a, b, c])
    # when
    r = client.get(ranking_url(pid))
    # then: best first, with rank, typicality, and whether each is annotated; nothing is stale
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["job_id"], out["n_ranked"], out["suggested_study_id"], out["stale"]) == (job["id"], 3, b["id"], False)
    assert [(x["study_id"], x["name"], x["rank"], x["score"], x["is_exemplar"]) for x in out["studies"]] == [
        (b["id"], b["name"], 1, 0.91, False), (c["id"], c["name"], 2, 0.85, False), (a["id"], a["name"], 3, 0.42, False)]
    assert (out["added_since"], out["removed_since"], out["not_ranked"]) == ([], [], [])
    assert out["ranked_at"] >= job["created_at"]
    # the job's own metrics hold the same ranking
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["metrics"]["suggested_study_id"] == b["id"]

    # given: the least typical study annotated, a study added and the suggested one deleted since
    annotate(client, pid, a["id"])
    d = upload(client, pid, seed=4)
    assert client.delete(f"/api/v1/projects/{pid}/studies/{b['id']}").status_code == 204
    out = client.get(ranking_url(pid)).json()
    # then: the exemplar flag is today's, the next study is suggested, and the ranking says it is stale
    assert [(x["study_id"], x["rank"], x["is_exemplar"]) for x in out["studies"]] == [(c["id"], 2, False), (a["id"], 3, True)]
    assert out["suggested_study_id"] == c["id"] and out["n_ranked"] == 3
    assert [(x["study_id"], x["name"]) for x in out["added_since"]] == [(d["id"], d["name"])]
    assert out["removed_since"] == [b["id"]] and out["stale"] is True

    # a newer ranking replaces it
    newer = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "rank", "study_ids": [d["id"], c["id"]]}).json()
    finish_rank_job(newer["id"], [(0, 0.7), (1, 0.6)], [d, c])
    out = client.get(ranking_url(pid)).json()
    assert (out["job_id"], out["suggested_study_id"], out["stale"]) == (newer["id"], d["id"], False)
    assert out["added_since"] == []  # a study left out on purpose (a) is not "added since"
