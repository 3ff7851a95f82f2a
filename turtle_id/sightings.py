"""A photo's sighting: when and where it was taken, by whom, with notes; and the filter that
limits a search to one site or a date range.

Dates are stored as ISO text, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (local time of the camera:
EXIF has no time zone), so they sort and compare as text.
"""

import math
import re
from dataclasses import dataclass, fields

MAX_TEXT = 200  # characters in a site or observer name
MAX_NOTES = 2000  # characters in notes

_DATE = re.compile(
    r"^(\d{4})[-:/](\d{1,2})[-:/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def normalise_date(text: str | None) -> str | None:
    """`2021:06:24 10:05:00` (EXIF), `2021-06-24T10:05`, `2021/6/24` ... to ISO text; None or
    blank to None; anything else is a ValueError."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"date {text!r} is not a date: write it as YYYY-MM-DD [HH:MM[:SS]]")
    year, month, day, hour, minute, second = match.groups()
    month, day = int(month), int(day)
    if not (1 <= month <= 12 and 1 <= day <= _days_in(int(year), month)):
        raise ValueError(f"date {text!r} has no such day: check the month and the day")
    date = f"{year}-{month:02d}-{day:02d}"
    if hour is None:
        return date
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise ValueError(f"date {text!r} has no such time: write HH:MM:SS, 00:00:00 to 23:59:59")
    return f"{date} {int(hour):02d}:{minute}:{second or '00'}"


def day_of(date_taken: str | None) -> str | None:
    """The `YYYY-MM-DD` of a stored date, or None when it is missing or not a date (dates
    enrolled from a CSV are kept as written there)."""
    try:
        date = normalise_date(date_taken)
    except ValueError:
        return None
    return date[:10] if date else None


def check_coordinate(value: float | str | None, name: str, limit: float) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) in decimal degrees, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number: write decimal degrees") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise ValueError(f"{name} {value!r} is outside -{limit:g}..{limit:g} decimal degrees")
    return number


def clean_text(value: str | None, name: str, limit: int = MAX_TEXT) -> str | None:
    """Stripped text, None when blank; control characters (other than newlines in notes)
    and text over `limit` characters are refused."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    bad = sorted({repr(c) for c in text if ord(c) < 32 and c not in "\n\t"})
    if bad:
        raise ValueError(f"{name} contains control characters {' '.join(bad)}: remove them")
    if len(text) > limit:
        raise ValueError(f"{name} is {len(text)} characters: shorten it to at most {limit}")
    return text


@dataclass(frozen=True)
class Sighting:
    """What a ranger records with a photo; every field optional, validated on creation."""

    date: str | None = None  # date (and time) taken; None = the photo's EXIF date
    site: str | None = None  # beach, reef or dive site
    observer: str | None = None
    notes: str | None = None
    latitude: float | None = None  # WGS84 decimal degrees; None = the photo's EXIF GPS
    longitude: float | None = None

    def __post_init__(self):
        values = {
            "date": normalise_date(self.date),
            "site": clean_text(self.site, "site"),
            "observer": clean_text(self.observer, "observer"),
            "notes": clean_text(self.notes, "notes", MAX_NOTES),
            "latitude": check_coordinate(self.latitude, "latitude", 90),
            "longitude": check_coordinate(self.longitude, "longitude", 180),
        }
        if (values["latitude"] is None) != (values["longitude"] is None):
            raise ValueError("give both latitude and longitude, or neither")
        for f in fields(self):
            object.__setattr__(self, f.name, values[f.name])


@dataclass(frozen=True)
class SightingFilter:
    """Which gallery photos a search may match: one site, and/or a range of days."""

    site: str | None = None  # compared ignoring case and surrounding spaces
    date_from: str | None = None  # first day, inclusive, YYYY-MM-DD
    date_to: str | None = None  # last day, inclusive

    def __post_init__(self):
        site = (self.site or "").strip().casefold() or None
        first, last = (normalise_date(d) for d in (self.date_from, self.date_to))
        first, last = first and first[:10], last and last[:10]
        if first and last and first > last:
            raise ValueError(f"date range {first} to {last} is empty: swap the two dates")
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "date_from", first)
        object.__setattr__(self, "date_to", last)

    @property
    def active(self) -> bool:
        return bool(self.site or self.date_from or self.date_to)

    def allows(self, date_taken: str | None, site: str | None) -> bool:
        """Whether a photo of this date and site is searched. A photo without a site, or
        without a date, is left out once the filter asks for one."""
        if self.site and (site or "").strip().casefold() != self.site:
            return False
        if self.date_from or self.date_to:
            day = day_of(date_taken)
            if day is None:
                return False
            if (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
                return False
        return True


def _days_in(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31
