"""Training objectives over L2-normalised embeddings: supervised contrastive (multi-positive
NT-Xent) and sub-center ArcFace.

- Supervised contrastive: Khosla et al. 2020, "Supervised Contrastive Learning", the L_out form;
  with one positive per anchor it is SimCLR's NT-Xent (Chen et al. 2020), the seed post's loss.
- Sub-center ArcFace: Deng et al. 2020, "Sub-center ArcFace: Boosting Face Recognition by
  Large-scale Noisy Web Faces", with the additive angular margin of ArcFace (Deng et al. 2019).
"""

import math

import torch
import torch.nn.functional as F


def supcon_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 0.1,
    ignore: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean over anchors of -mean over positives of log softmax similarity / temperature.

    Args:
        embeddings: (B, d), unit length.
        labels: (B,) integers; items with the same label are positives of each other.
        temperature: divides cosine similarities; lower sharpens the softmax over the batch.
        ignore: (B, B) bool, pairs that are neither positives nor in the softmax's
            denominator (e.g. two photos of one individual taken on one day); None = none.

    Returns:
        A scalar; anchors without a positive in the batch do not count.
    """
    similarity = embeddings @ embeddings.T / temperature  # (B, B)
    left_out = torch.eye(len(labels), dtype=torch.bool, device=embeddings.device)
    if ignore is not None:
        left_out = left_out | ignore
    # The anchor itself is neither a positive nor in the denominator.
    similarity = similarity.masked_fill(left_out, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~left_out
    n_positive = positive.sum(dim=1)
    has_positive = n_positive > 0
    if not has_positive.any():
        raise ValueError("no two items in the batch share a label: sample K >= 2 per label")
    # masked_fill, not a product: log_prob is -inf on the diagonal and 0 * -inf is nan.
    summed = log_prob.masked_fill(~positive, 0.0).sum(dim=1)
    return -(summed[has_positive] / n_positive[has_positive]).mean()


class SubCenterArcFace(torch.nn.Module):
    """Cross-entropy over classes scored by cos(angle + margin) for the true class.

    Each class has `subcenters` weight vectors and scores by the nearest one, so that a class
    whose photos fall into a few clusters (light, distance, a noisy label) need not be pulled
    into one.
    """

    def __init__(
        self,
        embedding_size: int,
        n_classes: int,
        subcenters: int = 3,
        margin: float = 0.3,
        scale: float = 30.0,
    ):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_classes * subcenters, embedding_size))
        torch.nn.init.xavier_uniform_(self.weight)
        self.n_classes, self.subcenters = n_classes, subcenters
        self.margin, self.scale = margin, scale

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, n_classes): cosine to each class's nearest sub-center."""
        cos = embeddings @ F.normalize(self.weight, dim=1).T  # (B, n_classes * subcenters)
        return cos.view(-1, self.n_classes, self.subcenters).amax(dim=2)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of (B, d) unit embeddings with class indices (B,)."""
        cos = self.cosines(embeddings).clamp(-1.0, 1.0)
        return F.cross_entropy(self.scale * self.with_margin(cos, labels), labels)

    def with_margin(self, cos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """`cos` with the true class's entry replaced by cos(angle + margin)."""
        m = self.margin
        sin = (1.0 - cos**2).clamp_min(0.0).sqrt()
        shifted = cos * math.cos(m) - sin * math.sin(m)  # cos(angle + m)
        # Past angle = pi - m, cos(angle + m) would rise again; continue linearly instead, as
        # the ArcFace reference implementation does.
        shifted = torch.where(cos > math.cos(math.pi - m), shifted, cos - math.sin(math.pi - m) * m)
        true_class = F.one_hot(labels, self.n_classes).bool()
        return torch.where(true_class, shifted, cos)
