"""P x K batches: P labels (individuals, or individual + view) with K items each, all drawn
from one collection, so that the negatives in a batch are of the same species and setting.

An item is one cached augmented view of a photo. The K items of a label come from as many
different dates, then photos, as it has: photos of one individual taken on one day share light
and background, and only other days teach what stays the same about the individual itself.
"""

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

# A photo: its date (None = unknown) and its items (cached views).
Photo = tuple[str | None, Sequence[int]]
# collection -> label -> that label's photos
Groups = Mapping[str, Mapping[str, Sequence[Photo]]]


class PKSampler:
    """Draws batches of at most P labels x K items, one collection per batch.

    Collections are drawn with probability proportional to (photos ** `weight_power`): 0 draws
    them uniformly, 1 in proportion to their size, 0.5 between, so a small collection of the
    target species is not drowned by a large one of another species. `per_photo` views of
    each chosen photo go in together (2: every item has at least its own augmented twin as a
    positive, as in SimCLR).
    """

    def __init__(
        self, groups: Groups, P: int, K: int, weight_power: float = 0.5, per_photo: int = 1
    ):
        if P < 2 or K < 2 or not 1 <= per_photo <= K:
            raise ValueError(
                f"P={P}, K={K}, per_photo={per_photo}: a batch needs P >= 2 labels with "
                "K >= 2 items each, and 1 <= per_photo <= K"
            )
        self.P, self.K, self.per_photo = P, K, per_photo
        # A label needs two items for a positive pair; a collection needs two such labels.
        usable = {
            collection: {
                label: photos
                for label, photos in sorted(labels.items())
                if sum(len(items) for _, items in photos) >= 2
            }
            for collection, labels in sorted(groups.items())
        }
        self.groups = {c: labels for c, labels in usable.items() if len(labels) >= 2}
        if not self.groups:
            raise ValueError(
                "no collection has two labels with two photos or views each: add photos, or "
                "cache more views per photo"
            )
        sizes = [sum(len(p) for p in labels.values()) for labels in self.groups.values()]
        self.weights = [n**weight_power for n in sizes]

    def batch(self, rng: random.Random) -> list[int]:
        """Item indices of one batch, K consecutive items per label."""
        (collection,) = rng.choices(list(self.groups), weights=self.weights)
        labels = self.groups[collection]
        chosen = rng.sample(sorted(labels), min(self.P, len(labels)))
        return [item for label in chosen for item in self.items(labels[label], rng)]

    def items(self, photos: Sequence[Photo], rng: random.Random) -> list[int]:
        """K items of one label: rounds over its photos, one date after another before any
        date repeats, `per_photo` unused views of each; views repeat only when all are used."""
        order = _interleaved_by_date(photos, rng)
        unused = [rng.sample(list(items), len(items)) for _, items in photos]
        out: list[int] = []
        while len(out) < self.K:
            for p in order:
                for _ in range(self.per_photo):
                    if len(out) < self.K and unused[p]:
                        out.append(unused[p].pop())
            if not any(unused):  # every view used: start again
                unused = [rng.sample(list(items), len(items)) for _, items in photos]
        return out


def _interleaved_by_date(photos: Sequence[Photo], rng: random.Random) -> list[int]:
    """Photo positions in random order, one of each date in turn: (d1, d2, d3, d1, d2, ...)."""
    by_date: dict[str | None, list[int]] = defaultdict(list)
    for position in rng.sample(range(len(photos)), len(photos)):
        by_date[photos[position][0]].append(position)
    dates = list(by_date)
    rng.shuffle(dates)
    order = []
    for turn in range(max(len(p) for p in by_date.values())):
        order += [by_date[d][turn] for d in dates if turn < len(by_date[d])]
    return order
