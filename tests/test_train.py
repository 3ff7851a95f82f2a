"""The pure pieces of encoder training: the losses on tiny batches worked out by hand, the P x K
sampler and the held-out draw. They need torch, which only the training environment has."""

import math
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from export.data import TrainPhoto, hold_out  # noqa: E402
from export.labels import photo_days, same_day, view_labels  # noqa: E402
from export.losses import SubCenterArcFace, supcon_loss  # noqa: E402
from export.sampler import PKSampler  # noqa: E402
from turtle_id.datasets import PhotoRecord  # noqa: E402


def test_supcon_loss_of_two_individuals_with_two_photos_each_worked_by_hand():
    # a1 = (1, 0), a2 = (0.6, 0.8) are individual A; b1 = (0, 1), b2 = (-1, 0) are B.
    embeddings = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # Temperature 0.5 doubles the dot products: a1.a2 = 0.6, a1.b1 = 0, a1.b2 = -1,
    # a2.b1 = 0.8, a2.b2 = -0.6, b1.b2 = 0. Each anchor has one positive, so its loss is
    # log(sum over the other three of exp(2 dot)) - 2 dot(anchor, positive).
    a1 = math.log(math.exp(1.2) + math.exp(0.0) + math.exp(-2.0)) - 1.2
    a2 = math.log(math.exp(1.2) + math.exp(1.6) + math.exp(-1.2)) - 1.2
    b1 = math.log(math.exp(0.0) + math.exp(1.6) + math.exp(0.0)) - 0.0
    b2 = math.log(math.exp(-2.0) + math.exp(-1.2) + math.exp(0.0)) - 0.0
    expected = (a1 + a2 + b1 + b2) / 4  # 0.886
    assert supcon_loss(embeddings, labels, temperature=0.5).item() == pytest.approx(expected)


def test_supcon_loss_of_identical_embeddings_is_log_of_the_other_items():
    # Every similarity is 1: each positive gets 1/3 of the softmax over the 3 other items.
    embeddings = torch.tensor([[0.6, 0.8]] * 4)
    loss = supcon_loss(embeddings, torch.tensor([0, 0, 1, 1]), temperature=1.0)
    assert loss.item() == pytest.approx(math.log(3))


def test_supcon_loss_averages_over_several_positives_and_skips_anchors_without_one():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    labels = torch.tensor([0, 0, 0, 1])  # the last item has no positive: no anchor term
    # a1: others at similarity 1, 0, 0 and positives a2 (1) and a3 (0):
    # -(log(e/(e+2)) + log(1/(e+2))) / 2. a2 is the same as a1.
    # a3 = (0, 1): others 0, 0, -1; both positives at 0: -log(1/(2 + e^-1)).
    a1 = -(math.log(math.e / (math.e + 2)) + math.log(1 / (math.e + 2))) / 2
    a3 = -math.log(1 / (2 + math.exp(-1)))
    expected = (a1 + a1 + a3) / 3
    assert supcon_loss(embeddings, labels, temperature=1.0).item() == pytest.approx(expected)


def test_supcon_loss_leaves_ignored_pairs_out_of_positives_and_denominator():
    # The two-individual batch above with the pair (a1, a2) ignored, as if taken on one day:
    # a1 and a2 lose their only positive and no longer count; b1 and b2 keep their terms,
    # whose denominators still hold a1 and a2.
    embeddings = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    ignore = torch.zeros(4, 4, dtype=torch.bool)
    ignore[0, 1] = ignore[1, 0] = True
    b1 = math.log(math.exp(0.0) + math.exp(1.6) + math.exp(0.0)) - 0.0
    b2 = math.log(math.exp(-2.0) + math.exp(-1.2) + math.exp(0.0)) - 0.0
    loss = supcon_loss(embeddings, torch.tensor([0, 0, 1, 1]), temperature=0.5, ignore=ignore)
    assert loss.item() == pytest.approx((b1 + b2) / 2)


def test_supcon_loss_refuses_a_batch_without_any_positive_pair():
    with pytest.raises(ValueError, match="K >= 2"):
        supcon_loss(torch.eye(2), torch.tensor([0, 1]))


def test_subcenter_arcface_scores_by_the_nearest_subcenter_with_the_margin_on_the_truth():
    arcface = SubCenterArcFace(embedding_size=2, n_classes=2, subcenters=2, margin=0.5, scale=2.0)
    with torch.no_grad():
        # Rows are class-major: class 0 has (1, 0) and (0, 1), class 1 has (-1, 0), (0, -1).
        arcface.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
    embedding = torch.tensor([[0.6, 0.8]])
    # Class 0's nearest sub-center is (0, 1): cos 0.8, sin 0.6; class 1's is (-1, 0): -0.6.
    assert arcface.cosines(embedding).tolist() == [pytest.approx([0.8, -0.6])]
    true_logit = 2.0 * (0.8 * math.cos(0.5) - 0.6 * math.sin(0.5))  # 2 cos(angle + 0.5)
    other_logit = 2.0 * -0.6
    expected = math.log(math.exp(true_logit) + math.exp(other_logit)) - true_logit  # 0.124
    assert arcface(embedding, torch.tensor([0])).item() == pytest.approx(expected, abs=1e-6)


def test_pk_sampler_draws_p_labels_of_one_collection_with_k_items_distinct_photos_first():
    groups = {
        "turtles": {
            "x": [("2020-06-01", [0, 1]), ("2021-06-01", [2, 3])],  # two photos, two views each
            "y": [(None, [4, 5])],
            "z": [(None, [6])],  # one item: no positive pair, never drawn
        },
        "nyala": {"n1": [(None, [7, 8])], "n2": [(None, [9])]},  # one usable label: never drawn
    }
    sampler = PKSampler(groups, P=2, K=3, weight_power=0.5)
    assert list(sampler.groups) == ["turtles"]
    for seed in range(20):
        batch = sampler.batch(random.Random(seed))
        assert len(batch) == 6
        first, second = sorted([batch[:3], batch[3:]])
        # x: one view of each photo before any photo repeats, three distinct views in all.
        assert set(first) <= {0, 1, 2, 3} and len(set(first)) == 3
        assert {i // 2 for i in first[:2]} == {0, 1}
        # y has only two views: the third item repeats one.
        assert set(second) == {4, 5}


def test_pk_sampler_takes_other_dates_before_other_photos_of_one_date():
    photo = {0: "a", 1: "a", 2: "a", 3: "b", 4: "b", 5: "b", 6: "c", 7: "c", 8: "c"}
    day = {"a": "2020", "b": "2020", "c": "2023"}
    x = [(day["a"], [0, 1, 2]), (day["b"], [3, 4, 5]), (day["c"], [6, 7, 8])]
    sampler = PKSampler({"t": {"x": x, "y": x}}, P=2, K=4, per_photo=2)
    for seed in range(20):
        items = sampler.items(x, random.Random(seed))
        # Two views of one photo, then two of a photo from the other date.
        assert photo[items[0]] == photo[items[1]] and photo[items[2]] == photo[items[3]]
        assert {day[photo[items[0]]], day[photo[items[2]]]} == {"2020", "2023"}
        assert len(set(items)) == 4


def test_pk_sampler_refuses_groups_without_two_usable_labels():
    with pytest.raises(ValueError, match="two labels"):
        PKSampler({"a": {"x": [(None, [0, 1])], "y": [(None, [2])]}}, P=2, K=2)


def test_hold_out_draws_only_individuals_seen_on_two_dates_and_is_seeded():
    records = [
        PhotoRecord(Path(f"{i}-{d}.jpg"), i, date=d)
        for i, dates in {"A": ["1", "2"], "B": ["1", "3"], "C": ["1"], "D": ["2", "4"]}.items()
        for d in dates
    ]
    drawn = hold_out(records, 2, seed=5)
    assert drawn == hold_out(records, 2, seed=5) and len(drawn) == 2
    assert "C" not in drawn and drawn == sorted(drawn)
    with pytest.raises(ValueError, match="only 3"):
        hold_out(records, 4, seed=0)


def _photo(collection, individual, date, view=None):
    record = PhotoRecord(Path(f"{individual}-{date}.jpg"), individual, view=view, date=date)
    return TrainPhoto(record, collection, f"{collection}/{individual}")


def test_flip_new_gives_mirrored_views_a_label_of_their_own_and_none_leaves_them_out():
    photos = [_photo("t", "A", "2020"), _photo("t", "A", "2021")]
    flipped = torch.tensor([False, True, False, False])  # two views per photo
    labels, groups = view_labels(photos, flipped, views=2, flip="new")
    assert labels == ["t/A", "t/A~mirror", "t/A", "t/A"]
    assert groups["t"]["t/A"] == [("2020", [0]), ("2021", [2, 3])]
    assert groups["t"]["t/A~mirror"] == [("2020", [1])]
    labels, groups = view_labels(photos, flipped, views=2, flip="none")
    assert list(groups["t"]) == ["t/A"] and groups["t"]["t/A"][0] == ("2020", [0])
    labels, groups = view_labels(photos, flipped, views=2, flip="same")
    assert set(labels) == {"t/A"} and groups["t"]["t/A"][0] == ("2020", [0, 1])


def test_same_day_pairs_are_other_photos_of_the_label_from_that_day_only():
    photos = [_photo("t", "A", "2020"), _photo("t", "A", "2020"), _photo("t", "A", "2021")]
    photos.append(_photo("n", "N", None))
    days = photo_days(photos)
    assert days.tolist() == [0, 0, 1, -1]
    # Batch: photo 0 twice (two views), photo 1, photo 2, and two undated photos' views.
    batch_photos = torch.tensor([0, 0, 1, 2, 3, 3])
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    pairs = same_day(labels, batch_photos, days)
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[0, 2] = expected[1, 2] = expected[2, 0] = expected[2, 1] = True
    assert torch.equal(pairs, expected)
