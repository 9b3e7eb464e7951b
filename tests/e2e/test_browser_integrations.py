"""The web page's integration screens in headless Chromium, against a real `elsnet serve`: the
Integrations tab (webhooks: list, deliveries with the reason a hook fails, add with the secret
shown once, the service's refusals, delete) and the projects page's API keys card (create a reader
key limited to a project, the key shown once, revoke; the last admin key cannot be revoked; hidden
from a key that is not admin, whose changes are refused with the service's reason). The page's work is checked
through the REST API, at checkpoints while the flow (browser/integrations.mjs) waits."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests import factories as f
from tests.e2e.helpers import serve_page
from tests.e2e.test_browser import CHROMIUM, FRONTEND, SHOTS_ENV, browser_missing
from tests.webhook_receiver import Receiver

KEY = "e2e-browser-integrations-key-0123456789"
FLOW = Path(__file__).resolve().parent / "browser" / "integrations.mjs"
HOOK_DOWN = "http://127.0.0.1:9/ris-is-down"  # nothing listens on port 9: connection refused
NEW_HOOK = "http://127.0.0.1:9/hook"
BAD_HOST = "https://ris.elsewhere.example/hook"  # not in ELSNET_WEBHOOK_ALLOWED_HOSTS




def _ended_deliveries(client: httpx.Client, pid: str, hook_id: str, timeout: float = 60.0) -> list[dict]:
    t0 = time.time()
    while time.time() - t0 < timeout:
        rows = client.get(f"/api/v1/projects/{pid}/webhooks/{hook_id}/deliveries").json()["data"]
        if rows and all(d["state"] != "pending" for d in rows):
            return list(rows)
        time.sleep(0.5)
    raise TimeoutError(f"deliveries of {hook_id} still pending after {timeout} s: {rows}")


def _a_job_ends(client: httpx.Client, pid: str) -> dict:
    """A tiny exemplar, a training started and cancelled at once: one job.cancelled event (or,
    should the training end first, its own event)."""
    r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": ("tiny.nii.gz", f.nifti_bytes(f.volume()))})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.put(f"/api/v1/projects/{pid}/studies/{sid}/annotation", files={"file": ("l.nii.gz", f.nifti_bytes(f.label_map()))})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": "tiny"})
    assert r.status_code == 202, r.text
    job = r.json()
    client.post(f"/api/v1/jobs/{job['id']}/cancel")  # 409 if it already ended: fine
    t0 = time.time()
    while (job := client.get(f"/api/v1/jobs/{job['id']}").json())["state"] not in ("succeeded", "failed", "cancelled"):
        assert time.time() - t0 < 300, job
        time.sleep(0.5)
    return dict(job)


class Flow:
    """The node flow, stepped checkpoint by checkpoint."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.err = open(log, "w")  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen(["node", str(FLOW)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, encoding="utf-8", errors="replace", bufsize=1)

    def next(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the flow ended early: {self.log.read_text()[-3000:]}"
        msg = json.loads(line)
        assert "error" not in msg, f"{msg['error']}\n{self.log.read_text()[-3000:]}"
        return dict(msg)

    def go_on(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("ok\n")
        self.proc.stdin.flush()

    def finish(self) -> dict:
        out = self.next()
        assert self.proc.wait(timeout=120) == 0
        self.err.close()
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_page_manages_webhooks_and_api_keys(tmp_path: Path) -> None:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    home = tmp_path / "home"
    home.mkdir()
    settings = {"ELSNET_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "ELSNET_WEBHOOK_MAX_ATTEMPTS": "1",
                "ELSNET_WEBHOOK_INTERVAL_S": "0.5"}
    with Receiver(status=200) as rx, serve_page(home, KEY, **settings) as (base, _):
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        pid = client.post("/api/v1/projects", json={"name": "integrations page", "labels": {"1": "liver"}}).json()["id"]
        # given: a project whose hospital systems are told when jobs end: one receiver answers,
        # the other is down (one attempt allowed, so its delivery has failed for good)
        hook_ok = client.post(f"/api/v1/projects/{pid}/webhooks", json={"url": rx.url}).json()
        hook_down = client.post(f"/api/v1/projects/{pid}/webhooks", json={"url": HOOK_DOWN}).json()
        job = _a_job_ends(client, pid)
        assert [d["state"] for d in _ended_deliveries(client, pid, hook_ok["id"])] == ["delivered"]
        down = _ended_deliveries(client, pid, hook_down["id"])
        assert [d["state"] for d in down] == ["failed"] and "Connection refused" in down[0]["last_error"], down
        # when: a person (hospital IT) works through the page
        env = dict(os.environ, ELSNET_URL=base, ELSNET_KEY=KEY, ELSNET_PROJECT=pid, ELSNET_HOOK_OK=rx.url,
                   ELSNET_HOOK_DOWN=HOOK_DOWN, ELSNET_NEW_HOOK=NEW_HOOK, ELSNET_BAD_HOST=BAD_HOST,
                   ELSNET_FRONTEND=str(FRONTEND), CHROMIUM=str(CHROMIUM), ELSNET_SHOTS=SHOTS_ENV or str(tmp_path / "shots"))
        flow = Flow(env, tmp_path / "flow.log")
        try:
            # ... adds a webhook for failed and cancelled jobs: the service has it, with those events
            added = flow.next()
            assert added["checkpoint"] == "webhook_added"
            listed = client.get(f"/api/v1/projects/{pid}/webhooks")
            mine = [w for w in listed.json()["data"] if w["id"] == added["webhook_id"]]
            assert len(mine) == 1 and mine[0]["url"] == NEW_HOOK
            assert mine[0]["events"] == ["job.failed", "job.cancelled"] and mine[0]["disabled_at"] is None
            # the secret shown is a real one, and no list answer carries it (nor any other secret)
            secret = added["secret"]
            assert secret.startswith("whsec_") and len(secret) > 30
            assert "secret" not in listed.text and "whsec_" not in listed.text
            for hook in (hook_ok, hook_down):
                assert hook["secret"] not in listed.text
                assert secret not in client.get(f"/api/v1/projects/{pid}/webhooks/{hook['id']}/deliveries").text
            assert secret not in client.get(f"/api/v1/projects/{pid}/webhooks/{added['webhook_id']}/deliveries").text
            flow.go_on()
            # ... creates an API key: it works while the page shows it
            made = flow.next()
            assert made["checkpoint"] == "key_created"
            new_key = made["key"]
            assert new_key.startswith("els_") and new_key != KEY
            as_new = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {new_key}"}, timeout=60)
            assert [p["id"] for p in as_new.get("/api/v1/projects").json()["data"]] == [pid]
            assert as_new.get("/api/v1/keys").status_code == 403  # made as a reader
            assert as_new.patch(f"/api/v1/projects/{pid}", json={"auto_segment": True}).status_code == 403
            keys = client.get("/api/v1/keys")
            row = [k for k in keys.json()["data"] if k["id"] == made["key_id"]]
            assert row == [{**row[0], "name": "PACS bridge", "role": "reader", "project_ids": [pid], "is_admin": False,
                            "prefix": new_key[:12], "revoked_at": None}]
            assert new_key not in keys.text and KEY not in keys.text
            flow.go_on()
            out = flow.finish()
        finally:
            flow.kill()
        # then: the page showed the webhooks and why the one that is down fails
        assert out["hash"] == f"#/projects/{pid}/integrations"
        assert out["listed_before"] == [rx.url, HOOK_DOWN]
        ok_rows = out["deliveries_ok"]["rows"]
        assert [r["badge"] for r in ok_rows] == ["delivered"] and " ok" in ok_rows[0]["badge_class"]
        assert "HTTP 200" in ok_rows[0]["text"] and job["id"][:8] in ok_rows[0]["text"]
        assert out["deliveries_ok"]["toggle"] == "Hide deliveries" and "1 delivered" in out["deliveries_ok"]["summary"]
        down_row = out["deliveries_down"]["rows"][0]
        assert down_row["badge"] == "failed" and " err" in down_row["badge_class"]
        assert "gave up after 1 attempt" in down_row["text"] and down[0]["last_error"] in down_row["text"]
        assert f"job.{job['state']}" in down_row["text"]
        # ... the form: all three events ticked by default, ticked again after the webhook was added
        assert out["events_default"] == [["job.succeeded", True], ["job.failed", True], ["job.cancelled", True]]
        assert out["events_after_reset"] == [True, True, True]
        assert out["secret"] == secret and "will not be shown again" in out["secret_box"]
        assert "job.failed" in out["added"]["text"] and "job.succeeded" not in out["added"]["text"]
        assert out["copy_said"]
        # ... the refusals, in the service's words
        assert "at least one event" in out["error_no_event"]
        assert "http:// or https://" in out["error_bad_url"] and "ftp://pacs.hospital.example/hook" in out["error_bad_url"]
        assert "hosts the operator allows" in out["error_bad_host"] and "ris.elsewhere.example" in out["error_bad_host"]
        assert out["rows_after_refusals"] == 3
        # ... the webhook deleted after a confirmation: the service no longer has it
        assert any(NEW_HOOK in d and d.startswith("Delete the webhook") for d in out["dialogs"])
        assert out["listed_after"] == [rx.url, HOOK_DOWN]
        assert [w["id"] for w in client.get(f"/api/v1/projects/{pid}/webhooks").json()["data"]] == [hook_ok["id"], hook_down["id"]]
        assert out["secret_cleared"] is True
        # ... the API keys: the page's own key listed as such; the new key shown once, then revoked
        assert len(out["keys_before"]) == 1 and "this page" in out["keys_before"][0]
        assert out["new_key"] == new_key and "will not be shown again" in out["key_box"]
        assert new_key[:12] in out["new_key_row"] and "active" in out["new_key_row"]
        # ... chosen as a reader of this project (editor offered first), listed so; the form reset after
        assert [v for v, selected in out["role_choices"] if selected] == ["editor"]
        assert "reader" in out["new_key_row"] and "integrations page" in out["new_key_row"]
        assert "reader" in out["key_box"] and out["form_after"] == {"role": "editor", "projects": 0}
        assert "revoked" in out["new_key_row_after"] and out["revoke_buttons_after"] == 0
        assert out["key_box_cleared"] is True  # a revoked key is no longer offered for copying
        assert as_new.get("/api/v1/projects").status_code == 401
        revoked = [k for k in client.get("/api/v1/keys").json()["data"] if k["id"] == made["key_id"]]
        assert revoked[0]["revoked_at"] is not None
        # ... and revoking the last admin key (the page's own) is refused with the service's reason
        assert out["own_rows"] == 1
        assert any(d.startswith("Revoke API key") and "This page uses this key" in d for d in out["dialogs"])
        assert "last" in out["last_admin_error"].lower() and "admin" in out["last_admin_error"]
        assert out["keys_card_still_shown"] is True
        # ... and a key that is not admin (the new reader, in a second tab) does not see the card; its
        # one project is listed; creating a project is refused with the service's reason, shown as an error
        as_reader = out["as_plain_key"]
        # ... the header names its role and scope, and the page says at once that it may only read
        assert as_reader.pop("key_state") == "key accepted ✓ · reader · 1 project only"
        assert any("may only read" in m for m in as_reader.pop("read_only_note"))
        assert as_reader == {"accepted": True, "card_hidden": True, "errors": 0, "keys_status": 403,
                             "project_rows": 1}
        assert out["reader_create_error"].startswith("Creating the project:") and "'reader'" in out["reader_create_error"]
        assert client.get("/api/v1/keys").status_code == 200  # the admin key still works
        # the audit trail shows it (the newest rows may include the reader's refused project, 403):
        # filtered to revokes, exactly the two, newest first (the refused one, 409, then the one that
        # worked), each with the page's admin key
        assert out["audit_first_rows"] and all("done" in r or "refused" in r or "not allowed" in r
                                               for r in out["audit_first_rows"])
        revokes = out["audit_revokes"]
        assert len(revokes) == 2 and "409 refused" in revokes[0] and "204 done" in revokes[1]
        assert all(KEY[:12] in r and "DELETE /api/v1/keys/" in r for r in revokes)

