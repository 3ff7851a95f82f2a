"""Local keypoints on the head: RootSIFT features, ratio-test matching and a RANSAC check.

Global embeddings find the right neighbourhood; keypoints see the scute pattern itself. The
inlier count of a geometrically consistent set of matches is the evidence that two photos show
the same face (a shortlist re-ranker, as in the strongest published re-identification systems).
"""

import io
import threading
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class KeypointSettings:
    side: int = 512  # pixels, longer side of the picture the keypoints are found on
    features: int = 1000  # most keypoints kept per photo (strongest first)
    ratio: float = 0.8  # Lowe's ratio test: best match closer than ratio x second best
    ransac_px: float = 8.0  # RANSAC reprojection tolerance, pixels at `side`
    min_matches: int = 4  # a similarity transform needs at least this many matches

    @property
    def key(self) -> str:
        """Identifies stored keypoints: a change of extraction settings invalidates them."""
        return f"rootsift-{self.side}-{self.features}"


@dataclass(frozen=True)
class Keypoints:
    points: np.ndarray  # (n, 2) float32, x, y in pixels of the picture at `scale`
    descriptors: np.ndarray  # (n, 128) float32, RootSIFT (unit L2 norm)
    scale: float  # picture pixels per keypoint pixel: multiply points by it to map back

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # Descriptors are stored as uint8: RootSIFT components lie in 0..1, so 1/255 steps lose
        # little and take a quarter of the space of float32.
        np.savez(
            buffer,
            points=self.points.astype(np.float32),
            descriptors=np.round(self.descriptors * 255).astype(np.uint8),
            scale=np.float32(self.scale),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Keypoints":
        stored = np.load(io.BytesIO(data))
        return cls(
            stored["points"],
            stored["descriptors"].astype(np.float32) / 255.0,
            float(stored["scale"]),
        )

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class KeypointMatch:
    matches: int  # descriptor matches passing the ratio test
    inliers: int  # of those, consistent with one similarity transform (RANSAC)
    pairs: np.ndarray  # (inliers, 2, 2): query (x, y) and gallery (x, y), picture pixels


class KeypointMatcher:
    """Extracts and matches RootSIFT keypoints; one instance can serve many threads."""

    def __init__(self, settings: KeypointSettings = KeypointSettings()):
        self.settings = settings
        # One SIFT and one CLAHE per thread: OpenCV's CLAHE keeps its working buffers in the
        # object, and one shared by two threads returned wrong pictures (and can corrupt the
        # heap) when enrolment and the app's handlers extracted at once.
        self._local = threading.local()

    @property
    def _sift(self):
        if not hasattr(self._local, "sift"):
            self._local.sift = cv2.SIFT_create(nfeatures=self.settings.features)
        return self._local.sift

    @property
    def _clahe(self):
        if not hasattr(self._local, "clahe"):
            # CLAHE evens out light across the face: sun glare and shade otherwise dominate.
            self._local.clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        return self._local.clahe

    def extract(self, picture: Image.Image) -> Keypoints:
        """Keypoints of an RGB or grey picture (the head region when one is known)."""
        grey = picture.convert("L")
        scale = self.settings.side / max(grey.size)
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        pixels = self._clahe.apply(np.asarray(grey.resize(size, Image.BILINEAR)))
        found, descriptors = self._sift.detectAndCompute(pixels, None)
        if descriptors is None:
            return Keypoints(
                np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), 1 / scale
            )
        # RootSIFT (Arandjelovic & Zisserman 2012): L1-normalise, then square-root, so that
        # Euclidean distance compares descriptors like the Hellinger kernel does.
        rooted = np.sqrt(descriptors / (descriptors.sum(axis=1, keepdims=True) + 1e-7))
        points = np.array([k.pt for k in found], dtype=np.float32)
        return Keypoints(points, rooted.astype(np.float32), 1 / scale)

    def match(self, query: Keypoints, gallery: Keypoints) -> KeypointMatch:
        """Ratio-test matches from query to gallery photo, then a RANSAC similarity check."""
        none = KeypointMatch(0, 0, np.zeros((0, 2, 2), np.float32))
        if len(query) < 2 or len(gallery) < 2:
            return none
        matcher = cv2.BFMatcher(cv2.NORM_L2)
        pairs = matcher.knnMatch(query.descriptors, gallery.descriptors, k=2)
        good = [
            p[0]
            for p in pairs
            if len(p) == 2 and p[0].distance < self.settings.ratio * p[1].distance
        ]
        if len(good) < self.settings.min_matches:
            return KeypointMatch(len(good), 0, none.pairs)
        source = query.points[[m.queryIdx for m in good]]
        target = gallery.points[[m.trainIdx for m in good]]
        # A partial affine (rotation, uniform scale, shift) fits two photos of one face better
        # than a homography with so few matches, and it rejects mirror-image coincidences.
        _, mask = cv2.estimateAffinePartial2D(
            source, target, method=cv2.RANSAC, ransacReprojThreshold=self.settings.ransac_px
        )
        if mask is None:
            return KeypointMatch(len(good), 0, none.pairs)
        keep = mask.ravel().astype(bool)
        inlier_pairs = np.stack([source[keep] * query.scale, target[keep] * gallery.scale], axis=1)
        return KeypointMatch(len(good), int(keep.sum()), inlier_pairs.astype(np.float32))
