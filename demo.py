"""``elsnet demo``: start the service on the embedded default and drive the bundled CHAOS
sample through the public REST API, as a user's script would: create a project, upload the
studies, annotate the first one, give the others their expert labels as reference masks, train,
and print the service's own evaluation of the model on them (per-organ Dice and HD95), beside
the Dice this script recomputes from the downloaded masks as a check.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parent
SAMPLE = ROOT / "samples" / "chaos_mr_t2"


def _dice(a: np.ndarray, b: np.ndarray) -> float | None:
    sa, sb = int(a.sum()), int(b.sum())
    if sa == 0 and sb == 0:
        return None
    return 2.0 * int((a & b).sum()) / (sa + sb)


def run_demo(port: int = 8000, preset: str = "fast", keep_serving: bool = True) -> int:
    import httpx
    import nibabel as nib
    import numpy as np

    from elsnet_cli import exit_on_signals

    env = dict(os.environ)
    env.setdefault("ELSNET_HOME", str(ROOT / ".elsnet"))
    key = env.setdefault("ELSNET_BOOTSTRAP_KEY", "demo-" + os.urandom(8).hex())
    base = f"http://127.0.0.1:{port}"
    home = Path(env["ELSNET_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    print(f"[demo] starting the service at {base} (data in {home}, log: {log_path})", flush=True)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "elsnet_cli.py"), "serve", "--port", str(port)], env=env, cwd=ROOT,
        start_new_session=True, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    # the server runs in its own session: without this, SIGTERM (a process manager, `kill`)
    # or SIGHUP (the terminal closed) would end the demo without the ``finally`` that stops it
    exit_on_signals(signal.SIGTERM, signal.SIGHUP)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        client = httpx.Client(base_url=base, headers=headers, timeout=120)
        for _ in range(240):
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                print(f"[demo] the service failed to start; see {log_path}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        meta = json.loads((SAMPLE / "dataset.json").read_text())
        labels = {k: v for k, v in meta["labels"].items() if k != "0"}
        project = client.post("/api/v1/projects", json={"name": "CHAOS MR T2 sample", "labels": labels}).json()
        pid = project["id"]
        print(f"[demo] project {pid}: labels {labels}")
        studies = {}
        for case in meta["cases"]:
            with open(SAMPLE / "images" / f"{case}.nii.gz", "rb") as fh:
                r = client.post(f"/api/v1/projects/{pid}/studies", files={"file": (f"{case}.nii.gz", fh)})
            r.raise_for_status()
            studies[case] = r.json()["id"]
            print(f"[demo] uploaded {case}: study {studies[case]} shape {r.json()['shape']}")
        exemplar = meta["cases"][0]
        with open(SAMPLE / "labels" / f"{exemplar}.nii.gz", "rb") as fh:
            r = client.put(f"/api/v1/projects/{pid}/studies/{studies[exemplar]}/annotation",
                           files={"file": (f"{exemplar}_label.nii.gz", fh)})
        r.raise_for_status()
        print(f"[demo] annotated {exemplar} (the exemplar)")
        for case in meta["cases"][1:]:  # never used for training: the service measures the model on them
            with open(SAMPLE / "labels" / f"{case}.nii.gz", "rb") as fh:
                r = client.put(f"/api/v1/projects/{pid}/studies/{studies[case]}/reference",
                               files={"file": (f"{case}_reference.nii.gz", fh)})
            r.raise_for_status()
        print(f"[demo] reference masks for {', '.join(meta['cases'][1:])} (to measure the model, not to train it)")
        t0 = time.time()
        job = client.post(f"/api/v1/projects/{pid}/jobs", json={"kind": "train", "preset": preset}).json()
        print(f"[demo] training job {job['id']} (preset {preset}) ...")
        last = ""
        while True:
            job = client.get(f"/api/v1/jobs/{job['id']}").json()
            line = f"{job['state']:9s} {job['stage'] or '':13s} {100 * job['progress']:5.1f}%"
            if job.get("eta_s"):
                line += f"  eta {job['eta_s']:.0f}s"
            if line != last:
                print(f"[demo] {line}", flush=True)
                last = line
            if job["state"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(3)
        if job["state"] != "succeeded":
            print(f"[demo] training {job['state']}: {job['error']}", file=sys.stderr)
            return 1
        print(f"[demo] trained and segmented in {time.time() - t0:.0f} s")
        per_class: dict[str, list[float]] = {v: [] for v in labels.values()}
        for case in meta["cases"][1:]:
            r = client.get(f"/api/v1/projects/{pid}/studies/{studies[case]}/mask")
            r.raise_for_status()
            pred = np.asanyarray(nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).dataobj)
            truth_img = nib.Nifti1Image.from_filename(str(SAMPLE / "labels" / f"{case}.nii.gz"))
            truth = np.asanyarray(truth_img.dataobj)
            for k, name in labels.items():
                d = _dice(pred == int(k), truth == int(k))
                if d is not None:
                    per_class[name].append(d)
        ev = client.get(f"/api/v1/models/{job['model_id']}/evaluation").json()
        print(f"[demo] the service's evaluation of model {job['model_id'][:8]} on the {ev['n_studies']} reference "
              "masks (3D, per organ; GET /api/v1/models/{id}/evaluation), and the Dice recomputed here:")
        means = []
        for k, name in labels.items():
            c, vals = ev["classes"][k], per_class[name]
            hd = "-" if c["hd95"] is None else f"{c['hd95']:.1f} mm"
            here = f"{np.mean(vals):.3f}" if vals else "-"
            means += [float(np.mean(vals))] if vals else []
            print(f"[demo]   {name:14s} Dice {c['dice'] if c['dice'] is None else format(c['dice'], '.3f')}"
                  f"  HD95 {hd:9s}  (here: {here}, n={len(vals)})")
        print(f"[demo]   {'mean':14s} Dice {ev['mean_dice']:.3f}  (here: {np.mean(means):.3f})")
        print(f"[demo] the service is running at {base}/  (API docs: {base}/docs, API key: {key})")
        if keep_serving:
            print("[demo] press Ctrl-C to stop", flush=True)
            server.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(run_demo())
