"""Jobs people can trust, with real PostgreSQL, Redis and Celery worker processes:
progress, cancel, kill -9 recovery, model versions, inference on new studies."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import small_chaos_case

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def _wait_running(api, job_id: str, stage_prefix: str = "train", timeout: float = 300) -> dict:  # type: ignore[no-untyped-def]
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = api.c.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] == "running" and (job["stage"] or "").startswith(stage_prefix):
            return dict(job)
        assert job["state"] in ("queued", "running"), job
        time.sleep(0.3)
    raise TimeoutError(job_id)


def test_cancel_stops_the_job_and_frees_the_worker(service, exemplar_project, start_worker) -> None:  # type: ignore[no-untyped-def]
    api, env = service
    pid, _, _ = exemplar_project
    start_worker(env)
    first = api.job(pid, {"kind": "train", "preset": "tiny"})
    _wait_running(api, first["id"])
    t0 = time.time()
    r = api.c.post(f"/api/v1/jobs/{first['id']}/cancel")
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    second = api.job(pid, {"kind": "train", "preset": "tiny"})
    done = api.wait(second["id"], timeout=600)
    assert done["state"] == "succeeded", done["error"]
    final_first = api.c.get(f"/api/v1/jobs/{first['id']}").json()
    assert final_first["state"] == "cancelled" and final_first["model_id"] is None
    # the cancelled job registered no model: only the second one did
    models = api.c.get(f"/api/v1/projects/{pid}/models").json()
    assert models["count"] == 1 and models["data"][0]["job_id"] == second["id"]
    assert time.time() - t0 < 600


def test_kill_9_mid_training_never_leaves_a_stuck_job(service, exemplar_project, start_worker) -> None:  # type: ignore[no-untyped-def]
    api, env = service
    pid, _, _ = exemplar_project
    victim = start_worker(env, "victim")
    job = api.job(pid, {"kind": "train", "preset": "tiny"})
    _wait_running(api, job["id"], "train_stage1")
    victim.kill(9)  # the whole worker (supervisor + pool child), as a crash or OOM kill would
    time.sleep(2)
    assert api.c.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "running"  # not yet detected
    start_worker(env, "rescuer")
    done = api.wait(job["id"], timeout=900)
    assert done["state"] in ("succeeded", "failed")
    if done["state"] == "failed":
        assert done["error"], "a failed job must say why"
    else:
        assert done["attempts"] >= 2 and done["model_id"]
    messages = [e["message"] or "" for e in api.c.get(f"/api/v1/jobs/{job['id']}/metrics").json()["data"]]
    assert any("requeued" in m for m in messages)


def test_model_versions_pin_and_infer_on_new_study(service, exemplar_project, start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api, env = service
    pid, _, other = exemplar_project
    start_worker(env)
    old = api.wait(api.job(pid, {"kind": "train", "preset": "tiny", "seed": 1})["id"], timeout=600)
    # a second exemplar: the next training uses both annotated studies
    _, other_lab = small_chaos_case("case_02", tmp_path)
    api.annotate(pid, other["id"], other_lab)
    new = api.wait(api.job(pid, {"kind": "train", "preset": "tiny", "seed": 2})["id"], timeout=600)
    assert old["state"] == new["state"] == "succeeded"
    assert old["model_id"] != new["model_id"]
    new_model = api.c.get(f"/api/v1/models/{new['model_id']}").json()
    assert len(new_model["exemplar_study_ids"]) == 2 and other["id"] in new_model["exemplar_study_ids"]
    assert len(api.c.get(f"/api/v1/models/{old['model_id']}").json()["exemplar_study_ids"]) == 1
    # the old version still serves its own mask; the default is the newest
    m_old = api.c.get(f"/api/v1/projects/{pid}/studies/{other['id']}/mask", params={"model": old["model_id"]})
    m_new = api.c.get(f"/api/v1/projects/{pid}/studies/{other['id']}/mask")
    assert m_old.status_code == m_new.status_code == 200
    assert m_old.headers["X-Model-Id"] == old["model_id"] and m_new.headers["X-Model-Id"] == new["model_id"]
    # pin (roll back to) the old version: it becomes the default
    r = api.c.patch(f"/api/v1/projects/{pid}", json={"active_model_id": old["model_id"], "auto_segment": True})
    assert r.status_code == 200 and r.json()["active_model_id"] == old["model_id"]
    assert api.c.get(f"/api/v1/projects/{pid}/studies/{other['id']}/mask").headers["X-Model-Id"] == old["model_id"]
    # a new upload is segmented automatically with the active model (an infer job)
    new_img, _ = small_chaos_case("case_03", tmp_path)
    study = api.upload(pid, new_img)
    jobs = api.c.get(f"/api/v1/projects/{pid}/jobs").json()["data"]
    infer = [j for j in jobs if j["kind"] == "infer"]
    assert len(infer) == 1 and infer[0]["model_id"] == old["model_id"]
    assert api.wait(infer[0]["id"], timeout=300)["state"] == "succeeded"
    mask = api.mask(pid, study["id"])
    assert mask.shape == tuple(study["shape"])
    # an explicit infer job with the newer model
    j = api.job(pid, {"kind": "infer", "study_ids": [study["id"]], "model_id": new["model_id"]})
    assert api.wait(j["id"], timeout=300)["state"] == "succeeded"
    both = {api.c.get(f"/api/v1/projects/{pid}/studies/{study['id']}/mask", params={"model": m}).headers["X-Model-Id"]
            for m in (old["model_id"], new["model_id"])}
    assert both == {old["model_id"], new["model_id"]}
    assert np.asarray(mask.dataobj).max() <= 4
