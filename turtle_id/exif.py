"""Where a photo was taken, from its EXIF GPS block.

The GPS IFD (tag 0x8825) holds the latitude as degrees, minutes and seconds (three rationals,
tag 2) with a hemisphere letter N / S (tag 1), and the longitude likewise (tags 4 and 3, E / W);
EXIF 2.3, section 4.6.6.
"""

import math

from PIL import Image

GPS_IFD = 0x8825
LATITUDE_REF, LATITUDE, LONGITUDE_REF, LONGITUDE = 1, 2, 3, 4


def gps_location(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) in signed decimal degrees, or None when the photo has no usable
    GPS position (absent, malformed, out of range, or the 0, 0 some cameras write without a
    fix)."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # a damaged EXIF block only means "no position"
        return None
    latitude = _degrees(gps.get(LATITUDE), gps.get(LATITUDE_REF), "NS", 90)
    longitude = _degrees(gps.get(LONGITUDE), gps.get(LONGITUDE_REF), "EW", 180)
    if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
        return None
    return latitude, longitude


def dms_to_degrees(degrees: float, minutes: float, seconds: float, negative: bool) -> float:
    """38° 42' 30" S -> -38.708333..."""
    value = degrees + minutes / 60 + seconds / 3600
    return -value if negative else value


def _degrees(value, ref, letters: str, limit: float) -> float | None:
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if not isinstance(ref, str) or ref.strip()[:1].upper() not in letters:
        return None
    try:
        parts = [float(p) for p in value]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    result = dms_to_degrees(*parts, negative=ref.strip()[:1].upper() == letters[1])
    return result if abs(result) <= limit else None
