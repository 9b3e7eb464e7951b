"""The web page's "Import from PACS" in headless Chromium, against a real `elsnet serve` and a real
Orthanc PACS: search by patient, import, the study appears in the cohort as DICOM."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import nibabel as nib
import pytest

from tests import factories as f
from tests.conftest import small_chaos_case
from tests.e2e.helpers import serve_page
from tests.e2e.test_browser import CHROMIUM, FRONTEND, SHOTS_ENV, _skip_reason

KEY = "e2e-browser-pacs-key-0123456789"
AUTH = ("elsnet", "test-password")
FLOW = Path(__file__).resolve().parent / "browser" / "pacs.mjs"


@pytest.mark.browser
def test_page_imports_a_study_from_the_pacs(orthanc: str, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # given: a patient's MR series on the PACS (a real CHAOS case as a scanner sends it)
    root = orthanc.rsplit("/dicom-web", 1)[0]
    for patient in httpx.get(f"{root}/patients", auth=AUTH).json():  # the session's PACS, emptied
        httpx.delete(f"{root}/patients/{patient}", auth=AUTH).raise_for_status()
    img, _ = small_chaos_case("case_05", tmp_path)
    for part in f.dicom_series_from_nifti(img, patient_id="browser-pacs-05"):
        httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()
    other, _ = small_chaos_case("case_03", tmp_path)
    for part in f.dicom_series_from_nifti(other, patient_id="browser-pacs-03"):
        httpx.post(f"{root}/instances", content=part, auth=AUTH).raise_for_status()
    servers = json.dumps({"pacs": {"url": orthanc, "username": AUTH[0], "password": AUTH[1]}})
    home = tmp_path / "home"
    home.mkdir()
    with serve_page(home, KEY, ELSNET_DICOMWEB_SERVERS=servers) as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        pid = client.post("/api/v1/projects", json={"name": "pacs page", "labels": {"1": "liver"}}).json()["id"]
        # when: a person searches the PACS on the page and imports the study
        env = dict(os.environ, ELSNET_URL=base, ELSNET_KEY=KEY, ELSNET_PROJECT=pid, ELSNET_PATIENT="browser-pacs-05",
                   ELSNET_FRONTEND=str(FRONTEND), CHROMIUM=str(CHROMIUM), ELSNET_SHOTS=SHOTS_ENV or str(tmp_path / "shots"))
        run = subprocess.run(["node", str(FLOW)], env=env, capture_output=True, text=True, encoding="utf-8",
                             errors="replace", timeout=600)
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert run.returncode == 0, f"{out.get('error')}\n{run.stderr[-3000:]}"
        # then: the page listed the one matching study and added it to the cohort
        assert out["servers"] == ["pacs"]
        assert out["rows"] == 1 and "browser-pacs-05" in out["row_text"] and "MR" in out["row_text"]
        assert "added" in out["status"] and out["cohort_rows"] == 1 and out["empty_shown"] is True
        assert out["thumb_loaded"] is True
        # then: "Import all" brought the rest in as one job; the study imported before is not doubled
        assert out["import_all_label"] == "Import all 2 as one job"
        assert out["import_all_status"].startswith("✓ 2 imported") and out["cohort_rows_after"] == 2
        studies = client.get(f"/api/v1/projects/{pid}/studies").json()["data"]
        assert sorted(s["name"] for s in studies) == ["browser-pacs-03 T2 SPIR", "browser-pacs-05 T2 SPIR"]
        studies = [s for s in studies if s["name"].startswith("browser-pacs-05")]
        assert len(studies) == 1 and studies[0]["source_format"] == "dicom"
        assert studies[0]["name"] == "browser-pacs-05 T2 SPIR"  # patient id + series description
        assert studies[0]["shape"] == list(nib.load(str(img)).shape)
