"""Photo files inside the gallery, stored by content hash, each with a JPEG preview."""

import hashlib
import os
from pathlib import Path

from PIL import Image

PREVIEW_SIDE = 1024  # pixels, longer side of the browser-friendly copy


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PhotoStore:
    """`photos/ab/abcd....jpg` originals and `previews/ab/abcd....jpg` copies under `root`."""

    def __init__(self, root: Path):
        self.root = root

    def paths(self, sha256: str, suffix: str) -> tuple[str, str]:
        """Relative paths of the stored original and its preview."""
        suffix = suffix.lower() if suffix.lower() in _SUFFIXES else ".bin"
        return (
            f"photos/{sha256[:2]}/{sha256}{suffix}",
            f"previews/{sha256[:2]}/{sha256}.jpg",
        )

    def put(
        self, data: bytes, sha256: str, suffix: str, picture: Image.Image
    ) -> tuple[list[Path], tuple[str, str]]:
        """Write the original and a preview of `picture` unless present.

        Returns:
            the files this call created (to remove if the enrolment is rolled back), and the
            relative paths of the original and the preview.
        """
        original, preview = self.paths(sha256, suffix)
        created = []
        target = self.root / original
        if not target.exists():
            _atomic_write(target, data)
            created.append(target)
        target = self.root / preview
        if not target.exists():
            small = picture.copy()
            small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            small.save(tmp, format="JPEG", quality=85)
            os.replace(tmp, target)
            created.append(target)
        return created, (original, preview)

    def absolute(self, relative: str) -> Path:
        return self.root / relative


_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
