""""Prepare DICOM SEG zip" on the web page in headless Chromium, against a real `elsnet serve` (API +
worker): the button starts an export job and shows its progress, a download link appears when the
zip is ready, and the file it saves holds every segmented study's SEG. Small and separate from
the main flow (tests/e2e/test_browser.py): tiny synthetic studies, masks stored as an infer job
leaves them, no training."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import httpx
import pydicom
import pytest

from tests import factories as f
from tests.conftest import configure
from tests.e2e.helpers import serve_page
from tests.e2e.test_browser import CHROMIUM, FRONTEND, SHOTS_ENV, browser_missing

KEY = "e2e-browser-export-key-0123456789"
FLOW = Path(__file__).resolve().parent / "browser" / "export.mjs"


@pytest.mark.browser
def test_page_prepares_a_dicom_seg_zip_and_downloads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    home = tmp_path / "home"
    home.mkdir()
    with serve_page(home, KEY) as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        pid = client.post("/api/v1/projects", json={"name": "cohort", "labels": {"1": "liver"}}).json()["id"]
        ids = []
        for i in range(3):
            r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": (f"s{i}.nii.gz", f.nifti_bytes(f.volume(seed=i)))})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # given: two of the three studies segmented (rows and files in the service's own home)
        configure(monkeypatch, home)
        f.model_with_masks(pid, {ids[0]: f.label_map(), ids[1]: f.label_map()}, confidence=0.9)
        # when: a person prepares the DICOM SEG zip on the page and downloads it
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        env = dict(os.environ, ELSNET_URL=base, ELSNET_KEY=KEY, ELSNET_PROJECT=pid, ELSNET_STUDIES="3",
                   ELSNET_DOWNLOADS=str(downloads), ELSNET_FRONTEND=str(FRONTEND), CHROMIUM=str(CHROMIUM),
                   ELSNET_SHOTS=SHOTS_ENV or str(tmp_path / "shots"))
        run = subprocess.run(["node", str(FLOW)], env=env, capture_output=True, text=True, encoding="utf-8",
                             errors="replace", timeout=600)
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert run.returncode == 0, f"{out.get('error')}\n{run.stderr[-3000:]}"
        jobs = client.get(f"/api/v1/projects/{pid}/jobs").json()["data"]
    # then: a small cohort's NIfTI masks download at once; DICOM SEG is prepared; no zip before
    assert out["masks_button"] == {"text": "Download all masks", "mode": "direct"}
    assert out["seg_button"] == {"text": "Prepare DICOM SEG zip", "mode": "job"}
    assert out["area_hidden_before"] is True
    # the button showed the job's progress, disabled, and came back
    texts = out["seg_texts"]
    assert any(t.startswith("Preparing DICOM SEG zip… ") and t.endswith("|true") for t in texts), texts
    assert texts[-1] == "Prepare DICOM SEG zip|false", texts
    # the one export job the click made succeeded; its link says what is in the zip, and the rule is shown
    (job,) = [j for j in jobs if j["kind"] == "export"]
    assert (job["state"], job["format"], out["link_job"]) == ("succeeded", "dicom-seg", job["id"])
    assert out["link"].startswith("Download cohort_masks.zip (DICOM SEG, 2 masks of 3 studies, ")
    assert "a larger cohort, and DICOM SEG (seconds per study), is prepared in the background" in out["rule"]
    assert out["job_card"].startswith("Cohort export ")
    # the saved file: the job's zip, one SEG per segmented study
    data = Path(out["download"]["path"]).read_bytes()
    assert out["download"]["name"] == "cohort_masks.zip" and len(data) == job["metrics"]["bytes"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        segs = sorted(n for n in zf.namelist() if n.endswith("_seg.dcm"))
        assert sorted(n.split("__")[1] for n in segs) == sorted(f"{sid}_seg.dcm" for sid in ids[:2])
        assert {pydicom.dcmread(io.BytesIO(zf.read(n))).Modality for n in segs} == {"SEG"}
