"""``elsnet bench``: the one-shot protocol of ``../shared/data/README.md``, exactly.

For a pack (``dataset.json``, ``images/<case>.nii.gz``, ``labels/<case>.nii.gz``):

1. ``cases = sorted(dataset.json["cases"])``; the exemplar is ``cases[0]``.
2. Test cases: all other cases except those of the exemplar's own subject (the name before
   ``_frame``; only ``acdc_cine`` has several cases per subject).
3. Unlabeled pool: the test images.
4. Setting ``volume``: the whole exemplar label map. Setting ``slice``: only the exemplar
   slice (third voxel axis) with the most foreground classes, ties -> larger foreground
   area -> lower index; every other voxel is 255 ("not annotated").
5. Metrics (:mod:`elsnet_core.metrics`): Dice per class per case on the test image's grid,
   per class over cases then mean over classes; 8-organ mean for Synapse; HD95 (mm).

Methods (side by side in one run, one JSON): ``elsnet`` (the method, default), baselines
``atlas`` (affine + demons label propagation), ``atlas_affine`` (its affine stage alone, free),
``unet_standard_aug`` (same network, exemplar + standard augmentation only), and the ablations
``elsnet_no_cohort_synthesis``, ``elsnet_no_contrastive``, ``elsnet_no_stage2`` (and, in
the slice setting, ``elsnet_no_completion``).

Results are merged into ``--out`` (methods already there are kept unless re-run), written
after every method so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from elsnet_core.metrics import SYNAPSE_8_ORGANS, CaseScores, aggregate, evaluate_case
from elsnet_core.registration import NOT_ANNOTATED

logger = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "Split",
    "format_markdown",
    "format_table",
    "main",
    "protocol_split",
    "select_annotated_slice",
    "slice_setting_label",
]

#: method name -> ``fit`` overrides (None = registration baseline, no training).
METHODS: dict[str, dict[str, Any] | None] = {
    "elsnet": {},
    "atlas": None,
    "atlas_affine": None,
    "unet_standard_aug": {"standard_aug_only": True},
    "elsnet_no_cohort_synthesis": {"cohort_synthesis": False},
    "elsnet_no_contrastive": {"contrastive": False},
    "elsnet_no_stage2": {"stage2": False},
    "elsnet_no_completion": {"slice_completion": False},
}
BASELINES = ("atlas", "atlas_affine", "unet_standard_aug")
ABLATIONS = ("elsnet_no_cohort_synthesis", "elsnet_no_contrastive", "elsnet_no_stage2")
#: ablations of the slice setting only (the part they switch off acts on slice exemplars)
SLICE_ABLATIONS = ("elsnet_no_completion",)


# ---- protocol ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Protocol split of a pack: exemplar, test cases (= unlabeled pool)."""

    exemplar: str
    test: tuple[str, ...]

    @property
    def unlabeled(self) -> tuple[str, ...]:
        """The unlabeled pool is the test images (transductive setting)."""
        return self.test


def subject_of(case: str) -> str:
    """Subject id of a case: the name before ``_frame`` (ACDC), else the whole name."""
    return case.split("_frame")[0]


def protocol_split(cases: Sequence[str], exemplar: str | None = None) -> Split:
    """Exemplar = ``sorted(cases)[0]``; test = the others minus the exemplar's subject.

    ``exemplar`` overrides the choice (NOT the protocol: only for studying how much the
    exemplar choice moves the scores; reports mark it).
    """
    ordered = sorted(cases)
    if len(ordered) < 2:
        raise ValueError("a pack needs at least 2 cases (1 exemplar + 1 test)")
    ex = ordered[0] if exemplar is None else exemplar
    if ex not in ordered:
        raise ValueError(f"exemplar {ex!r} is not a case of the pack")
    test = tuple(c for c in ordered if c != ex and subject_of(c) != subject_of(ex))
    if not test:
        raise ValueError("no test case left after excluding the exemplar's subject")
    return Split(exemplar=ex, test=test)


def select_annotated_slice(label: np.ndarray) -> int:
    """Index (third voxel axis) of the slice a person would paint.

    Most foreground classes present; ties -> larger foreground area -> lower index.

    Args:
        label: ``(X, Y, Z)`` integer label map (0 background, 255 ignored).
    """
    lab = np.asarray(label)
    if lab.ndim != 3:
        raise ValueError(f"expected a 3D (X, Y, Z) label map, got shape {lab.shape}")
    best: tuple[int, int, int] | None = None
    for k in range(lab.shape[2]):
        s = lab[:, :, k]
        fg = (s != 0) & (s != NOT_ANNOTATED)
        n_classes = len(np.unique(s[fg]))
        key = (-n_classes, -int(fg.sum()), k)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2]


def slice_setting_label(label: np.ndarray) -> tuple[np.ndarray, int]:
    """The slice-setting exemplar label: one slice kept, every other voxel 255.

    Returns:
        ``(label_map (X, Y, Z) uint8, slice index)``.
    """
    k = select_annotated_slice(label)
    out = np.full(label.shape, NOT_ANNOTATED, dtype=np.uint8)
    out[:, :, k] = np.asarray(label[:, :, k], dtype=np.uint8)
    return out, k


def _nifti(path: Path) -> nib.Nifti1Image:
    """Load a NIfTI file (typed: ``nib.load`` returns the generic image base class)."""
    img = nib.load(path)
    if not isinstance(img, nib.Nifti1Image):
        raise ValueError(f"{path} is not a NIfTI image")
    return img


# ---- pack access ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Pack:
    root: Path
    name: str
    modality: str
    classes: dict[int, str]  # foreground only
    cases: tuple[str, ...]

    @classmethod
    def open(cls, root: Path) -> Pack:
        meta = json.loads((root / "dataset.json").read_text())
        classes = {int(k): str(v) for k, v in meta["labels"].items() if int(k) != 0}
        return cls(
            root,
            str(meta.get("name", root.name)),
            str(meta.get("modality", "")),
            classes,
            tuple(meta["cases"]),
        )

    def image_path(self, case: str) -> Path:
        return self.root / "images" / f"{case}.nii.gz"

    def label_path(self, case: str) -> Path:
        return self.root / "labels" / f"{case}.nii.gz"

    def image(self, case: str) -> tuple[np.ndarray, tuple[float, float, float]]:
        """``(X, Y, Z)`` float32 image and its spacing (mm)."""
        img = _nifti(self.image_path(case))
        zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
        return img.get_fdata(dtype=np.float32), zooms  # type: ignore[return-value]

    def label(self, case: str) -> np.ndarray:
        """``(X, Y, Z)`` uint8 ground truth."""
        return np.asarray(_nifti(self.label_path(case)).dataobj).astype(np.uint8)


# ---- running --------------------------------------------------------------------------------
def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _code_sha() -> str:
    """SHA-256 (first 12 hex) of every ``elsnet_core/*.py``: identifies uncommitted code too."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _scores_json(s: CaseScores, names: dict[int, str]) -> dict[str, Any]:
    return {
        "case": s.case,
        "dice": {names[c]: v for c, v in s.dice.items()},
        "hd95": {
            names[c]: (v if v is None or np.isfinite(v) else "inf") for c, v in s.hd95.items()
        },
    }


def _summarise(cases: list[CaseScores], pack: Pack) -> dict[str, Any]:
    subset = SYNAPSE_8_ORGANS if "synapse" in pack.name else None
    agg = aggregate(cases, pack.classes, subset=subset)
    agg["per_case"] = [_scores_json(s, pack.classes) for s in cases]
    return agg


def _run_atlas(
    pack: Pack, split: Split, ex_label: np.ndarray, threads: int | None, with_hd95: bool
) -> dict[str, dict[str, Any]]:
    from elsnet_core.baselines import atlas_propagation

    ex_img, ex_sp = pack.image(split.exemplar)
    out: dict[str, list[CaseScores]] = {"atlas": [], "atlas_affine": []}
    seconds: list[float] = []
    load0 = _loadavg()
    for case in split.test:
        img, sp = pack.image(case)
        truth = pack.label(case)
        pred = atlas_propagation(ex_img, ex_label, ex_sp, img, sp, threads=threads)
        seconds.append(pred.seconds)
        out["atlas"].append(
            evaluate_case(pred.deformable, truth, sp, pack.classes, case=case, with_hd95=with_hd95)
        )
        out["atlas_affine"].append(
            evaluate_case(pred.affine, truth, sp, pack.classes, case=case, with_hd95=with_hd95)
        )
        logger.info("atlas %s: %.1fs", case, pred.seconds)
    res = {}
    for name, scores in out.items():
        res[name] = {
            **_summarise(scores, pack),
            "fit_seconds": 0.0,
            "predict_seconds": float(sum(seconds)),
            "predict_seconds_per_case": float(np.mean(seconds)),
            "device": "cpu",
            "note": "one registration per test case; atlas_affine = same run, deformable part off",
            "loadavg_start": load0,
            "loadavg_end": _loadavg(),
        }
    return res


def _device_label(result: Any, fallback: str) -> str:
    """``cpu`` / ``cuda`` plus the training precision, e.g. ``cpu (bf16)``."""
    device = str(getattr(result, "device", fallback))
    bf16 = (getattr(result, "metrics", None) or {}).get("bf16_autocast")
    return device if bf16 is None else f"{device} ({'bf16' if bf16 else 'fp32'})"


def _run_fit_method(
    name: str,
    overrides: dict[str, Any],
    pack: Pack,
    split: Split,
    ex_label_path: Path,
    work: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    from elsnet_core import Predictor, fit

    out_dir = work / name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    load0 = _loadavg()
    kwargs: dict[str, Any] = dict(
        exemplars=[(pack.image_path(split.exemplar), ex_label_path)],
        unlabeled=[pack.image_path(c) for c in split.unlabeled],
        out_dir=out_dir,
        preset=args.preset,
        device=args.device,
        seed=args.seed,
        labels=dict(pack.classes),
    )
    if overrides:
        kwargs["overrides"] = overrides
    t0 = time.perf_counter()
    result = fit(**kwargs)
    fit_s = time.perf_counter() - t0
    load_mid = _loadavg()
    t1 = time.perf_counter()
    predictor = Predictor.load(out_dir, device=args.device)
    load_s = time.perf_counter() - t1
    scores: list[CaseScores] = []
    per_case_s: list[float] = []
    confidences: dict[str, float] = {}
    for case in split.test:
        t2 = time.perf_counter()
        pred = predictor.predict_file(pack.image_path(case))
        per_case_s.append(time.perf_counter() - t2)
        truth = pack.label(case)
        _, sp = _spacing_only(pack, case)
        scores.append(
            evaluate_case(
                np.asarray(pred.labels),
                truth,
                sp,
                pack.classes,
                case=case,
                with_hd95=not args.no_hd95,
            )
        )
        confidences[case] = float(pred.confidence)
    return {
        **_summarise(scores, pack),
        "fit_seconds": float(fit_s),
        "fit_seconds_reported": float(getattr(result, "fit_seconds", fit_s)),
        "predict_seconds": float(load_s + sum(per_case_s)),
        "predict_seconds_per_case": float(np.mean(per_case_s)),
        "device": _device_label(result, args.device),
        "overrides": overrides,
        "config": getattr(result, "config", None),
        "train_metrics": getattr(result, "metrics", None),
        "confidence": confidences,
        "loadavg_start": load0,
        "loadavg_after_fit": load_mid,
        "loadavg_end": _loadavg(),
    }


def _spacing_only(pack: Pack, case: str) -> tuple[None, tuple[float, float, float]]:
    hdr = _nifti(pack.image_path(case)).header
    return None, tuple(float(z) for z in hdr.get_zooms()[:3])  # type: ignore[return-value]


# ---- reporting ------------------------------------------------------------------------------
def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def format_table(report: dict[str, Any]) -> str:
    """Human-readable table (one column per method) of a bench report."""
    methods = [m for m in METHODS if m in report["methods"]]
    methods += [m for m in report["methods"] if m not in methods]
    res = report["methods"]
    width = max(12, *(len(m) for m in methods)) + 1
    first = max(24, *(len(n) + 6 for n in report["classes"].values()))
    lines = [
        f"pack {report['pack']}  setting {report['setting']}  preset {report['preset']}  "
        f"exemplar {report['exemplar']}"
        + (
            f" (slice {report['annotated_slice']})"
            if report.get("annotated_slice") is not None
            else ""
        )
        + f"  test cases {len(report['test_cases'])}",
        f"torch threads {report.get('torch_threads')}  commit {report.get('git_commit')}  "
        f"host {report.get('host')}",
        "",
        "Dice".ljust(first) + "".join(m.rjust(width) for m in methods),
    ]
    for name in report["classes"].values():
        lines.append(
            f"  {name}".ljust(first)
            + "".join(_fmt(res[m]["dice"].get(name)).rjust(width) for m in methods)
        )
    lines.append(
        "mean Dice".ljust(first) + "".join(_fmt(res[m]["mean_dice"]).rjust(width) for m in methods)
    )
    if any("subset_mean_dice" in res[m] for m in methods):
        lines.append(
            "8-organ mean Dice".ljust(first)
            + "".join(_fmt(res[m].get("subset_mean_dice")).rjust(width) for m in methods)
        )
    lines.append(
        "mean HD95 (mm, finite)".ljust(first)
        + "".join(_fmt(res[m]["mean_hd95"], 1).rjust(width) for m in methods)
    )
    lines.append(
        "HD95 undefined (count)".ljust(first)
        + "".join(str(sum(res[m]["hd95_missing"].values())).rjust(width) for m in methods)
    )
    lines.append(
        "fit (s)".ljust(first)
        + "".join(_fmt(res[m]["fit_seconds"], 1).rjust(width) for m in methods)
    )
    lines.append(
        "predict, all cases (s)".ljust(first)
        + "".join(_fmt(res[m]["predict_seconds"], 1).rjust(width) for m in methods)
    )
    lines.append(
        "device".ljust(first) + "".join(str(res[m]["device"]).rjust(width) for m in methods)
    )
    lines.append(
        "load avg (1 min) at end".ljust(first)
        + "".join(_fmt((res[m].get("loadavg_end") or [None])[0], 2).rjust(width) for m in methods)
    )
    return "\n".join(lines)


def format_markdown(report: dict[str, Any]) -> str:
    """Markdown table of a bench report (rows = classes and summary lines, one column per
    method), for ``docs/benchmarks.md``."""
    methods = [m for m in METHODS if m in report["methods"]]
    res = report["methods"]
    head = "| | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods)
    rows = [head]

    def row(label: str, values: list[str]) -> None:
        rows.append(f"| {label} | " + " | ".join(values) + " |")

    row("**mean Dice**", [f"**{_fmt(res[m]['mean_dice'])}**" for m in methods])
    if any("subset_mean_dice" in res[m] for m in methods):
        row(
            "**8-organ mean Dice**",
            [f"**{_fmt(res[m].get('subset_mean_dice'))}**" for m in methods],
        )
    for name in report["classes"].values():
        row(name, [_fmt(res[m]["dice"].get(name)) for m in methods])
    row("mean HD95 mm (finite)", [_fmt(res[m]["mean_hd95"], 1) for m in methods])
    row(
        "HD95 undefined (class missing)",
        [str(sum(res[m]["hd95_missing"].values())) for m in methods],
    )
    row("fit s", [_fmt(res[m]["fit_seconds"], 0) for m in methods])
    row("predict s (all test cases)", [_fmt(res[m]["predict_seconds"], 0) for m in methods])
    row("device", [str(res[m]["device"]) for m in methods])
    if any("cpu" in res[m] for m in methods):
        row("cpu (vector extensions)", [str(res[m].get("cpu", "not recorded")) for m in methods])
    row("torch threads", [str(res[m].get("torch_threads") or "-") for m in methods])
    row(
        "load avg 1-min (start/end)",
        [
            f"{_fmt((res[m].get('loadavg_start') or [None])[0], 1)}/"
            f"{_fmt((res[m].get('loadavg_end') or [None])[0], 1)}"
            for m in methods
        ],
    )
    row("commit", [str(res[m].get("git_commit") or "-")[:8] for m in methods])
    return "\n".join(rows)


SUMMARY_COLUMNS = ("elsnet", "atlas", "unet_standard_aug", "elsnet_no_cohort_synthesis",
                   "elsnet_no_contrastive", "elsnet_no_stage2", "elsnet_no_completion")


def report_markdown(results_dir: Path) -> str:
    """Summary table + one table per protocol-exemplar JSON in ``results_dir``.

    Synapse cells show the 8-organ mean with the all-class mean in brackets. Rows of
    different commits may sit side by side: each per-pack table lists the commit per method.
    """
    reports = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if rep.get("methods") and rep.get("protocol_exemplar", True) and "_ex-" not in path.name:
            reports.append((path, rep))
    head = ("| pack | setting | preset | " + " | ".join(f"`{c}`" for c in SUMMARY_COLUMNS)
            + " | ELSNet fit s | ELSNet iterations (stage 1 + 2) | device |")
    lines = [head, "|---|---|---|" + "---|" * (len(SUMMARY_COLUMNS) + 3)]
    for _path, rep in reports:
        res = rep["methods"]
        cells = []
        for m in SUMMARY_COLUMNS:
            r = res.get(m)
            if r is None:
                cells.append("not run")
            elif r.get("subset_mean_dice") is not None:
                cells.append(f"{_fmt(r['subset_mean_dice'])} ({_fmt(r['mean_dice'])})")
            else:
                cells.append(_fmt(r["mean_dice"]))
        el = res.get("elsnet") or {}
        tm = el.get("train_metrics") or {}
        its = (f"{int(tm.get('stage1_iters', 0))} + {int(tm.get('stage2_iters', 0))}"
               if tm else "-")
        preset = str(rep.get("preset"))
        if el.get("overrides"):
            preset += " (" + ", ".join(f"{k}={v}" for k, v in el["overrides"].items()) + ")"
        lines.append(f"| {rep['pack']} | {rep['setting']} | {preset} | " + " | ".join(cells)
                     + f" | {_fmt(el.get('fit_seconds'), 0)} | {its} | {el.get('device', '-')} |")
    parts = ["\n".join(lines)]
    for path, rep in reports:
        parts.append(
            f"### {rep['pack']}, {rep['setting']} setting, preset `{rep.get('preset')}`\n\n"
            f"Exemplar `{rep['exemplar']}`"
            + (f", annotated slice z = {rep['annotated_slice']}"
               if rep.get("annotated_slice") is not None else "")
            + f"; {len(rep['test_cases'])} test cases; CPU {rep.get('cpu_model', '?')}"
            + (f" ({', '.join(rep['cpu_flags'])})" if rep.get("cpu_flags") else "") + "; "
            + (f"torch {rep['torch_version']}; " if rep.get("torch_version") else "")
            + f"`{path.as_posix()}`.\n\n" + format_markdown(rep))
    return "\n\n".join(parts) + "\n"


# ---- CLI ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="elsnet bench", description=__doc__.split("\n")[0])
    p.add_argument("pack", type=Path, help="pack folder with dataset.json, images/, labels/")
    p.add_argument("--setting", choices=("volume", "slice"), default="volume")
    p.add_argument("--preset", choices=("tiny", "fast", "full"), default="fast")
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also run atlas (+ affine-only) and unet_standard_aug",
    )
    p.add_argument(
        "--ablations",
        action="store_true",
        help="also run ELSNet without cohort synthesis / contrastive / stage 2 (and, in the "
        "slice setting, without the random-walk completion)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=tuple(METHODS),
        help="run exactly these methods (overrides --baselines/--ablations)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (merged if it exists); default "
        "bench_results/<pack>_<setting>_<preset>.json",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch and SimpleITK threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--exemplar",
        default=None,
        help="use this case as exemplar instead of sorted(cases)[0] (exemplar-variance "
        "studies only; NOT the protocol; results go to ..._ex-CASE.json)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where models are written (default bench_results/tmp/...)",
    )
    p.add_argument("--no-hd95", action="store_true", help="skip HD95 (faster)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every trained method (JSON value, e.g. --set "
        "'widths=[8,16,32,64,128]'); recorded in the results. For experiments: the "
        "reported tables use the presets as they are",
    )
    return p


def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["size=160", "widths=[8,16]"]`` -> ``{"size": 160, "widths": [8, 16]}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _cpuinfo(key: str) -> str | None:
    """The value of the first ``key`` line of /proc/cpuinfo (None where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def _cpu_isa() -> list[str]:
    """The CPU's vector extensions that decide training speed (AVX2, AVX-512, bf16, AMX)."""
    flags = (_cpuinfo("flags") or "").split()
    keep = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return [f for f in keep if f in flags]


def _method_list(args: argparse.Namespace) -> list[str]:
    if args.methods:
        return list(dict.fromkeys(args.methods))
    methods = ["elsnet"]
    if args.baselines:
        methods += list(BASELINES)
    if args.ablations:
        methods += list(ABLATIONS)
        if args.setting == "slice":
            methods += list(SLICE_ABLATIONS)
    return methods


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the protocol for the chosen methods; returns the (merged) report."""
    pack = Pack.open(args.pack)
    split = protocol_split(pack.cases, args.exemplar)
    tag = f"_ex-{args.exemplar}" if args.exemplar else ""
    out: Path = args.out or (
        Path("bench_results") / f"{pack.name}_{args.setting}_{args.preset}{tag}.json"
    )
    work: Path = args.work_dir or (
        Path("bench_results") / "tmp" / f"{pack.name}_{args.setting}{tag}"
    )
    work.mkdir(parents=True, exist_ok=True)

    if args.threads:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(args.threads))
    methods = _method_list(args)
    needs_torch = any(METHODS[m] is not None for m in methods)
    torch_threads: int | None = None
    torch_version: str | None = None
    if needs_torch or args.threads:
        import torch

        if args.threads:
            torch.set_num_threads(int(args.threads))
        torch_threads = torch.get_num_threads()
        torch_version = torch.__version__

    ex_label_full = pack.label(split.exemplar)
    annotated_slice: int | None = None
    if args.setting == "slice":
        ex_label, annotated_slice = slice_setting_label(ex_label_full)
    else:
        ex_label = ex_label_full
    ex_nii = _nifti(pack.image_path(split.exemplar))
    ex_label_path = work / f"exemplar_label_{args.setting}.nii.gz"
    nib.save(nib.Nifti1Image(ex_label, ex_nii.affine), ex_label_path)

    report: dict[str, Any] = {}
    if out.exists():
        try:
            old = json.loads(out.read_text())
            if old.get("pack") == pack.name and old.get("setting") == args.setting:
                report = old
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring unreadable %s", out)
    report.setdefault("methods", {})
    report.update(
        {
            "pack": pack.name,
            "setting": args.setting,
            "preset": args.preset,
            "exemplar": split.exemplar,
            "protocol_exemplar": args.exemplar is None,
            "annotated_slice": annotated_slice,
            "test_cases": list(split.test),
            "unlabeled_pool": list(split.unlabeled),
            "classes": {str(k): v for k, v in pack.classes.items()},
            "host": platform.node(),
            "cpu_count": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "cpu_flags": _cpu_isa(),
            "torch_threads": torch_threads
            if torch_threads is not None
            else report.get("torch_threads"),
            "torch_version": torch_version or report.get("torch_version"),
            "git_commit": _git_commit(),
            "code_sha": _code_sha(),
            "command": "elsnet bench " + " ".join(args.argv_used),
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
    )

    def save() -> None:
        # another bench process may have added methods to the same file meanwhile: keep them
        if out.exists():
            try:
                disk = json.loads(out.read_text())
                if disk.get("pack") == pack.name and disk.get("setting") == args.setting:
                    for name, value in disk.get("methods", {}).items():
                        if name not in done:
                            report["methods"][name] = value
            except (OSError, json.JSONDecodeError):
                logger.warning("could not re-read %s before saving", out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(report, indent=1, default=float))
        tmp.replace(out)

    done: set[str] = set()  # methods (re)computed by this process
    ran_atlas = False
    for m in methods:
        logger.info("bench %s %s: %s", pack.name, args.setting, m)
        meta = {
            "git_commit": report["git_commit"],
            "code_sha": report["code_sha"],
            "date_utc": report["date_utc"],
            "command": report["command"],
            "torch_threads": torch_threads,
            "preset": args.preset,
            "cpu": " ".join([report["cpu_model"], *report["cpu_flags"]]),
        }
        if METHODS[m] is None:
            if ran_atlas:
                continue
            res = _run_atlas(pack, split, ex_label, args.threads, not args.no_hd95)
            ran_atlas = True
            for name, r in res.items():
                report["methods"][name] = {**r, **meta, "torch_threads": None}
                done.add(name)
        else:
            report["methods"][m] = {
                **_run_fit_method(
                    m, {**_parse_overrides(args.overrides), **(METHODS[m] or {})}, pack,
                    split, ex_label_path, work, args
                ),
                **meta,
            }
            done.add(m)
        save()
    save()
    return report


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``elsnet bench``; prints the table and writes the JSON."""
    import sys

    argv_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv_list)
    args.argv_used = argv_list
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    report = run(args)
    print(format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
