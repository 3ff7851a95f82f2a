"""Which cached views are positives of which: labels per view (with the horizontal flip), the
sampler's groups, and the same-day pairs that the contrastive loss leaves out.
"""

from collections import defaultdict

import torch

from export.data import TrainPhoto
from export.sampler import Groups

MIRROR = "~mirror"  # label suffix of a mirrored view when flip = "new"
FLIPS = ("none", "same", "new")


def view_labels(
    photos: list[TrainPhoto], flipped: torch.Tensor, views: int, flip: str
) -> tuple[list[str], Groups]:
    """Each cached view's label (view `photo * views + v`), and the sampler's groups:
    collection -> label -> (date, views) of each photo.

    A mirrored left profile looks like a right profile, but of no real turtle: with flip =
    "new" it gets a label of its own (a mirrored individual, one more negative for all the
    others); "same" keeps the photo's label; "none" leaves mirrored views out of every batch.
    """
    if flip not in FLIPS:
        raise ValueError(f"--flip {flip!r} is not one of {', '.join(FLIPS)}")
    labels: list[str] = []
    groups: dict = defaultdict(lambda: defaultdict(dict))
    for index, mirrored in enumerate(flipped.tolist()):
        photo = photos[index // views]
        label = photo.label + (MIRROR if mirrored and flip == "new" else "")
        labels.append(label)
        if not (mirrored and flip == "none"):
            groups[photo.collection][label].setdefault(index // views, []).append(index)
    return labels, {
        collection: {
            label: [(photos[p].record.date, items) for p, items in by_photo.items()]
            for label, by_photo in by_label.items()
        }
        for collection, by_label in groups.items()
    }


def photo_days(photos: list[TrainPhoto]) -> torch.Tensor:
    """(n_photos,) one integer per (collection, date) of each photo; -1 = undated."""
    days: dict[tuple[str, str], int] = {}
    return torch.tensor(
        [
            days.setdefault((p.collection, p.record.date), len(days)) if p.record.date else -1
            for p in photos
        ]
    )


def same_day(labels: torch.Tensor, photos: torch.Tensor, days: torch.Tensor) -> torch.Tensor:
    """(B, B) bool: different photos of one label taken on one (known) day.

    Args:
        labels: (B,) label of each item in the batch.
        photos: (B,) photo of each item.
        days: (n_photos,) from `photo_days`.
    """
    day = days[photos]
    return (
        (labels[:, None] == labels[None, :])
        & (photos[:, None] != photos[None, :])
        & (day[:, None] == day[None, :])
        & (day[:, None] >= 0)
    )
