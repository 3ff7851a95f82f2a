"""Opening an ONNX model with onnxruntime: CUDA when present, CPU otherwise."""

from pathlib import Path

import onnxruntime as ort


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
