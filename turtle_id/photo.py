"""Decoding photos: any common format and bit depth in, an upright 8-bit RGB picture out.

Every failure is a `PhotoError` whose message names the file and what to do about it.
"""

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from turtle_id.exif import gps_location

MIN_SIDE = 32  # pixels: smaller photos cannot show a face pattern

Region = tuple[int, int, int, int]  # x, y, w, h in pixels of the upright photo as stored


class PhotoError(ValueError):
    """A photo that cannot be used, with the reason and the fix in the message."""


@dataclass(frozen=True)
class Photo:
    image: Image.Image  # RGB, upright, possibly reduced by `scale`
    size: tuple[int, int]  # (width, height) of the upright photo at full resolution
    scale: float  # image.width / size[0]: < 1 when JPEG draft mode decoded at a reduced size
    taken: str | None = None  # EXIF DateTimeOriginal as "YYYY-MM-DD HH:MM:SS", None if absent
    location: tuple[float, float] | None = None  # EXIF GPS (latitude, longitude), degrees


def parse_region(text: str | None) -> Region | None:
    """`"x,y,w,h"` to a region; None or an empty string means the whole photo."""
    if not text:
        return None
    parts = text.replace(" ", "").split(",")
    try:
        x, y, w, h = (int(float(p)) for p in parts)
    except (ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise ValueError(
            f"region {text!r} is not x,y,w,h in pixels: write e.g. 120,80,400,300"
        ) from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"region {text!r} needs x, y >= 0 and w, h > 0")
    return x, y, w, h


def check_region_fits(source: Path | str, region: Region, name: str | None = None) -> None:
    """PhotoError when the region reaches past the edges of the upright photo. Only the
    header is read; a photo that cannot be read is left for `load_photo` to report.

    `crop` cuts a region that overshoots to the photo's edges, as enrolment and the app's
    drawn box want; a region typed once for many photos (identify --region) that overshoots
    was measured on another photo, so it is refused instead.
    """
    name = name or str(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = _upright_size(image)
    except Exception:  # damaged or not a photo: load_photo says which, with the fix
        return
    x, y, w, h = region
    if x + w > width or y + h > height:
        raise PhotoError(
            f"{name}: region {x},{y},{w},{h} reaches past the {width}x{height} photo: give "
            f"x + w <= {width} and y + h <= {height}, in pixels of the photo as stored"
        )


def load_photo(
    source: Path | str | bytes,
    name: str | None = None,
    target: int = 0,
    region: Region | None = None,
) -> Photo:
    """Decode a photo file (or its bytes), EXIF orientation applied, as 8-bit RGB.

    Args:
        source: a path, or the file's bytes.
        name: how to call the photo in messages (defaults to the path).
        target: pixels the caller needs on the smaller side of `region` (of the whole photo
            when None); JPEGs are decoded at the smallest reduced size (1/2, 1/4, 1/8) that
            keeps it. 0 decodes at full size.
        region: the part of the photo the caller will crop, see `crop`.
    """
    name = name or str(source if not isinstance(source, bytes) else "uploaded photo")
    data = _read_bytes(source, name)
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its limit; treat the warning as the error it is.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            full = _upright_size(image)
            taken = _taken(image)
            location = gps_location(image.getexif())
            _check_still(image, name)
            _check_size(full, name)
            if image.format in ("JPEG", "MPO") and target:
                _draft(image, full, target, region)
            image.load()
            image = _upright(image)
            rgb = _to_rgb(image)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            # Read the limit now (about 89 megapixels by default): a caller may have changed it.
            raise PhotoError(
                f"{name}: larger than {Image.MAX_IMAGE_PIXELS:,} pixels, Pillow's "
                "decompression-bomb limit: resize it below that (a phone photo of 12-50 MP is fine)"
            ) from None
        except UnidentifiedImageError:
            raise PhotoError(
                f"{name}: not a photo Pillow can read: upload a JPEG, PNG, WebP or TIFF"
            ) from None
        except (OSError, SyntaxError, ValueError, *_PARSER_ERRORS) as error:
            if isinstance(error, PhotoError):
                raise
            raise PhotoError(
                f"{name}: the file is damaged or truncated ({error}): copy it again from the "
                "camera or export it again"
            ) from None
    return Photo(image=rgb, size=full, scale=rgb.width / full[0], taken=taken, location=location)


def crop(photo: Photo, region: Region | None, name: str = "photo") -> Image.Image:
    """The region of the photo (pixels of the full upright photo), or the whole picture."""
    if region is None:
        return photo.image
    x, y, w, h = region
    width, height = photo.size
    if x >= width or y >= height:
        raise PhotoError(
            f"{name}: region {region} lies outside the {width}x{height} photo: "
            "give x,y,w,h in pixels of the photo as stored"
        )
    s = photo.scale
    box = (
        int(x * s),
        int(y * s),
        max(int(x * s) + 1, int(min(x + w, width) * s)),
        max(int(y * s) + 1, int(min(y + h, height) * s)),
    )
    return photo.image.crop(box)


def _read_bytes(source: Path | str | bytes, name: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise PhotoError(f"{name}: no such file: check the path or the CSV row")
        data = path.read_bytes()
    if not data:
        raise PhotoError(f"{name}: photo is 0 bytes: upload a JPEG, PNG, WebP or TIFF")
    return data


# What Pillow's parsers were seen to raise, besides OSError and ValueError, on damaged files
# (tests/test_fuzz.py): here they mean the same, "damaged", not a bug of this module.
_PARSER_ERRORS = (TypeError, IndexError, KeyError, struct.error, ZeroDivisionError, EOFError)

# EXIF orientation (tag 0x0112) -> the transpose that makes the picture upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(image: Image.Image) -> Image.Image:
    # Not ImageOps.exif_transpose: it writes the EXIF back into the result, and raises
    # TypeError on some damaged EXIF blocks (Pillow 12); only the pixels are needed here.
    method = _TRANSPOSE.get(image.getexif().get(0x0112, 1))
    return image.transpose(method) if method is not None else image


def _upright_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _taken(image: Image.Image) -> str | None:
    exif = image.getexif()
    # DateTimeOriginal (0x9003) lives in the Exif sub-IFD (0x8769); DateTime (0x0132) is a
    # fallback some cameras write instead. EXIF writes dates as "YYYY:MM:DD HH:MM:SS".
    value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    if not isinstance(value, str) or len(value) < 10:
        return None
    return value[:10].replace(":", "-") + value[10:19]


def _check_still(image: Image.Image, name: str) -> None:
    # Multi-page TIFFs and MPO (a JPEG followed by a preview or depth map, written by many
    # cameras and phones) are still photos: the first frame is the photo.
    if getattr(image, "n_frames", 1) > 1 and image.format not in ("TIFF", "MPO"):
        raise PhotoError(f"{name}: an animation ({image.n_frames} frames): upload a still photo")


def _check_size(size: tuple[int, int], name: str) -> None:
    if min(size) < MIN_SIDE:
        raise PhotoError(
            f"{name}: only {size[0]}x{size[1]} pixels: upload a photo at least "
            f"{MIN_SIDE} pixels on each side"
        )


def _draft(image: Image.Image, full: tuple[int, int], target: int, region: Region | None) -> None:
    # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale in the DCT, several times faster than a
    # full decode followed by a resize. Pillow picks the largest reduction r with
    # width // requested_width >= r, so asking for width // r gets exactly r.
    smaller_side = min(region[2:]) if region else min(full)
    for reduction in (8, 4, 2):
        if smaller_side // reduction >= target:
            image.draft("RGB", (image.width // reduction, image.height // reduction))
            return


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits rather than clip (convert("L") clips at 255).
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        span = max(float(values.max() - values.min()), 1e-12)
        grey = ((values - values.min()) / span * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels carry no pattern; put them on mid grey, not on black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
