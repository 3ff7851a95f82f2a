"""Command line: enroll, identify and evaluate.

python -m turtle_id enroll ../shared/data/turtle-profiles-dev
python -m turtle_id identify photo.jpg --json
python -m turtle_id evaluate ../shared/data/seaturtleid-dev --json results.json

Keeping the record (rename, merge, move, remove, edit, undo, audit, export, backup, restore,
check, users) is in turtle_id/cli_records.py.
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from turtle_id import cli_records
from turtle_id.calibration import CalibrationSettings, fit_calibration, open_set_report
from turtle_id.datasets import photos_in, read_collection
from turtle_id.encoder import Encoder
from turtle_id.evaluation import EvaluationSettings, evaluate
from turtle_id.fusion import Fusion
from turtle_id.gallery import CALIBRATION_FILE, Gallery
from turtle_id.head_finder import HeadFinder
from turtle_id.keypoints import KeypointSettings
from turtle_id.photo import PhotoError, check_region_fits, parse_region
from turtle_id.settings import (
    GALLERY_ENV,
    VIEWS,
    MatchSettings,
    default_encoder_path,
    default_gallery_dir,
    default_head_finder_path,
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        return args.command(args)
    except (ValueError, FileNotFoundError, PhotoError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m turtle_id", description="Turtle ID: who is this turtle?"
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(command=func)
        p.add_argument(
            "--gallery",
            type=Path,
            default=None,
            help=f"gallery folder (default: ${GALLERY_ENV}, else {default_gallery_dir()})",
        )
        p.add_argument(
            "--encoder", type=Path, default=None, help="ONNX encoder (default: assets/encoder.onnx)"
        )
        p.add_argument("-v", "--verbose", action="store_true", help="log what is loaded and where")
        p.add_argument(
            "--no-crop",
            action="store_true",
            help="do not look for the head in photos without a region: use the whole photo",
        )
        return p

    p = command("enroll", _enroll, "Add labelled photos to the gallery.")
    p.add_argument(
        "data",
        type=Path,
        help="a folder in the Zindi layout (train.csv + images/), with a labels.csv "
        "(file,individual_id[,view,date,head_x,head_y,head_w,head_h]), "
        "or one sub-folder per individual",
    )
    p.add_argument("--no-regions", action="store_true", help="ignore head boxes; use whole photos")

    p = command("identify", _identify, "Rank the gallery's turtles for each photo.")
    p.add_argument(
        "inputs", type=Path, nargs="+", metavar="INPUT", help="photos, folders, or a labels.csv"
    )
    p.add_argument(
        "--top",
        type=int,
        default=MatchSettings.top,
        help="individuals to list per photo (default 5)",
    )
    p.add_argument(
        "--view", choices=VIEWS, help="match only gallery photos of this view (or unknown view)"
    )
    p.add_argument("--region", help="x,y,w,h in pixels: the part of each photo to use")
    p.add_argument("--site", help="match only gallery photos of this site")
    p.add_argument("--from", dest="date_from", help="match only gallery photos from this day on")
    p.add_argument("--to", dest="date_to", help="... and up to this day (YYYY-MM-DD, inclusive)")
    p.add_argument(
        "--threshold",
        type=float,
        help="score for 'match': the calibrated match probability, 0-1, where a calibration "
        "fits the encoder (the gallery's calibration.json, else the shipped one), else the "
        "cosine similarity (default: $TURTLE_ID_THRESHOLD, else the calibration's match "
        "threshold, else the encoder's own)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line on stdout")

    p = command(
        "evaluate", _evaluate, "Split a labelled collection by date and score identification."
    )
    p.add_argument("data", type=Path, help="a labelled folder, in any layout enroll reads")
    p.add_argument(
        "--json", type=Path, dest="json_out", help="write the figures and per-query results here"
    )
    p.add_argument("--no-regions", action="store_true", help="ignore head boxes; use whole photos")
    p.add_argument("--ignore-view", action="store_true", help="match queries against every view")
    p.add_argument("--seed", type=int, default=0, help="split seed for undated collections")
    p.add_argument("--no-keypoints", action="store_true", help="embedding only (much faster)")
    p.add_argument(
        "--open-set",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="also score with this share of individuals left out of the gallery (e.g. 0.3)",
    )
    p.add_argument(
        "--calibration", type=Path, help="a calibration.json to use instead of the shipped one"
    )
    p.add_argument(
        "--plots", type=Path, metavar="DIR", help="write RSM, score histograms and CMC PNGs here"
    )

    p = command(
        "calibrate",
        _calibrate,
        "Fit the fusion of similarity and keypoints, its probabilities and the match / review / "
        "new thresholds, on labelled data with simulated unknown turtles.",
    )
    p.add_argument(
        "data", type=Path, nargs="+", help="labelled folders, in any layout enroll reads"
    )
    p.add_argument(
        "--out", type=Path, help=f"where to write it (default: the gallery's {CALIBRATION_FILE})"
    )
    p.add_argument(
        "--left-out",
        type=float,
        default=CalibrationSettings.left_out,
        help="share of individuals left out of each simulated gallery",
    )
    p.add_argument(
        "--draws",
        type=int,
        default=CalibrationSettings.draws,
        help="simulated galleries per collection",
    )
    cli_records.add_commands(sub, command)
    return parser


def _encoder(args) -> Encoder:
    return Encoder(args.encoder or default_encoder_path())


def _head_finder(args) -> HeadFinder | None:
    return None if args.no_crop else HeadFinder(default_head_finder_path())


def _gallery(args, match: MatchSettings | None = None, create: bool = False) -> Gallery:
    root = cli_records.gallery_root(args, create)
    return Gallery(
        root, _encoder(args), match, progress=_bar("re-embedding"), head_finder=_head_finder(args)
    )


def _bar(desc: str):
    return lambda items: tqdm(items, desc=desc, mininterval=1, file=sys.stderr, leave=False)


def _enroll(args) -> int:
    collection = read_collection(args.data, use_regions=not args.no_regions)
    gallery = _gallery(args, create=True)
    records = collection.records
    bar = tqdm(total=len(records), desc="enrolling", unit="photo", mininterval=1, file=sys.stderr)

    def progress(items):
        for item in items:
            bar.update()
            yield item

    summary = gallery.enrol(records, progress)
    bar.close()
    problems = collection.problems + summary.problems
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    summary.problems = problems
    print(f"{summary.line()}; gallery {gallery.root} holds {len(gallery)} photos")
    nothing_done = summary.added == 0 and summary.already == 0
    return 1 if nothing_done else 0


def _identify(args) -> int:
    match = (
        MatchSettings(top=args.top)
        if args.threshold is None
        else MatchSettings(top=args.top, threshold=args.threshold)
    )
    region = parse_region(args.region)
    collection = photos_in(args.inputs)
    gallery = _gallery(args, match)
    if len(gallery) == 0:
        print(
            f"warning: the gallery {gallery.root} is empty: every photo will be 'new'; "
            "enrol photos first with `python -m turtle_id enroll DATA`",
            file=sys.stderr,
        )
    failures = list(collection.problems)
    done = 0
    for record in collection.records:
        try:
            if region is not None:
                check_region_fits(record.path, region, str(record.path))
            answer = gallery.identify(
                record.path,
                str(record.path),
                view=args.view or record.view,
                region=region or record.region,
                site=args.site,
                date_from=args.date_from,
                date_to=args.date_to,
            )
        except PhotoError as error:
            failures.append(str(error))
            continue
        done += 1
        if args.json:
            print(json.dumps(answer.as_json()), flush=True)
        else:
            ranked = "  ".join(f"{m.turtle_id} {m.score:.3f}" for m in answer.matches)
            print(f"{record.path}: {answer.decision}  {ranked}", flush=True)
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 0 if done else 1


def _evaluate(args) -> int:
    collection = read_collection(args.data, use_regions=not args.no_regions)
    settings = EvaluationSettings(
        seed=args.seed, use_views=not args.ignore_view, keypoints=not args.no_keypoints
    )
    fusion = Fusion.load(args.calibration) if args.calibration else None
    print("settings", json.dumps(asdict(settings)), file=sys.stderr)
    encoder = _encoder(args)
    result = evaluate(
        collection.records, encoder, settings, _bar("evaluating"), fusion, _head_finder(args)
    )
    for problem in collection.problems + result.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    summary = result.summary()
    for method in summary["methods"]:
        print(result.line(method))
    if args.open_set and result.fusion:
        summary["open_set"] = _open_set(args, result, encoder)
    if args.plots:
        summary["plots"] = _plots(args.plots, result)
    if args.json_out:
        detail = [q.__dict__ for q in result.queries]
        report = summary | {"data": str(args.data), "settings": asdict(settings), "detail": detail}
        args.json_out.write_text(json.dumps(report, indent=1, default=str))
    return 0 if result.queries else 1


def _open_set(args, result, encoder) -> dict:
    """Open-set figures at the calibration in use and at one fitted on this very data, so a
    threshold's transfer from other turtles to these is visible."""
    settings = CalibrationSettings(left_out=args.open_set, seed=args.seed)
    in_use = result.fusion
    own = fit_calibration(
        {args.data.name: result}, encoder.model_version, in_use.keypoints, settings
    )
    report = {}
    for label, fusion in (("calibration in use", in_use), ("fitted on this data", own)):
        scores = open_set_report(result, fusion, settings)
        print(
            f"open set ({args.open_set:.0%} of individuals unknown, {settings.draws} draws), "
            f"{label} [{fusion.fitted_on}; new below p={fusion.new_threshold:.2f}, "
            f"match from p={fusion.match_threshold:.2f}]:  map@5 {scores.map5:.3f}  "
            f"BAKS {scores.baks:.3f}  BAUS {scores.baus:.3f}"
        )
        report[label] = asdict(scores) | {"fitted_on": fusion.fitted_on}
    return report


def _plots(folder: Path, result) -> list[str]:
    from turtle_id import plots

    folder.mkdir(parents=True, exist_ok=True)
    thresholds = {}
    if result.fusion:
        thresholds = {"new": result.fusion.new_threshold, "match": result.fusion.match_threshold}
    written = []
    for name, figure in plots.evaluation_figures(result, thresholds).items():
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        written.append(str(path))
        print(f"wrote {path}")
    return written


def _calibrate(args) -> int:
    out = args.out or cli_records.gallery_root(args, create=True) / CALIBRATION_FILE
    encoder = _encoder(args)
    evaluations = {}
    for data in args.data:
        collection = read_collection(data)
        evaluations[data.name] = evaluate(
            collection.records,
            encoder,
            progress=_bar(f"calibrating {data.name}"),
            head_finder=_head_finder(args),
        )
    settings = CalibrationSettings(left_out=args.left_out, draws=args.draws)
    fusion = fit_calibration(evaluations, encoder.model_version, KeypointSettings().key, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    fusion.save(out)
    print(
        f"fitted on {fusion.fitted_on}: ranking score = {fusion.bias:.3f} "
        f"+ {fusion.weight_similarity:.3f} * similarity + {fusion.weight_inliers:.3f} "
        f"* log(1 + inliers); probability = sigmoid({fusion.platt_scale:.3f} * score "
        f"+ {fusion.platt_bias:.3f}); new below {fusion.new_threshold:.3f}, match from "
        f"{fusion.match_threshold:.3f}; written to {out}"
    )
    for name, evaluation in evaluations.items():
        scores = open_set_report(evaluation, fusion, settings)
        print(
            f"{name}: open set map@5 {scores.map5:.3f}  BAKS {scores.baks:.3f}  "
            f"BAUS {scores.baus:.3f}"
        )
    return 0
