"""Which study to annotate: a real Celery worker process ranks a project's studies (PostgreSQL +
Redis, through the public API). Three similar studies and one with the organs' contrast inverted:
the odd one must rank last, and the suggestion is one of the typical ones."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from tests.core.helpers import blob_case, write_case

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
LABELS = {"1": "liver", "2": "kidney"}
AFFINE = np.diag([4.0, 4.0, 6.0, 1.0])


def cohort_with_an_odd_one(folder: Path) -> tuple[list[Path], Path]:
    """Three similar synthetic studies (the body and organs shifted a little, other noise) and an
    atypical one: the same anatomy with the organs' brightness swapped with the body's."""
    typical = [write_case(folder, f"typical_{i}", blob_case(shift=(i % 2, -(i % 3)), seed=i)[0], None, AFFINE)[0]
               for i in range(3)]
    odd = blob_case(seed=9)[0]
    odd = np.where(odd > 500, 100.0, np.where(odd > 200, 800.0, odd)).astype(np.float32)
    return typical, write_case(folder, "atypical", odd, None, AFFINE)[0]


def test_a_worker_ranks_the_cohort_and_the_atypical_study_comes_last(  # type: ignore[no-untyped-def]
    service, start_worker, tmp_path: Path,
) -> None:
    api, env = service
    typical, odd = cohort_with_an_odd_one(tmp_path / "cohort")
    pid = api.project(LABELS)
    # given: the atypical study uploaded between the typical ones, the last typical one annotated
    studies = [api.upload(pid, p) for p in (typical[0], odd, typical[1], typical[2])]
    odd_id = studies[1]["id"]
    label = np.zeros((40, 36, 8), np.uint8)
    label[10:20, 10:20, 3] = 1
    annotated = studies[3]["id"]
    api.annotate(pid, annotated, write_case(tmp_path / "label", "label", label, None, AFFINE)[0])
    start_worker(env)
    # when
    job = api.wait(api.job(pid, {"kind": "rank"})["id"], timeout=300)
    # then: it read the studies one by one (stage "load"), then ranked them (stage "rank": each
    # study registered to the others, 4 x 3 registrations), progress never going back
    assert job["state"] == "succeeded", job["error"]
    assert (job["stage"], job["progress"]) == ("rank", 1.0)
    assert all(b >= a for a, b in itertools.pairwise(job["_progress_seen"]))
    events = api.c.get(f"/api/v1/jobs/{job['id']}/metrics").json()["data"]
    loads = [e for e in events if e["stage"] == "load" and re.match(r"\d+/4: ", e["message"] or "")]
    assert [e["message"].split(":")[0] for e in loads] == ["1/4", "2/4", "3/4", "4/4"]
    assert not [e["message"] for e in loads if "could not be read" in e["message"]]
    assert all(e["progress"] <= 0.1 + 1e-9 for e in loads) and loads[-1]["progress"] == pytest.approx(0.1)
    ranks = [e for e in events if e["stage"] == "rank" and re.match(r"\d+/12 registrations", e["message"] or "")]
    assert ranks and ranks[-1]["message"] == "12/12 registrations"
    assert [e["stage"] for e in events].index("rank") > [e["stage"] for e in events].index("load")

    # the ranking: every study once, the atypical one last and clearly less typical
    r = api.c.get(f"/api/v1/projects/{pid}/exemplar-ranking")
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["job_id"], out["n_ranked"], out["stale"], out["not_ranked"]) == (job["id"], 4, False, [])
    ranked = out["studies"]
    assert sorted(x["study_id"] for x in ranked) == sorted(s["id"] for s in studies)
    assert [x["rank"] for x in ranked] == [1, 2, 3, 4]
    assert ranked[-1]["study_id"] == odd_id
    assert ranked[-2]["score"] > ranked[-1]["score"] + 0.05
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(ranked))
    assert out["suggested_study_id"] == ranked[0]["study_id"] != odd_id
    # the annotated study is flagged wherever it stands; the job's metrics hold the same ranking
    assert [x["study_id"] for x in ranked if x["is_exemplar"]] == [annotated]
    assert [x["study_id"] for x in job["metrics"]["ranking"]] == [x["study_id"] for x in ranked]
    print("ranking:", [(x["name"], round(x["score"], 3)) for x in ranked])

    # given: the atypical study's stored volume has become unreadable
    from store.db import get_sessionmaker
    from store.models import Study
    from store.storage import get_store

    with get_sessionmaker()() as s:
        key = s.get(Study, odd_id).volume_key  # type: ignore[union-attr]
    (tmp_path / "garbage.nii.gz").write_bytes(b"not a nifti file")
    get_store().put_file(key, tmp_path / "garbage.nii.gz")
    # when: ranked again
    again = api.wait(api.job(pid, {"kind": "rank"})["id"], timeout=300)
    # then: the others are ranked, the unreadable one is listed with why
    assert again["state"] == "succeeded", again["error"]
    out = api.c.get(f"/api/v1/projects/{pid}/exemplar-ranking").json()
    assert out["job_id"] == again["id"] and out["n_ranked"] == 3
    assert sorted(x["study_id"] for x in out["studies"]) == sorted(s["id"] for s in studies if s["id"] != odd_id)
    assert [(x["study_id"], x["reason"]) for x in out["not_ranked"]] == [
        (odd_id, "its stored volume is not a readable 3D image (details in the worker's log)")]
