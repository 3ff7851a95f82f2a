"""Opening an ONNX model with onnxruntime: CUDA when present, CPU otherwise."""

import logging
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)
_announced: set[str] = set()  # kinds of model whose provider was logged


def open_model(path: Path, kind: str, restore: str, threads: int = 0) -> ort.InferenceSession:
    """The session of a shipped model file; a missing file says how to get it back.

    Args:
        kind: what the model is, for messages ("encoder", "head finder").
        restore: the fix, e.g. "restore assets/encoder.onnx from the repository".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} {path} is missing: {restore}")
    return open_session(path, threads)


def announce(kind: str, path: Path, model_version: str, provider: str) -> None:
    """Logs which provider a kind of model runs on, once per process: galleries and tests
    open many."""
    if kind not in _announced:
        log.info("%s %s (%s) runs on %s", kind, Path(path).name, model_version, provider)
        _announced.add(kind)


def open_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An inference session on the best provider onnxruntime has.

    Args:
        threads: intra-op threads; 0 lets onnxruntime use every core.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    providers = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    # onnxruntime-gpu lists CUDA even on machines without its libraries and then prints a page
    # of errors while falling back to CPU; callers report the provider actually used, once.
    ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    finally:
        ort.set_default_logger_severity(2)
