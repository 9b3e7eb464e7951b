"""A small REST client for the end-to-end tests (talks only to the public API)."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

TERMINAL = ("succeeded", "failed", "cancelled")


class Api:
    def __init__(self, client: Any) -> None:
        self.c = client

    def project(self, labels: dict[str, str]) -> str:
        r = self.c.post("/api/v1/projects", json={"name": "e2e", "labels": labels})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def upload(self, pid: str, path: Path) -> dict:
        with open(path, "rb") as fh:
            r = self.c.post(f"/api/v1/projects/{pid}/studies", files={"file": (path.name, fh)})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def annotate(self, pid: str, sid: str, path: Path) -> dict:
        with open(path, "rb") as fh:
            r = self.c.put(f"/api/v1/projects/{pid}/studies/{sid}/annotation", files={"file": (path.name, fh)})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def job(self, pid: str, body: dict) -> dict:
        r = self.c.post(f"/api/v1/projects/{pid}/jobs", json=body)
        assert r.status_code == 202, r.text
        return dict(r.json())

    def wait(self, job_id: str, timeout: float = 600, until=TERMINAL) -> dict:  # type: ignore[no-untyped-def]
        t0 = time.time()
        seen = []
        while time.time() - t0 < timeout:
            job = self.c.get(f"/api/v1/jobs/{job_id}").json()
            seen.append(job["progress"])
            if job["state"] in until:
                job["_progress_seen"] = seen
                return dict(job)
            time.sleep(1.0)
        raise TimeoutError(f"job {job_id} not in {until} after {timeout} s: {job}")

    def mask(self, pid: str, sid: str, **params: str) -> nib.Nifti1Image:
        r = self.c.get(f"/api/v1/projects/{pid}/studies/{sid}/mask", params=params)
        assert r.status_code == 200, r.text
        return nib.Nifti1Image.from_bytes(gzip.decompress(r.content))

    def completion(self, pid: str, sid: str) -> nib.Nifti1Image:
        r = self.c.get(f"/api/v1/projects/{pid}/studies/{sid}/completion")
        assert r.status_code == 200, r.text
        return nib.Nifti1Image.from_bytes(gzip.decompress(r.content))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / s if s else 1.0


def one_slice_annotation(label_path: Path, out: Path) -> Path:
    """The protocol's slice setting: keep the slice with most classes (then most foreground), rest 255."""
    img = nib.load(str(label_path))
    lab = np.asanyarray(img.dataobj).astype(np.uint8)
    scores = [(len(set(np.unique(lab[:, :, z])) - {0}), int((lab[:, :, z] > 0).sum()), -z) for z in range(lab.shape[2])]
    z = max(range(lab.shape[2]), key=lambda i: scores[i])
    out_lab = np.full(lab.shape, 255, np.uint8)
    out_lab[:, :, z] = lab[:, :, z]
    nib.save(nib.Nifti1Image(out_lab, img.affine), str(out))
    return out


@contextlib.contextmanager
def serve_page(home: Path, key: str, **extra_env: str) -> Iterator[tuple[str, Path]]:
    """A real `elsnet serve` (API + web page + embedded worker) on a free port, its state in
    ``home``; builds the page first if needed. Yields (base URL, home)."""
    import httpx

    from tests.conftest import REPO, free_port

    frontend = REPO / "frontend"
    if not (frontend / "dist" / "index.html").exists():
        subprocess.run(["npm", "run", "build"], cwd=frontend, check=True, capture_output=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELSNET_", "DATABASE_URL", "BROKER_URL", "STORAGE_URL"))}
    env.update(ELSNET_HOME=str(home), ELSNET_BOOTSTRAP_KEY=key, **extra_env)
    elsnet = shutil.which("elsnet", path=str(Path(sys.executable).parent)) or "elsnet"
    log = open(home / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([elsnet, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"elsnet serve exited: {(home / 'serve.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            if time.time() > deadline:
                raise RuntimeError(f"service not ready: {(home / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
