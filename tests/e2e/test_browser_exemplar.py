""""Which study to annotate?" on the web page in headless Chromium, against a real `elsnet serve`
(API + worker): the button ranks the cohort, the suggested study is marked with why, each study
shows its rank, and a study uploaded afterwards makes the ranking say it is out of date. Small and
separate from the main flow (tests/e2e/test_browser.py): four tiny synthetic studies, no training."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import serve_page
from tests.e2e.test_browser import CHROMIUM, FRONTEND, SHOTS_ENV, browser_missing
from tests.worker.test_exemplar_ranking_e2e import cohort_with_an_odd_one

KEY = "e2e-browser-exemplar-key-0123456789"
FLOW = Path(__file__).resolve().parent / "browser" / "exemplar.mjs"
WHY = "its image maps best onto the other studies by registration; on our benchmark packs this rule never picked a below-median exemplar"


@pytest.mark.browser
def test_page_suggests_which_study_to_annotate(tmp_path: Path) -> None:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    typical, odd = cohort_with_an_odd_one(tmp_path / "cohort")
    home = tmp_path / "home"
    home.mkdir()
    with serve_page(home, KEY) as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        pid = client.post("/api/v1/projects", json={"name": "which one", "labels": {"1": "liver"}}).json()["id"]
        ids = {}
        for p in (typical[0], odd, typical[1]):
            with open(p, "rb") as fh:
                r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": (p.name, fh)})
            assert r.status_code == 201, r.text
            ids[p.name.split(".")[0]] = r.json()["id"]
        # when: a person asks the page which study to annotate (and a study arrives afterwards)
        env = dict(os.environ, ELSNET_URL=base, ELSNET_KEY=KEY, ELSNET_PROJECT=pid, ELSNET_STUDIES="3",
                   ELSNET_EXTRA=str(typical[2]), ELSNET_FRONTEND=str(FRONTEND), CHROMIUM=str(CHROMIUM),
                   ELSNET_SHOTS=SHOTS_ENV or str(tmp_path / "shots"))
        run = subprocess.run(["node", str(FLOW)], env=env, capture_output=True, text=True, encoding="utf-8",
                             errors="replace", timeout=600)
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert run.returncode == 0, f"{out.get('error')}\n{run.stderr[-3000:]}"
        ranking = client.get(f"/api/v1/projects/{pid}/exemplar-ranking").json()
    # then: before the ranking, nothing was suggested
    assert out["hint_hidden_before"] is True
    assert {c["typicality"] for c in out["cells_before"].values()} == {"—"}
    assert not any(c["suggested"] for c in out["cells_before"].values())
    # the button showed the job's progress while it ran, disabled, and came back afterwards
    texts = out["button_texts"]
    assert texts[0] == "Which study to annotate?"
    assert any(t.endswith("|true") and " %" in t for t in texts), texts
    assert texts[-1] == "Which study to annotate?|false", texts
    # the study the service suggests is the one marked, with why; the atypical one is last
    best = ranking["suggested_study_id"]
    assert best != ids["atypical"]
    assert [sid for sid, c in out["cells"].items() if c["suggested"]] == [best]
    name = next(x["name"] for x in ranking["studies"] if x["study_id"] == best)
    assert out["hint"] == f"★ Suggested exemplar: annotate {name} — {WHY}. Annotate it"
    assert out["cells"][best]["typicality"] == "#1 of 3"
    assert out["cells"][ids["atypical"]]["typicality"] == "#3 of 3"
    assert out["cells"][ids["atypical"]]["title"].startswith("typicality 0.")
    # a study uploaded after the ranking: not ranked, and the ranking says it is out of date
    assert out["cells_after"][out["extra_id"]]["typicality"] == "added after the ranking"
    assert out["hint_after"].splitlines()[-1] == \
        "1 study was added since this ranking: ask again for an up-to-date suggestion."
    # its button opens the suggested study in the viewer with the painting tools
    assert out["opened_for_annotation"].endswith("/viewer")
