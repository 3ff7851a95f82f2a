"""The hnswlib index over gallery embeddings: a cache of the catalogue, never the truth.

Labels are the catalogue's photo ids. The metadata file beside the index records which model
made the embeddings and which photos are in it, so a stale or foreign index is detected and
rebuilt rather than trusted.
"""

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hnswlib
import numpy as np

from turtle_id.settings import IndexSettings


class IndexMismatch(Exception):
    """The saved index does not fit the catalogue or model; it must be rebuilt."""


@dataclass
class IndexMeta:
    model_version: str
    dim: int
    count: int
    max_label: int  # highest photo id indexed; photos above it are added on the next sync
    sha256: str  # of the index file: hnswlib itself may crash, not raise, on a damaged file
    removed: list[int] = field(default_factory=list)  # labels marked deleted in the file


class PhotoIndex:
    """Approximate cosine search over photo embeddings with hnswlib."""

    def __init__(self, dim: int, model_version: str, settings: IndexSettings = IndexSettings()):
        self.dim = dim
        self.model_version = model_version
        self.settings = settings
        self._index = hnswlib.Index(space="cosine", dim=dim)
        self._index.init_index(
            max_elements=1024, ef_construction=settings.ef_construction, M=settings.M
        )
        self.max_label = 0
        self.removed: set[int] = set()

    def __len__(self) -> int:
        """Photos in the index, removed ones included."""
        return self._index.get_current_count()

    def labels(self) -> list[int]:
        """Every label in the index, removed ones included."""
        return [int(x) for x in self._index.get_ids_list()]

    @property
    def searchable(self) -> int:
        """Photos a search can return: those not removed."""
        return len(self) - len(self.removed)

    def set_removed(self, labels: set[int]) -> None:
        """Exactly these labels are left out of every search from now on; others come back.
        hnswlib's mark_deleted keeps them in the graph, so restoring one is instant."""
        labels = set(labels)
        for label in labels - self.removed:
            self._index.mark_deleted(label)
        for label in self.removed - labels:
            self._index.unmark_deleted(label)
        self.removed = labels

    def add(self, embeddings: np.ndarray, labels: np.ndarray) -> None:
        """Add embeddings (n, dim) under integer labels (n,)."""
        if len(labels) == 0:
            return
        needed = len(self) + len(labels)
        if needed > self._index.get_max_elements():
            # Grow geometrically so a stream of single enrolments does not resize every time.
            self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
        self._index.add_items(np.asarray(embeddings, dtype=np.float32), np.asarray(labels))
        self.max_label = max(self.max_label, int(np.max(labels)))

    def search(
        self, query: np.ndarray, k: int, allowed: Callable[[int], bool] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest photos to one query embedding (dim,).

        Args:
            allowed: keeps only labels for which it returns True (e.g. photos of one view).

        Returns:
            labels (k',) and cosine similarities (k',), best first; k' <= k when fewer photos
            are in the index or allowed.
        """
        k = min(k, self.searchable)
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # higher ef: better recall, slower search; hnswlib needs ef >= k.
        self._index.set_ef(max(self.settings.ef_for(self.searchable), k))
        try:
            labels, distances = self._index.knn_query(query.reshape(1, -1), k=k, filter=allowed)
        except RuntimeError:
            # hnswlib raises when a filter (or removed photos) leaves fewer than k reachable
            # photos; ask for what exists.
            if allowed is None and not self.removed:
                raise
            return self._search_few(query, allowed or (lambda label: True))
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def _search_few(
        self, query: np.ndarray, allowed: Callable[[int], bool]
    ) -> tuple[np.ndarray, np.ndarray]:
        labels = [x for x in self._index.get_ids_list() if x not in self.removed and allowed(x)]
        labels = np.array(labels, dtype=np.int64)
        if len(labels) == 0:
            return labels, np.zeros(0, dtype=np.float32)
        vectors = np.asarray(self._index.get_items(labels), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
        q = query / max(float(np.linalg.norm(query)), 1e-12)
        similarities = vectors @ q
        order = np.argsort(-similarities)
        return labels[order], similarities[order].astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the index and its metadata (`path` and `path.json`), each atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temporary names of their own: two processes on one gallery may save at once.
        unique = f"{os.getpid()}-{threading.get_ident()}.tmp"
        tmp = path.with_name(f"{path.name}.{unique}")
        self._index.save_index(str(tmp))
        meta = IndexMeta(
            self.model_version,
            self.dim,
            len(self),
            self.max_label,
            _sha256(tmp),
            sorted(self.removed),
        )
        meta_tmp = path.with_name(f"{path.name}.json.{unique}")
        meta_tmp.write_text(json.dumps(meta.__dict__))
        # note: a kill between these two replaces, or two processes saving at once, can leave
        # index and metadata of different saves; load() then sees the checksum differ and the
        # gallery rebuilds the index from the catalogue.
        os.replace(tmp, path)
        os.replace(meta_tmp, _meta_path(path))

    @classmethod
    def load(
        cls, path: Path, dim: int, model_version: str, settings: IndexSettings = IndexSettings()
    ) -> "PhotoIndex":
        """Load a saved index; raises IndexMismatch when it is missing, corrupt or foreign."""
        try:
            meta = IndexMeta(**json.loads(_meta_path(path).read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise IndexMismatch(f"index metadata unreadable: {error}") from None
        if meta.model_version != model_version or meta.dim != dim:
            raise IndexMismatch(
                f"index made by {meta.model_version} ({meta.dim}-d), encoder is {model_version}"
            )
        if not path.is_file() or _sha256(path) != meta.sha256:
            raise IndexMismatch(f"index file {path} is missing or does not match its checksum")
        index = cls.__new__(cls)
        index.dim, index.model_version, index.settings = dim, model_version, settings
        # A fresh, uninitialised hnswlib.Index: loading into an initialised one prints a warning.
        index._index = hnswlib.Index(space="cosine", dim=dim)
        try:
            index._index.load_index(str(path), max_elements=max(meta.count, 1024))
        except (RuntimeError, OSError, ValueError) as error:
            raise IndexMismatch(f"index file unreadable: {error}") from None
        if len(index) != meta.count:
            raise IndexMismatch(f"index holds {len(index)} photos, metadata says {meta.count}")
        index.max_label = meta.max_label
        index.removed = set(meta.removed)
        return index


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")
