import numpy as np
import pytest

from turtle_id.index import IndexMismatch, PhotoIndex
from turtle_id.settings import IndexSettings


def _unit(rng, n, dim):
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_matches_exact_cosine_search_with_high_recall():
    rng = np.random.default_rng(0)
    vectors, queries = _unit(rng, 2000, 64), _unit(rng, 50, 64)
    index = PhotoIndex(64, "m1")
    index.add(vectors, np.arange(1, 2001))
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10] + 1  # labels start at 1
    hits = 0
    for q, truth in zip(queries, exact):
        labels, similarities = index.search(q, 10)
        hits += len(set(labels) & set(truth))
        # Similarities are cosine: the same numbers exact search gives for those labels.
        np.testing.assert_allclose(similarities, vectors[labels - 1] @ q, atol=1e-5)
    assert hits / exact.size >= 0.95


def test_save_and_load_round_trip_gives_the_same_answers(tmp_path):
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 300, 32)
    index = PhotoIndex(32, "m1")
    index.add(vectors, np.arange(10, 310))
    path = tmp_path / "photos.hnsw"
    index.save(path)
    loaded = PhotoIndex.load(path, 32, "m1")
    assert len(loaded) == 300 and loaded.max_label == 309
    for q in vectors[:20]:
        np.testing.assert_array_equal(index.search(q, 5)[0], loaded.search(q, 5)[0])


def test_loading_refuses_another_model_a_damaged_file_or_missing_metadata(tmp_path):
    index = PhotoIndex(8, "m1")
    index.add(_unit(np.random.default_rng(2), 20, 8), np.arange(1, 21))
    path = tmp_path / "photos.hnsw"
    index.save(path)
    with pytest.raises(IndexMismatch, match="m1"):
        PhotoIndex.load(path, 8, "m2")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMismatch, match="checksum"):
        PhotoIndex.load(path, 8, "m1")
    path.with_name("photos.hnsw.json").unlink()
    with pytest.raises(IndexMismatch, match="metadata"):
        PhotoIndex.load(path, 8, "m1")


def test_filter_keeps_only_allowed_labels_even_when_fewer_than_k_remain():
    vectors = _unit(np.random.default_rng(3), 30, 8)
    index = PhotoIndex(8, "m1")
    index.add(vectors, np.arange(1, 31))
    labels, similarities = index.search(vectors[0], 10, allowed=lambda label: label in (1, 2, 3))
    assert sorted(labels.tolist()) == [1, 2, 3]
    assert labels[0] == 1 and similarities[0] == pytest.approx(1.0, abs=1e-5)
    assert list(similarities) == sorted(similarities, reverse=True)


def test_index_grows_past_its_initial_capacity():
    index = PhotoIndex(4, "m1")
    index.add(_unit(np.random.default_rng(4), 3000, 4), np.arange(1, 3001))
    assert len(index) == 3000


def test_the_query_time_ef_grows_with_the_gallery_beyond_100k_photos():
    settings = IndexSettings()
    assert settings.ef_for(10) == settings.ef_for(100_000) == 300
    assert settings.ef_for(1_000_000) == 1688  # 300 x 10 ** 0.75 = 1687.02, rounded up
    assert IndexSettings(ef=120, ef_growth=0.0).ef_for(5_000_000) == 120
