"""Synthetic gallery embeddings shaped like real ones: several photos per individual, unit length.

Uniform noise on the sphere is the wrong test for an approximate index: real embeddings share a
common direction, live near a low-dimensional subspace and cluster by individual, and graph
search behaves very differently on them. The constants below were set so that the synthetic
photos resemble the shipped ImageNet encoder's embeddings of the 305 turtle photos in
turtle-profiles-dev and seaturtleid-dev, measured once (2026-12-03):

| statistic | dev photos | synthetic |
|---|---|---|
| mean similarity, two photos of one individual | 0.53 | 0.57 |
| mean similarity, photos of two individuals | 0.45 | 0.39 |
| length of the mean embedding | 0.68 | 0.63 |
| participation ratio of the centred spectrum (effective dimensions) | 29 | 32 |
"""

import numpy as np

RANK = 64  # dimensions of the subspace individuals differ in
SPECTRUM = 0.4  # the j-th of them has spread j^-SPECTRUM: a few directions dominate
COMMON = 1.45  # weight of the direction every photo shares
WITHIN = 1.4  # spread of one individual's photos around its centre, relative to the centres'
ISOTROPIC = 0.6  # full-dimensional noise: what no subspace explains
PHOTOS_PER_INDIVIDUAL = 5.0  # mean; 2 at least, geometric tail (a few individuals have many)


class ClusteredEmbeddings:
    """Draws gallery photos, then new sightings of the individuals already drawn."""

    def __init__(self, dim: int, seed: int = 0):
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(self.rng.standard_normal((dim, RANK + 1)).astype(np.float32))
        self.common, self.basis = basis[:, 0], basis[:, 1:]  # (dim,), (dim, RANK)
        spread = np.arange(1, RANK + 1, dtype=np.float32) ** -SPECTRUM
        self.spread = spread / np.sqrt((spread**2).sum())
        self.centres = np.zeros((0, RANK), np.float32)  # (n_individuals, RANK)

    def photos(self, n: int, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
        """n new photos of new individuals.

        Returns:
            embeddings (n, dim) float32 of unit length, and each photo's individual (n,).
        """
        counts, total = [], 0  # a running total: summing the list each time is quadratic
        while total < n:
            counts.append(1 + int(self.rng.geometric(1 / (PHOTOS_PER_INDIVIDUAL - 1))))
            total += counts[-1]
        counts[-1] -= total - n
        first = len(self.centres)
        centres = self.rng.standard_normal((len(counts), RANK)).astype(np.float32) * self.spread
        self.centres = np.concatenate([self.centres, centres])
        individual = first + np.repeat(np.arange(len(counts)), counts)
        out = np.empty((n, self.dim), np.float32)
        for start in range(0, n, chunk):  # bounded temporaries: 1M x 1280 is 5 GB already
            out[start : start + chunk] = self._draw(individual[start : start + chunk])
        return out, individual

    def sightings(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n new photos of individuals already drawn (queries that have a true match)."""
        assert len(self.centres), "draw gallery photos first"
        individual = self.rng.integers(0, len(self.centres), n)
        return self._draw(individual), individual

    def _draw(self, individual: np.ndarray) -> np.ndarray:
        n = len(individual)
        within = self.rng.standard_normal((n, RANK), dtype=np.float32) * self.spread
        x = (self.centres[individual] + WITHIN * within) @ self.basis.T  # (n, dim)
        x += COMMON * self.common
        x += ISOTROPIC / np.sqrt(self.dim) * self.rng.standard_normal((n, self.dim), np.float32)
        x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
        return x


def describe(embeddings: np.ndarray, individual: np.ndarray, sample: int = 3000) -> dict:
    """The statistics of the module docstring, over the first `sample` photos."""
    x, ids = embeddings[:sample], individual[:sample]  # drawn by individual: many pairs
    similarity = x @ x.T
    same = ids[:, None] == ids[None, :]
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    power = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    return {
        "within_similarity": round(float(similarity[same].mean()), 3),
        "between_similarity": round(float(similarity[other].mean()), 3),
        "mean_length": round(float(np.linalg.norm(x.mean(0))), 3),
        "participation_ratio": round(float(power.sum() ** 2 / (power**2).sum()), 1),
    }
