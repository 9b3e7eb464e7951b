"""The web page end to end in headless Chromium, against a real `elsnet serve` (API + worker).

tests/e2e/browser/flow.mjs drives the page (playwright-core, Debian's /usr/bin/chromium): API key,
project, upload of two real studies (plus a bad file), a painted stroke and a filled square on one
slice, "Save annotation", a tiny training to 100 %, a mask overlay and a mask download. It prints
what it painted; this test then checks through the REST API that the saved annotation holds
exactly those voxels, on the study's grid, at the world positions NiiVue showed under the mouse.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import httpx
import nibabel as nib
import numpy as np
import pytest

from tests.e2e.helpers import serve_page

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
FLOW = Path(__file__).resolve().parent / "browser" / "flow.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# screenshots go to the test's tmp folder; ELSNET_SCREENSHOTS_DIR=docs/screenshots refreshes
# the ones the docs show (a plain test run must not rewrite tracked files)
SHOTS_ENV = os.environ.get("ELSNET_SCREENSHOTS_DIR")
KEY = "e2e-browser-key-0123456789"


def _label_file() -> Path:
    for folder in (
        REPO / "samples" / "chaos_mr_t2" / "labels",
        REPO.parent / "shared" / "data" / "chaos_mr_t2" / "labels",
    ):
        found = sorted(folder.glob("*.nii.gz"))
        if found:
            return found[0]
    return Path("/nonexistent/labels.nii.gz")


def _samples() -> list[Path]:
    for folder in (
        REPO / "samples" / "chaos_mr_t2" / "images",
        REPO.parent / "shared" / "data" / "chaos_mr_t2" / "images",
    ):
        found = sorted(folder.glob("*.nii.gz"))
        if len(found) >= 2:
            return found[:2]
    return []


def browser_missing() -> str | None:
    """Why the page cannot be driven here (no Chromium, playwright-core or node), or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian package `chromium`)"
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        return "frontend/node_modules is missing: run `cd frontend && npm ci`"
    if shutil.which("node") is None:
        return "node is not installed"
    return None


def _skip_reason() -> str | None:
    if (reason := browser_missing()) is not None:
        return reason
    if not _samples():
        return "no CHAOS sample studies (samples/chaos_mr_t2/images/*.nii.gz)"
    return None


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with serve_page(tmp_path_factory.mktemp("elsnet_home"), KEY) as (base, home):
        yield base, home


def _nifti(content: bytes) -> nib.Nifti1Image:
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return nib.Nifti1Image.from_bytes(content)


def _check_saved_stroke(client: httpx.Client, res: dict, label: int = 1) -> nib.Nifti1Image:
    """The saved annotation == the painted voxels (0 elsewhere on the touched slices, 255 on the
    others), on the study's grid, and the label lies where NiiVue showed the mouse."""
    pid, sid = res["project_id"], res["study_id"]
    r = client.get(f"/api/v1/projects/{pid}/studies/{sid}/annotation")
    assert r.status_code == 200, r.text
    ann = _nifti(r.content)
    got = np.asarray(ann.dataobj)
    study = client.get(f"/api/v1/projects/{pid}/studies/{sid}").json()
    assert list(got.shape) == list(study["shape"]) == res["dims"]
    assert got.dtype == np.uint8
    assert study["is_exemplar"] is True
    expected = np.full(got.shape, 255, np.uint8)
    assert res["touched"] == [res["slice"]]
    assert res["display_mismatches"] == 0, "the viewer does not show what will be saved"
    expected[:, :, res["slice"]] = 0
    painted = np.asarray(res["painted"], dtype=int)
    assert len(painted) > 50
    expected[painted[:, 0], painted[:, 1], painted[:, 2]] = painted[:, 3]
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} voxels differ"
    vol = _nifti(client.get(f"/api/v1/projects/{pid}/studies/{sid}/volume").content)
    assert np.allclose(ann.affine, vol.affine, atol=1e-3)
    stroke = res["stroke"]
    a, b = np.asarray(stroke["start"]["mm"]), np.asarray(stroke["end"]["mm"])
    world = nib.affines.apply_affine(ann.affine, np.argwhere(got == label))
    spacing = np.asarray(ann.header.get_zooms()[:3])
    reach = (stroke["brush_radius"] + 1.0) * float(spacing[:2].max())
    dist = _segment_distance(world, a, b)
    assert dist.max() <= reach, f"a voxel {dist.max():.1f} mm from the stroke (allowed {reach:.1f})"
    for end in (a, b):  # the stroke's ends are painted
        assert np.linalg.norm(world - end, axis=1).min() <= float(spacing[:2].max())
    assert np.linalg.norm(b - a) > 20 * float(spacing[:2].min())
    return ann


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def test_frontend_unit_tests() -> None:
    """The painting model and the NIfTI writer (frontend/test, `npm test`: node's test runner)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    run = subprocess.run(["npm", "test"], cwd=FRONTEND, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_page_paint_save_train_review(service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, home = service
    shots = Path(SHOTS_ENV) if SHOTS_ENV else tmp_path / "screenshots"
    samples = _samples()
    label_file: Path | None = _label_file()  # the first sample's reference labels, when present
    if not (label_file.exists() and label_file.name == samples[0].name):
        label_file = None
    # the second sample's expert labels, uploaded on the page as its reference mask
    reference: Path | None = samples[1].parent.parent / "labels" / samples[1].name if len(samples) > 1 else None
    if reference is not None and not reference.exists():
        reference = None
    # a copy of the first study stored with the voxel axes permuted (third axis = left-right):
    # the page must paint it in the sagittal view and save it in this voxel order
    src = nib.load(samples[0])
    permuted = np.ascontiguousarray(np.transpose(np.asanyarray(src.dataobj), (1, 2, 0)))
    oriented_affine = src.affine.copy()
    oriented_affine[:, :3] = src.affine[:, [1, 2, 0]]
    oriented = tmp_path / "oriented_sagittal.nii.gz"
    nib.save(nib.Nifti1Image(permuted, oriented_affine), oriented)
    # given: the service and a browser
    env = dict(
        os.environ,
        ELSNET_URL=base,
        ELSNET_KEY=KEY,
        ELSNET_SAMPLES=":".join(map(str, samples)),
        ELSNET_SHOTS=str(shots),
        ELSNET_DOWNLOADS=str(tmp_path),
        ELSNET_FRONTEND=str(FRONTEND),
        ELSNET_LABEL_FILE=str(label_file or ""),
        ELSNET_REFERENCE=str(reference or ""),
        ELSNET_ORIENTED=str(oriented),
    )
    # when: a person uses the page
    run = subprocess.run(
        ["node", str(FLOW)], cwd=REPO, env=env, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=1800
    )
    assert run.stdout.strip(), f"flow printed nothing\n{run.stderr[-4000:]}"
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, (
        f"{out.get('error')}\n{run.stderr[-4000:]}\n{(home / 'serve.log').read_text()[-3000:]}"
    )

    # then: the key stayed in sessionStorage, both studies uploaded, the bad file's reason shown
    assert out["session_key_only"] is True
    assert "API key" in out["bad_key_message"] and len(out["bad_key_message"]) > 20
    assert out["thumbs_loaded"] is True
    assert out["upload_ok"] == 2
    assert out["upload_progress_texts"] == ["100 %", "100 %"]
    assert len(out["upload_rejected_text"]) == 1 and "not_a_scan" in out["upload_rejected_text"][0]
    assert (
        "NIfTI" in out["upload_rejected_text"][0]
        or "nifti" in out["upload_rejected_text"][0].lower()
    )

    # then: keyboard and wheel move one slice; the CT preset is W400/L40, MR auto something else
    nav = out["navigation"]
    assert abs(nav["up"] - nav["start"]) == 1 and nav["down"] == 2 * nav["start"] - nav["up"]
    assert abs(nav["wheel"] - nav["down"]) == 1
    assert out["window_ct"].startswith("W 400") and "L 40" in out["window_ct"]
    assert out["window_mr"] != out["window_ct"]
    assert out["window_initial"] == out["window_mr"]  # an MR study opens with the MR window

    # then: fill, undo and redo changed what is painted
    fill = out["fill"]
    assert (
        fill["after"] > fill["before"]
        and fill["after_undo"] == fill["before"]
        and fill["after_redo"] == fill["after"]
    )

    # then: the saved annotation is exactly the painted voxels, 0 elsewhere on the touched slice,
    # 255 elsewhere, on the study's own grid, and where NiiVue showed the mouse
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    pid = out["project_id"]
    ann = _check_saved_stroke(client, out)
    assert set(np.unique(np.asarray(ann.dataobj)[:, :, out["slice"]])) == {0, 1, 2}

    # then: the same holds for a study whose slices are sagittal (painted in the sagittal view)
    ori = out["oriented"]
    assert ori["saved"] is True and ori["paint_view"] == "sagittal"
    assert ori["dims"] == [permuted.shape[0], permuted.shape[1], permuted.shape[2]]
    _check_saved_stroke(client, ori)

    # then: training reached 100 %, a loss curve was drawn, a mask was shown and downloaded
    assert out["train_state"] == "succeeded" and out["train_progress"] == "100"
    assert out["chart_points"] >= 2
    assert out.get("live", {}).get("stage"), "no live stage was shown while training"
    assert out["mask_voxels_shown"] > 0
    # then: the cohort table showed each segmented study's mask confidence (ranked against the
    # model's other studies only from four on: this cohort is smaller, so no "review first")
    cells = out["confidence_cells"]
    assert cells and any(c["confidence"] is not None for c in cells), cells
    for c in cells:
        conf = c["confidence"]
        assert c["text"] == (None if conf is None else "no organ" if conf == 0 else f"{conf:.2f}"), c
    mask = _nifti(Path(out["download"]["path"]).read_bytes())
    review = client.get(f"/api/v1/projects/{pid}/studies/{out['review_study_id']}").json()
    assert list(mask.shape) == list(review["shape"])
    assert int((np.asarray(mask.dataobj) > 0).sum()) == out["mask_voxels_shown"]
    # then: reopening the exemplar showed the first model's slice-to-paint-next (when it made
    # one for this study) and "Go to" moved the viewer there
    models = sorted(client.get(f"/api/v1/projects/{pid}/models").json()["data"], key=lambda m: m["created_at"])
    sugg = [x for x in models[0]["metrics"]["next_slice_to_paint"] if x["study_id"] == out["study_id"]]
    hint = out["next_slice"]
    if sugg:
        k = sugg[0]["slice"]
        assert hint["shown"] and int(hint["slice"]) == k and hint["painted"] == "false"
        assert hint["went_to"] == k and f"slice {k + 1} " in hint["readout"]
        assert f"paint slice {k + 1} next" in hint["text"]
    else:
        assert not hint["shown"], hint
    print(f"next-slice hint: {hint}")
    page = out["next_slice_page"]  # the page given a model record with a suggestion
    assert page["unpainted"]["shown"] and page["unpainted"]["painted"] == "false"
    assert f"paint slice {page['other'] + 1} next" in page["unpainted"]["text"]
    assert page["painted"]["shown"] and page["painted"]["painted"] == "true"
    assert "annotated now" in page["painted"]["text"]
    assert page["went_to"] == page["other"] and page["restored"] is True
    # then: "show what training made of the painted slice" showed the completion the service
    # serves for that model: more organ voxels than the one painted slice holds
    comp = out["completion"]
    served = client.get(f"/api/v1/projects/{pid}/studies/{out['study_id']}/completion",
                        params={"model": comp["model"]})
    assert served.status_code == 200, served.text
    completed = np.asarray(_nifti(served.content).dataobj)
    assert comp["organ_voxels"] == int(((completed > 0) & (completed < 255)).sum())
    assert comp["organ_voxels"] > int(((np.asarray(ann.dataobj) > 0) & (np.asarray(ann.dataobj) < 255)).sum())
    assert "learnt from" in comp["text"] and f"{comp['organ_voxels']} organ voxels" in comp["text"]
    # then: a second training succeeded, a third was cancelled, the older model was pinned active
    assert out["auto_segment_toggled"] is True
    assert out["train2_state"] == "succeeded"
    assert out["cancel_state"] == "cancelled"
    assert client.get(f"/api/v1/jobs/{out['cancel_job_id']}").json()["state"] == "cancelled"
    assert out["models"] >= 2
    seg = Path(out["download_seg"]["path"]).read_bytes()
    assert seg[128:132] == b"DICM", "the DICOM SEG download is not a DICOM file"
    # then: "Download all masks" gave the reviewed study's mask (the same bytes' voxels as the
    # single download) with volumes.csv, and "Volumes (CSV)" the same table
    with zipfile.ZipFile(out["download_all"]["path"]) as zf:
        table = list(csv.DictReader(io.StringIO(zf.read("volumes.csv").decode())))
        row = next(r for r in table if r["study_id"] == out["review_study_id"])
        in_zip = _nifti(zf.read(row["mask_file"]))
    assert np.array_equal(np.asarray(in_zip.dataobj), np.asarray(mask.dataobj))
    csv_alone = list(csv.DictReader(io.StringIO(Path(out["download_csv"]["path"]).read_text())))
    assert [r["study_id"] for r in csv_alone] == [r["study_id"] for r in table]
    assert {r["study_id"] for r in table} == {s["id"] for s in client.get(f"/api/v1/projects/{pid}/studies").json()["data"]}
    assert client.get(f"/api/v1/projects/{pid}").json()["active_model_id"] == out["made_active"]

    # then: the reference mask uploaded on the page was stored, and the model's evaluation on it
    # (computed by the worker) is what the page showed, organ by organ
    if reference is not None:
        ev = out["evaluation"]
        study = client.get(f"/api/v1/projects/{pid}/studies/{ev['study_id']}").json()
        assert study["has_reference"] is True
        doc = client.get(f"/api/v1/models/{ev['model_id']}/evaluation").json()
        assert doc["n_studies"] == 1 and [s["study_id"] for s in doc["studies"]] == [ev["study_id"]] == ev["studies"]
        assert ev["mean_text"] == f"{doc['mean_dice']:.3f}"
        shown = {o["label"]: o["dice"] for o in ev["organs"]}
        assert shown == {k: ("—" if c["dice"] is None else f"{c['dice']:.3f}") for k, c in doc["classes"].items()}

    # then: "correct annotation" saved the mask as the second exemplar, on every slice
    assert out["correction_saved"] is True
    r = client.get(f"/api/v1/projects/{pid}/studies/{out['review_study_id']}/annotation")
    assert r.status_code == 200, r.text
    corrected = np.asarray(_nifti(r.content).dataobj)
    assert np.array_equal(corrected, np.asarray(mask.dataobj).astype(np.uint8))
    assert out["correction_touched"] == corrected.shape[2]

    # then: a label file loaded as the starting point shows all its labelled voxels
    if label_file is not None:
        lab = np.asarray(nib.load(label_file).dataobj)
        assert out["label_file"]["painted"] == int(((lab > 0) & (lab != 255)).sum())
        assert out["label_file"]["touched"] == int(
            sum((lab[:, :, z] != 255).any() for z in range(lab.shape[2]))
        )
    for name in (
        "00_projects",
        "01_cohort_upload",
        "02_annotate",
        "03_training",
        "04_cohort_review",
        "05_review_mask",
    ):
        assert (shots / f"{name}.png").stat().st_size > 10_000
