"""The encoder in onnxruntime against torch, and int8-quantised ONNX variants: speed and accuracy.

    python -m bench.embedding [--app-python /work/venv-app/bin/python] [--json out.json]

Needs torch (the export environment, see the README): the torch model is the one
`assets/encoder.onnx` was exported from (`export.encoder`, ImageNet weights; `--weights` for a
trained one), checked against the ONNX file before anything is timed.

Speed: real dev photos, preprocessed as the app does, embedded at batch 1 (identify) and 8
(enrolment) with 1 and 2 threads. Every configuration runs once per round, for `--rounds`
rounds, so a load that drifts during the run weighs on each alike; the figure is the median.

int8: onnxruntime's own quantisation. Dynamic (weights int8, activations quantised on the fly)
and static (QDQ, per-channel weights, activation ranges from calibration photos), whole or with
the stem and first block left in fp32. Calibration
uses turtle-heads-mini and nyala-dev, never the two turtle collections the accuracy is measured
on. The int8 files are written under --out (a temporary folder by default), never to assets/.

Accuracy: `python -m turtle_id evaluate DATA --encoder FILE --no-keypoints` on turtle-profiles-dev
and seaturtleid-dev for each file (run with --app-python, the app's own onnxruntime), and the
cosine similarity between each photo's fp32 and int8 embeddings.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from bench.common import DATA, finish, machine, ms, table
from export.encoder import Encoder as TorchEncoder
from export.encoder import EncoderSettings
from turtle_id.datasets import read_collection
from turtle_id.encoder import Encoder
from turtle_id.photo import crop, load_photo
from turtle_id.settings import default_encoder_path

EVALUATED = ("turtle-profiles-dev", "seaturtleid-dev")
BATCHES = (1, 8)
THREADS = (1, 2)
MAX_MAP5_DROP = 0.01  # int8 "wins on accuracy" when MAP@5 falls by no more than this anywhere
MIN_SPEED_UP = 1.1  # ... and "wins on speed" when it is at least this much faster


def pictures(collection: str, limit: int | None, encoder: Encoder) -> list[np.ndarray]:
    """Model inputs (3, size, size) of a collection's photos, cropped to their head boxes."""
    out = []
    for record in read_collection(DATA / collection).records[:limit]:
        photo = load_photo(record.path, target=encoder.info.input_size, region=record.region)
        out.append(encoder.preprocess(crop(photo, record.region)))
    return out


class Photos(CalibrationDataReader):
    """Feeds calibration inputs to quantize_static one photo at a time."""

    def __init__(self, inputs: list[np.ndarray], name: str):
        self._items = iter([{name: x[None]} for x in inputs])

    def get_next(self) -> dict | None:
        return next(self._items, None)


def quantise(fp32: Path, out: Path, calibration: list[np.ndarray]) -> dict[str, Path]:
    """Dynamic and static int8 variants of `fp32`, each with its metadata and its own model
    version (a gallery must never mix int8 embeddings with fp32 ones)."""
    prepared = out / "encoder-prepared.onnx"
    # Shape inference and graph optimisation first, as onnxruntime's quantisation guide says;
    # its symbolic shape inference fails on the Expand of F.normalize, ONNX's own suffices.
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    variants = {"int8 dynamic": out / "encoder-int8-dynamic.onnx"}
    quantize_dynamic(str(prepared), str(variants["int8 dynamic"]), weight_type=QuantType.QInt8)
    convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
    # The stem and the first block see raw pixels and the widest maps: quantised, they cost
    # the most agreement with fp32 (mean cosine 0.984 -> 0.995 when kept in fp32, dev photos).
    for name, kept in (("int8 static", []), ("int8 static, first block fp32", convs[:3])):
        variants[name] = out / f"encoder-{_tag(name)}.onnx"
        quantize_static(
            str(prepared),
            str(variants[name]),
            Photos(calibration, "photos"),
            quant_format=QuantFormat.QDQ,
            per_channel=True,  # depthwise convolutions differ too much channel to channel
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=kept,
        )
    source = onnx.load(str(fp32))
    meta = {p.key: p.value for p in source.metadata_props}
    for name, path in variants.items():
        model = onnx.load(str(path))
        del model.metadata_props[:]
        for key, value in {
            **meta,
            "model_version": f"{meta['model_version']}-{_tag(name)}",
        }.items():
            model.metadata_props.add(key=key, value=value)
        onnx.save(model, str(path))
    return variants


def _tag(name: str) -> str:
    return name.replace(", ", "-").replace(" ", "-")


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def speed(models: dict, inputs: np.ndarray, rounds: int) -> list[dict]:
    """ms per photo of every (model, batch, threads), interleaved round by round."""
    runs = {}
    for name, model in models.items():
        for threads in THREADS:
            for batch in BATCHES:
                x = inputs[:batch]
                if name == "torch":
                    runs[name, batch, threads] = _torch_run(model, torch.from_numpy(x), threads)
                else:
                    s = session(model, threads)
                    runs[name, batch, threads] = lambda s=s, x=x: s.run(None, {"photos": x})
    seconds = {key: [] for key in runs}
    for run in runs.values():  # warm-up: first runs allocate and pick kernels
        run()
        run()
    for _ in range(rounds):
        for key, run in runs.items():
            t0 = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - t0)
    rows = []
    for (name, batch, threads), values in seconds.items():
        per_photo = float(np.median(values)) / batch
        rows.append(
            {
                "model": name,
                "batch": batch,
                "threads": threads,
                "ms/photo": ms(per_photo),
                "photos/s": round(1 / per_photo, 1),
            }
        )
    return rows


def _torch_run(model: torch.nn.Module, x: torch.Tensor, threads: int):
    def run():
        torch.set_num_threads(threads)  # per run: the rounds interleave 1 and 2 threads
        with torch.inference_mode():
            return model(x)

    return run


def evaluate(python: str, path: Path, collection: str, out: Path) -> dict:
    """MAP@5, top-1, top-5 of `python -m turtle_id evaluate` with this encoder file."""
    report = out / f"evaluate-{path.stem}-{collection}.json"
    command = [python, "-m", "turtle_id", "evaluate", str(DATA / collection)]
    command += ["--encoder", str(path), "--no-keypoints", "--json", str(report)]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)  # in a throwaway gallery
    figures = json.loads(report.read_text())
    embedding = figures["methods"]["embedding"]
    return {
        "map5": round(embedding["map5"], 4),
        "top1": round(embedding["top1"], 4),
        "top5": round(embedding["top5"], 4),
        "queries": figures["queries"],
        "evaluate_s": round(time.perf_counter() - t0, 1),
    }


def agreement(fp32: Path, variant: Path, inputs: np.ndarray) -> dict:
    """Cosine similarity between each photo's fp32 and variant embeddings."""
    a = session(fp32, 2).run(None, {"photos": inputs})[0]
    b = session(variant, 2).run(None, {"photos": inputs})[0]
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cosine = np.sum(a / np.linalg.norm(a, axis=1, keepdims=True) * b, axis=1)
    return {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, default=default_encoder_path())
    parser.add_argument("--weights", type=Path, help="encoder.pt of a trained encoder")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calibration-photos", type=int, default=64)
    parser.add_argument("--app-python", default=sys.executable, help="runs `turtle_id evaluate`")
    parser.add_argument("--out", type=Path, help="where the int8 files go (default: a temp dir)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="turtle-id-int8-"))
    out.mkdir(parents=True, exist_ok=True)
    figures = {"machine": machine(), "onnxruntime": ort.__version__, "torch": torch.__version__}

    fp32 = Encoder(args.encoder)
    if args.weights:
        from export.export_onnx import load_weights

        model, _ = load_weights(args.weights)
    else:
        model = TorchEncoder(EncoderSettings(image_size=fp32.info.input_size))
    model.eval()
    inputs = np.stack(pictures("turtle-profiles-dev", None, fp32))  # (63, 3, 224, 224)
    with torch.inference_mode():
        expected = model(torch.from_numpy(inputs[:8])).numpy()
    parity = float(np.abs(expected - fp32.session.run(None, {"photos": inputs[:8]})[0]).max())
    print(f"torch against {args.encoder.name}: max abs difference {parity:.2e}", flush=True)
    if parity > 1e-4:
        raise SystemExit(
            f"the torch model is not the one {args.encoder} was exported from (max abs "
            f"difference {parity:.2e}): pass --weights with the encoder.pt it came from"
        )
    # Calibration photos from neither evaluated collection: all four turtle heads, and nyala.
    calibration = pictures("turtle-heads-mini", None, fp32)
    calibration += pictures("nyala-dev", args.calibration_photos - len(calibration), fp32)
    t0 = time.perf_counter()
    variants = quantise(args.encoder, out, calibration)
    print(f"quantised in {time.perf_counter() - t0:.0f} s: {out}", flush=True)
    files = {"onnxruntime fp32": args.encoder, **variants}
    figures |= {"parity_max_abs_diff": parity, "files": {k: str(v) for k, v in files.items()}}

    rows = speed({"torch": model, **files}, inputs[:8], args.rounds)
    by = {(r["model"], r["batch"], r["threads"]): r["ms/photo"] for r in rows}
    for r in rows:
        r["torch / this"] = round(by["torch", r["batch"], r["threads"]] / r["ms/photo"], 2)
        r["fp32 / this"] = round(
            by["onnxruntime fp32", r["batch"], r["threads"]] / r["ms/photo"], 2
        )
    figures["speed"] = rows
    print(table(rows), flush=True)

    accuracy = []
    for name, path in files.items():
        row = {"model": name, "MB": round(path.stat().st_size / 2**20, 1)}
        if name != "onnxruntime fp32":
            cosine = agreement(args.encoder, path, inputs)
            row |= {"cosine to fp32 mean": cosine["mean"], "min": cosine["min"]}
        for collection in EVALUATED:
            result = evaluate(args.app_python, path, collection, out)
            row[f"{collection} MAP@5"] = result["map5"]
            row[f"{collection} top-1"] = result["top1"]
            figures.setdefault("evaluate", {})[f"{name} {collection}"] = result
        accuracy.append(row)
        print(f"evaluated {name}", flush=True)
    figures["accuracy"] = accuracy
    print(table(accuracy, list({k: None for row in accuracy for k in row})))
    figures["verdict"] = verdict(rows, accuracy)
    print(figures["verdict"])
    finish(figures, args.json)


def verdict(speed_rows: list[dict], accuracy: list[dict]) -> str:
    """Which int8 variant, if any, is both faster (identify: batch 1, all threads) and as
    accurate (MAP@5 on every collection) as fp32."""
    fp32 = accuracy[0]
    lines = []
    for row in accuracy[1:]:
        name = row["model"]
        quick = next(
            r for r in speed_rows if r["model"] == name and r["batch"] == 1 and r["threads"] == 2
        )["fp32 / this"]
        drops = {c: fp32[f"{c} MAP@5"] - row[f"{c} MAP@5"] for c in EVALUATED}
        fast, accurate = quick >= MIN_SPEED_UP, max(drops.values()) <= MAX_MAP5_DROP
        change = ", ".join(f"{c} {-d:+.3f}" for c, d in drops.items())
        ship = "wins on both" if fast and accurate else "does not win on both"
        lines.append(f"{name}: {quick:.2f}x fp32 at batch 1, MAP@5 {change}: {ship}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
