"""Command line: ``elsnet fit | predict | bench`` (thin wrappers over the Python API).

    elsnet fit --image EX.nii.gz --label EX_LABEL.nii.gz --out MODEL_DIR
               [--unlabeled FILE_OR_DIR ...] [--preset fast|full|tiny] [--device auto|cpu|cuda]
               [--seed N] [--work-dir DIR] [--set KEY=VALUE ...]
    elsnet predict --model MODEL_DIR --out OUT_DIR INPUT ...
    elsnet rank INPUT ...                  (which study to annotate: best first)
    elsnet bench PACK_DIR [...]            (delegates to elsnet_core.bench.main)
    elsnet bench-report [RESULTS_DIR]      (markdown tables of bench_results/*.json)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from elsnet_core.errors import ElsnetError, InvalidInput
from elsnet_core.io import is_nifti


def _expand(inputs: list[str]) -> list[Path]:
    """Files stay; a folder yields its NIfTI files (sorted) or, if none, itself (DICOM)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and is_nifti(f))
            out.extend(files if files else [p])
        elif p.exists():
            out.append(p)
        else:
            raise InvalidInput(f"{p}: no such file or folder")
    return out


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _cmd_fit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from elsnet_core.api import fit

    if len(args.image) != len(args.label):
        raise InvalidInput("give one --label per --image")
    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        overrides[key] = _parse_value(value)
    unlabeled = _expand(args.unlabeled or [])
    bar = tqdm(total=1000, unit="‰", desc="fit", dynamic_ncols=True)

    def progress(ev) -> None:
        bar.n = round(ev.fraction * 1000)
        shown = {k: f"{v:.3g}" for k, v in ev.metrics.items() if k in ("loss", "dice", "contrastive")}
        bar.set_description(ev.stage)
        bar.set_postfix(shown, refresh=False)
        bar.refresh()

    try:
        result = fit(list(zip(args.image, args.label, strict=True)), unlabeled, args.out,
                     preset=args.preset, device=args.device, seed=args.seed,
                     work_dir=args.work_dir, progress=progress,
                     overrides=overrides or None)
    finally:
        bar.close()
    print(f"model written to {result.model_dir} in {result.fit_seconds:.0f} s on {result.device}")
    for i, sug in result.next_slices.items():
        print(f"to improve it, paint slice {sug.slice_index} (0-based, third voxel axis) of "
              f"{args.image[i]} next: the middle of {sug.gap_mm:.0f} mm of the organs' extent "
              "that no painted slice covers")
    if result.not_learned:
        shown = ", ".join(f"label {c} (Dice {result.exemplar_dice[c]:.2f})"
                          for c in result.not_learned)
        print(f"warning: the model does not reproduce {shown} on the exemplar it was trained on; "
              "expect these organs to be missing from its masks (organs a few pixels wide at "
              "the preset's working resolution: try --preset full)")
    if result.from_registration:
        shown = ", ".join(f"label {c} (Dice {d:.2f})" for c, d in result.from_registration.items())
        print(f"warning: stage 1 and registration disagree on {shown} over the cohort; stage 2 "
              "learned these organs from registration: check their masks (on the benchmark "
              "packs such organs nearly always scored Dice < 0.5)")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from elsnet_core.io import save_labels
    from elsnet_core.predictor import Predictor

    predictor = Predictor.load(args.model, device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in _expand(args.inputs):
        pred = predictor.predict_file(path)
        name = path.name if is_nifti(path) else f"{path.name}.nii.gz"
        save_labels(out / name, pred.labels, pred.affine)
        vols = ", ".join(f"{predictor.labels.get(k, k)} {v:.0f} ml"
                         for k, v in pred.class_volumes_ml.items())
        print(f"{path.name}: confidence {pred.confidence:.2f}; {vols}")
    return 0


def _cmd_rank(args: argparse.Namespace) -> int:
    from elsnet_core.exemplar import RANK_PARTNERS, rank_exemplars

    paths = _expand(args.inputs)
    if len(paths) < 2:
        raise InvalidInput("give at least 2 studies (files or folders) to rank")
    total = len(paths) * min(RANK_PARTNERS, len(paths) - 1)
    print(f"registering each of {len(paths)} studies onto up to {RANK_PARTNERS} others ({total} registrations)",
          file=sys.stderr)
    ranking = rank_exemplars(paths, seed=args.seed)
    for rank, (i, score) in enumerate(ranking, 1):
        print(f"{rank:3d}  {score:.3f}  {paths[i]}" + ("   <- annotate this one" if rank == 1 else ""))
    return 0


def _cmd_bench(rest: list[str]) -> int:
    from elsnet_core import bench

    result = bench.main(rest)
    return int(result) if isinstance(result, int) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="elsnet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="train a model from exemplar(s) and unlabeled studies")
    f.add_argument("--image", action="append", required=True, help="exemplar image (repeatable)")
    f.add_argument("--label", action="append", required=True,
                   help="exemplar label map, 255 = not annotated (repeatable)")
    f.add_argument("--out", required=True, help="model folder to write")
    # "extend": "--unlabeled a b --unlabeled c" is a, b and c (a plain nargs="*" kept only c)
    f.add_argument("--unlabeled", nargs="*", action="extend", default=[],
                   help="unlabeled NIfTI files or folders (repeatable)")
    f.add_argument("--preset", default="fast", choices=["tiny", "fast", "full"])
    f.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--work-dir", default=None, help="checkpoint folder (resume on re-run)")
    f.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, e.g. --set stage2=false (see elsnet_core.config)")
    p = sub.add_parser("predict", help="segment studies with a trained model")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("inputs", nargs="+", help="NIfTI files or folders")
    r = sub.add_parser("rank", help="which study to annotate: the studies ranked as exemplar candidates")
    r.add_argument("inputs", nargs="+", help="NIfTI files or folders (a folder without NIfTI files is a DICOM series)")
    r.add_argument("--seed", type=int, default=0, help="which partners each study is registered onto")
    sub.add_parser("bench", help="benchmark on a data pack (see elsnet bench --help)",
                   add_help=False)
    sub.add_parser("bench-report", help="markdown tables of bench_results/*.json",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "bench":
        return _cmd_bench(argv[1:])
    if argv and argv[0] == "bench-report":
        from elsnet_core.bench import report_markdown

        print(report_markdown(Path(argv[1] if len(argv) > 1 else "bench_results")), end="")
        return 0
    args = build_parser().parse_args(argv)
    try:
        if args.command == "fit":
            return _cmd_fit(args)
        if args.command == "rank":
            return _cmd_rank(args)
        return _cmd_predict(args)
    except ElsnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
