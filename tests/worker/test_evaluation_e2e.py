"""How good is this model on OUR data: reference masks measured by a real Celery worker process on
PostgreSQL + Redis, through the public API. The evaluation's Dice is the Dice of the mask a user
downloads against the reference they uploaded; an exemplar's reference is left out."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import small_chaos_case

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
LABELS = {"1": "liver", "2": "kidney_right", "3": "kidney_left", "4": "spleen"}


def _put_reference(api, pid: str, sid: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        r = api.c.put(f"/api/v1/projects/{pid}/studies/{sid}/reference", files={"file": (path.name, fh)})
    assert r.status_code == 200 and r.json()["has_reference"], r.text


def _dice_by_hand(api, pid: str, sid: str, model_id: str) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    """Dice per organ of the downloaded mask against the downloaded reference (None: in neither)."""
    pred = np.asanyarray(api.mask(pid, sid, model=model_id).dataobj)
    r = api.c.get(f"/api/v1/projects/{pid}/studies/{sid}/reference")
    assert r.status_code == 200
    ref = np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).dataobj)
    out: dict[str, float | None] = {}
    for c in LABELS:
        p, t = pred == int(c), ref == int(c)
        n = int(p.sum()) + int(t.sum())
        out[c] = 2.0 * int((p & t).sum()) / n if n else None
    return out


def test_training_evaluates_on_references_and_an_evaluate_job_measures_again(  # type: ignore[no-untyped-def]
    service, exemplar_project, start_worker, tmp_path: Path,
) -> None:
    api, env = service
    pid, ex, other = exemplar_project
    _, ex_lab = small_chaos_case("case_01", tmp_path)
    _, other_lab = small_chaos_case("case_02", tmp_path)
    # given: reference masks of a non-exemplar study and of the exemplar itself
    _put_reference(api, pid, other["id"], other_lab)
    _put_reference(api, pid, ex["id"], ex_lab)
    start_worker(env)
    # when: a model is trained
    train = api.wait(api.job(pid, {"kind": "train", "preset": "tiny"})["id"], timeout=900)
    # then: the training measured its model in a final "evaluate" stage, progress never going back
    assert train["state"] == "succeeded", train["error"]
    model_id = train["model_id"]
    assert all(b >= a for a, b in itertools.pairwise(train["_progress_seen"]))
    stages = [e["stage"] for e in api.c.get(f"/api/v1/jobs/{train['id']}/metrics").json()["data"]]
    assert stages.index("evaluate") > stages.index("segment") and stages[-1] == "evaluate"
    ev = api.c.get(f"/api/v1/models/{model_id}/evaluation").json()
    assert ev["job_id"] == train["id"] and ev["n_studies"] == 1
    # the exemplar's reference measures training data: listed as excluded, with the reason
    assert [(x["study_id"], "trained on" in x["reason"]) for x in ev["excluded"]] == [(ex["id"], True)]
    (scored,) = ev["studies"]
    assert scored["study_id"] == other["id"]
    # the reported Dice is that of the mask a user downloads against the reference (to 1e-6)
    by_hand = _dice_by_hand(api, pid, other["id"], model_id)
    for c, want in by_hand.items():
        got = scored["dice"][c]
        assert (got is None) == (want is None), (c, got, want)
        if want is not None:
            assert abs(got - want) < 1e-6, (c, got, want)
            assert abs(ev["classes"][c]["dice"] - want) < 1e-6
    present = [v for v in by_hand.values() if v is not None]
    assert abs(ev["mean_dice"] - float(np.mean(present))) < 1e-6
    assert all(v is None or v >= 0 for v in scored["hd95"].values())
    summary = api.c.get(f"/api/v1/models/{model_id}").json()["evaluation_summary"]
    assert (summary["n_studies"], summary["n_excluded"]) == (1, 1)
    assert abs(summary["mean_dice"] - ev["mean_dice"]) < 1e-12
    print(f"tiny model, mean Dice on case_02's reference: {ev['mean_dice']:.3f}")

    # given: a study added after the training (no mask of this model yet) whose stored reference
    # has become unreadable
    new_img, new_lab = small_chaos_case("case_03", tmp_path)
    new = api.upload(pid, new_img)
    _put_reference(api, pid, new["id"], new_lab)
    from store.db import get_sessionmaker
    from store.models import Study
    from store.storage import get_store

    with get_sessionmaker()() as s:
        ref_key = s.get(Study, new["id"]).reference_key  # type: ignore[union-attr]
    (tmp_path / "garbage.nii.gz").write_bytes(b"not a nifti file")
    get_store().put_file(ref_key, tmp_path / "garbage.nii.gz")
    # when: the model is evaluated again by an evaluate job (default: the active model)
    job = api.wait(api.job(pid, {"kind": "evaluate"})["id"], timeout=600)
    # then: the job succeeded; the new study was segmented first (its mask kept) and its failure
    # is recorded for it alone; the first study's score is unchanged (its mask was reused)
    assert job["state"] == "succeeded", job["error"]
    assert job["model_id"] == model_id and job["stage"] == "evaluate" and job["progress"] == 1.0
    assert api.mask(pid, new["id"], model=model_id).shape == nib.load(str(new_img)).shape
    again = api.c.get(f"/api/v1/models/{model_id}/evaluation").json()
    assert again["job_id"] == job["id"] and again["n_studies"] == 1
    assert [s["study_id"] for s in again["studies"]] == [other["id"]]
    assert again["studies"][0]["dice"] == scored["dice"]
    assert [f["study_id"] for f in again["failed"]] == [new["id"]]
    assert "reference mask" in again["failed"][0]["reason"]
    assert [x["study_id"] for x in again["excluded"]] == [ex["id"]]
