"""Settings, one dataclass per concern, with the environment variables that override them."""

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

ASSETS = Path(__file__).resolve().parent.parent / "assets"
GALLERY_ENV = "TURTLE_ID_GALLERY"
ENCODER_ENV = "TURTLE_ID_ENCODER"
THRESHOLD_ENV = "TURTLE_ID_THRESHOLD"

VIEWS = ("top", "left", "right")
# Hosted use: the largest upload the app accepts (Gradio's max_file_size). A 50-megapixel JPEG
# from a camera is about 25 MB; a photo over this is refused before it is decoded.
MAX_UPLOAD_MB = 50


def default_gallery_dir() -> Path:
    """`$TURTLE_ID_GALLERY`, else a `gallery` folder in the user's data directory."""
    if os.environ.get(GALLERY_ENV):
        return Path(os.environ[GALLERY_ENV]).expanduser()
    return Path(user_data_dir("turtle-id", appauthor=False)) / "gallery"


def default_head_finder_path() -> Path:
    """The head finder shipped in `assets/`."""
    return ASSETS / "head_finder.onnx"


def default_encoder_path() -> Path:
    """`$TURTLE_ID_ENCODER`, else the encoder shipped in `assets/`."""
    return Path(os.environ.get(ENCODER_ENV) or ASSETS / "encoder.onnx")


def _default_threshold() -> float | None:
    # None defers to the encoder's own threshold, measured on the dev data when it was
    # exported (its ONNX metadata): a threshold belongs to the embedding space that made it.
    value = os.environ.get(THRESHOLD_ENV)
    return float(value) if value else None


@dataclass(frozen=True)
class IndexSettings:
    M: int = 16  # hnswlib graph degree: higher = better recall, more memory
    ef_construction: int = 200  # build-time candidate list: higher = better graph, slower build
    # query-time candidate list (raised to k when k is larger): higher = better recall,
    # slower. 300: the smallest with photo recall@5 >= 0.99 at 100k photos (bench/search.py).
    ef: int = 300
    # A larger gallery needs a longer list for the same recall: the smallest ef with
    # recall@5 >= 0.99 was 100 at 10k photos, 300 at 100k and 1600 at 1M (bench/search.py),
    # so beyond `ef_at` photos ef grows as (photos / ef_at) ** ef_growth: 1688 at 1M.
    ef_at: int = 100_000
    ef_growth: float = 0.75

    def ef_for(self, photos: int) -> int:
        """The query-time ef for an index of this many searchable photos."""
        if photos <= self.ef_at:
            return self.ef
        return math.ceil(self.ef * (photos / self.ef_at) ** self.ef_growth)


@dataclass(frozen=True)
class MatchSettings:
    top: int = 5  # individuals returned per query
    # score for a "match": a calibrated probability, 0..1, where a calibration fits the
    # encoder, else a cosine similarity, -1..1; None = the calibration's, else the encoder's own
    threshold: float | None = field(default_factory=_default_threshold)
    shortlist: int = 50  # photos fetched from the index before aggregating per individual
    verify: int = 30  # best photos of the shortlist re-scored by keypoints; 0 = embedding only
