"""Orphaned objects (store/housekeeping.py, `elsnet storage-check`): what no row reaches any more
is found and removed, on the local folder and on S3; what a row reaches, what is being written
now, a replaced annotation a running job may still read, and what the rules do not know are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session as OrmSession

from store.db import session_scope
from store.housekeeping import find_orphans, remove_orphans
from store.models import Job, Mask, Model, Project, Study, new_id, utcnow
from store.storage import LocalStore, ObjectStore
from tests.conftest import REPO


def _rows() -> dict[str, str]:
    """A project with a study that has a mask of a registered model, and a running training."""
    ids = {k: new_id() for k in ("project", "study", "model", "pending", "gone_study", "gone_project",
                                 "dead_model", "failed_pending", "export_running", "export_ready", "export_expired",
                                 "export_failed", "export_gone", "quiet_project", "quiet_study")}
    with session_scope() as s:
        s.add(Project(id=ids["project"], name="p", labels={"1": "liver"}, colors={}, auto_segment=False))
        s.flush()
        s.add(Study(id=ids["study"], project_id=ids["project"], name="s", modality="MR", source_format="nifti",
                    shape=[2, 2, 2], spacing=[1, 1, 1], affine=[], sha256=new_id(), size_bytes=1, original_keys=[],
                    volume_key=f"projects/{ids['project']}/studies/{ids['study']}/volume.nii.gz"))
        s.add(Model(id=ids["model"], project_id=ids["project"], job_id="j", artifact_key="a", config={}, metrics={},
                    exemplar_study_ids=[]))
        s.flush()
        s.add(Mask(study_id=ids["study"], model_id=ids["model"], job_id="j",
                   key=f"masks/{ids['study']}/{ids['model']}.nii.gz"))
        s.add(Job(project_id=ids["project"], kind="train", state="running", params={"pending_model_id": ids["pending"]}))
        s.add(Job(project_id=ids["project"], kind="train", state="failed",
                  params={"pending_model_id": ids["failed_pending"]}))
        # export jobs (store/cohort.py): one writing its zip, one downloadable until tomorrow, one
        # expired (its zip is the reaper's to delete), one failed after storing its zip
        soon, past = utcnow() + timedelta(days=1), utcnow() - timedelta(minutes=1)
        s.add(Job(id=ids["export_running"], project_id=ids["project"], kind="export", state="running"))
        s.add(Job(id=ids["export_ready"], project_id=ids["project"], kind="export", state="succeeded",
                  finished_at=utcnow(), metrics={"expires_at": soon.isoformat()}))
        s.add(Job(id=ids["export_expired"], project_id=ids["project"], kind="export", state="succeeded",
                  finished_at=utcnow(), metrics={"expires_at": past.isoformat()}))
        s.add(Job(id=ids["export_failed"], project_id=ids["project"], kind="export", state="failed"))
        # a project no job reads: its study's annotation and reference were each replaced once
        qp, qs = ids["quiet_project"], ids["quiet_study"]
        s.add(Project(id=qp, name="q", labels={"1": "liver"}, colors={}, auto_segment=False))
        s.flush()
        s.add(Study(id=qs, project_id=qp, name="s", modality="MR", source_format="nifti", shape=[2, 2, 2],
                    spacing=[1, 1, 1], affine=[], sha256=new_id(), size_bytes=1, original_keys=[],
                    volume_key=f"projects/{qp}/studies/{qs}/volume.nii.gz",
                    annotation_key=f"projects/{qp}/studies/{qs}/annotation/new.nii.gz",
                    reference_key=f"projects/{qp}/studies/{qs}/reference/new.nii.gz"))
    return ids


def _put_all(store: ObjectStore, ids: dict[str, str]) -> tuple[set[str], set[str], set[str]]:
    p, st, m = ids["project"], ids["study"], ids["model"]
    qs = f"projects/{ids['quiet_project']}/studies/{ids['quiet_study']}"
    # the running training of project p may have listed the study's replaced annotation: kept
    kept = {f"projects/{p}/studies/{st}/volume.nii.gz", f"projects/{p}/studies/{st}/annotation/old.nii.gz",
            f"masks/{st}/{m}.nii.gz", f"models/{m}/model.tar.gz", f"models/{ids['pending']}/model.tar.gz",
            f"{qs}/volume.nii.gz", f"{qs}/annotation/new.nii.gz", f"{qs}/reference/new.nii.gz"}
    orphans = {f"projects/{p}/studies/{ids['gone_study']}/volume.nii.gz",
               f"projects/{ids['gone_project']}/studies/x/volume.nii.gz",
               f"masks/{st}/{ids['dead_model']}.nii.gz", f"models/{ids['dead_model']}/model.tar.gz",
               f"models/{ids['failed_pending']}/completion/{st}.nii.gz", f"projects/{p}/studies/{st}/.tmp-abc",
               f"{qs}/annotation/old.nii.gz", f"{qs}/reference/old.nii.gz"}
    exports = f"projects/{p}/exports"
    kept |= {f"{exports}/{ids['export_running']}.zip", f"{exports}/{ids['export_ready']}.zip"}
    orphans |= {f"{exports}/{ids['export_expired']}.zip", f"{exports}/{ids['export_failed']}.zip",
                f"{exports}/{ids['export_gone']}.zip"}
    unknown = {"exports/something.bin", f"{exports}/notes.txt"}
    for key in kept | orphans | unknown:
        store.put_bytes(key, b"x" * 10)
    return kept, orphans, unknown


def _keys(store: ObjectStore) -> set[str]:
    return {o.key for o in store.list_objects()}


def test_orphans_are_found_by_reason_and_only_they_are_removed(store: ObjectStore, sqlite_env: dict) -> None:
    # given: objects rows reach, objects left behind by deletions and failed trainings, one unknown
    ids = _rows()
    kept, orphans, unknown = _put_all(store, ids)
    # when: judged an hour from now (everything is old enough)
    with session_scope() as s:
        report = find_orphans(s, store, min_age=timedelta(minutes=30), now=utcnow() + timedelta(hours=1))
    # then
    assert {o.key for o in report.orphans} == orphans
    assert {u.key for u in report.unknown} == unknown and report.scanned == len(kept | orphans | unknown)
    assert report.by_reason() == {
        "an interrupted write": (1, 10), "its model does not exist and no job is training it": (2, 20),
        "its project was deleted": (1, 10), "its study was deleted": (1, 10), "no mask row points at it": (1, 10),
        "its export expired": (1, 10), "its export job did not succeed": (1, 10),
        "its export job does not exist": (1, 10), "a replaced or removed annotation version": (1, 10),
        "a replaced or removed reference version": (1, 10)}
    assert remove_orphans(store, report) == len(orphans)
    assert _keys(store) == kept | unknown


def test_nothing_younger_than_the_minimum_age_is_judged(tmp_path: Path, sqlite_env: dict) -> None:
    store = LocalStore(tmp_path / "objects")
    ids = _rows()
    _, orphans, _ = _put_all(store, ids)
    old = sorted(orphans)[0]
    stamp = (utcnow() - timedelta(hours=30)).timestamp()
    os.utime(tmp_path / "objects" / old, (stamp, stamp))
    with session_scope() as s:
        report = find_orphans(s, store, min_age=timedelta(hours=24))
    assert [o.key for o in report.orphans] == [old] and report.too_recent == len(orphans) - 1


def test_the_cli_lists_and_deletes_only_when_asked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "STORAGE_URL")}
    env["ELSNET_HOME"] = str(tmp_path / "home")
    cli = [sys.executable, str(REPO / "elsnet_cli.py")]
    assert subprocess.run([*cli, "migrate"], cwd=REPO, env=env, capture_output=True).returncode == 0
    objects = tmp_path / "home" / "objects"
    stray = objects / "masks" / "s" / "m.nii.gz"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"patient data nobody can reach")
    # a study whose annotation was replaced, and the replaced version a crash left behind
    folder = "projects/p/studies/s/annotation"
    engine = create_engine(f"sqlite:///{tmp_path / 'home' / 'elsnet.db'}")
    with OrmSession(engine) as s:
        s.add(Project(id="p", name="p", labels={"1": "liver"}, colors={}, auto_segment=False))
        s.flush()
        s.add(Study(id="s", project_id="p", name="s", modality="MR", source_format="nifti", shape=[2, 2, 2],
                    spacing=[1, 1, 1], affine=[], sha256="h", size_bytes=1, original_keys=[],
                    volume_key="projects/p/studies/s/volume.nii.gz", annotation_key=f"{folder}/new.nii.gz"))
        s.commit()
    engine.dispose()
    (objects / folder).mkdir(parents=True)
    for name in ("old", "new"):
        (objects / folder / f"{name}.nii.gz").write_bytes(f"{name} annotation".encode())
    listed = subprocess.run([*cli, "storage-check", "--min-age-hours", "0"], cwd=REPO, env=env,
                            capture_output=True, text=True, encoding="utf-8")
    assert listed.returncode == 0, listed.stderr
    assert "2 orphaned" in listed.stdout and "masks/s/m.nii.gz  (no mask row points at it)" in listed.stdout
    assert f"{folder}/old.nii.gz  (a replaced or removed annotation version)" in listed.stdout
    assert stray.exists() and "run again with --delete" in listed.stdout
    removed = subprocess.run([*cli, "storage-check", "--min-age-hours", "0", "--delete"], cwd=REPO, env=env,
                             capture_output=True, text=True, encoding="utf-8")
    assert removed.returncode == 0 and "removed 2 objects" in removed.stdout and not stray.exists()
    assert sorted(p.name for p in (objects / folder).iterdir()) == ["new.nii.gz"]
