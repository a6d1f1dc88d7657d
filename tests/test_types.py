"""Validation of the core data types, and the budgeted coalition of a Matching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.errors import DataError
from kit.types import ConceptTable, Embeddings, Matching, PairedBenchmark, check_pairs


def test_concept_table_accepts_and_converts():
    t = ConceptTable(names=["a", "b"], Y=[[1, 0], [0, 1], [1, 1]], groups=["g", "g"], split=["train", "test", "train"])
    assert t.Y.dtype == bool and t.Y.shape == (3, 2)
    assert t.families() == {"g": [0, 1]}
    sub = t.subset("train")
    assert sub.n_samples == 2 and list(sub.ids) == [0, 2]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(names=["a"], Y=[[1, 0]]), "1 names for 2 columns"),
        (dict(names=["a", "b"], Y=[[1, 2]]), "row 0, column 1"),
        (dict(names=["a", "a"], Y=[[1, 0]]), "duplicate value 'a'"),
        (dict(names=["a"], Y=np.zeros((0, 1))), "empty"),
        (dict(names=["a"], Y=[[1], [0]], ids=[5, 5]), "duplicate value 5"),
        (dict(names=["a"], Y=[1, 0]), "must be 2-D"),
        (dict(names=["a"], Y=[[1], [0]], split=["x"]), "split has shape"),
        (dict(names=["a"], Y=[[1]], groups=["g", "h"]), "groups has 2 entries"),
    ],
)
def test_concept_table_rejects(kwargs, message):
    with pytest.raises(DataError, match=message):
        ConceptTable(**kwargs)


def test_subset_of_missing_split_is_named():
    t = ConceptTable(names=["a"], Y=[[1], [0]], split=["train", "train"])
    with pytest.raises(DataError, match="no row in split 'test'"):
        t.subset("test")


def test_embeddings_reject_nonfinite_and_duplicates():
    X = np.ones((3, 2), dtype=np.float32)
    assert Embeddings(X).X.dtype == np.float32
    X[1, 1] = np.nan
    with pytest.raises(DataError, match="row 1, column 1"):
        Embeddings(X)
    with pytest.raises(DataError, match="duplicate"):
        Embeddings(np.ones((2, 2)), ids=["x", "x"])
    with pytest.raises(DataError, match="empty"):
        Embeddings(np.ones((0, 4)))


def _pairs():
    lo = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    le = np.array([[0, 1, 0], [0, 1, 0]], dtype=bool)
    return np.array([0, 2]), np.array([1, -1]), lo, le


def test_check_pairs_accepts_swaps_and_removals():
    old, new, lo, le = check_pairs(*_pairs())
    assert old.dtype == np.int64 and list(new) == [1, -1]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o, n, lo, le: (np.array([3, 2]), n, lo, le), "out of range"),
        (lambda o, n, lo, le: (o, np.array([0, -1]), lo, le), "same concept"),
        (lambda o, n, lo, le: (o, n, lo, np.array([[0, 1, 1], [0, 1, 0]], bool)), "also differ in concepts \\[2\\]"),
        (lambda o, n, lo, le: (o, np.array([1, -2]), lo, le), "out of range"),
        (lambda o, n, lo, le: (o, n, lo, le[:1]), "shape"),
        (lambda o, n, lo, le: (np.array([1, 2]), np.array([0, -1]), lo, le), "not present in the original"),
    ],
)
def test_check_pairs_names_the_bad_pair(mutate, message):
    with pytest.raises(DataError, match=message):
        check_pairs(*mutate(*_pairs()), pair_ids=["p0", "p1"])


def test_check_pairs_message_names_pair_id():
    o, n, lo, le = _pairs()
    le = le.copy()
    le[1, 0] = True
    with pytest.raises(DataError, match="pair 'second'"):
        check_pairs(o, n, lo, le, pair_ids=["first", "second"])


def test_paired_benchmark_validates():
    o, n, lo, le = _pairs()
    b = PairedBenchmark(["a.png", "b.png"], ["a2.png", "b2.png"], o, n, lo, le, ["x", "y", "z"], pair_ids=["p", "q"])
    assert b.n_pairs == 2 and list(b.is_removal) == [False, True]
    with pytest.raises(DataError, match="2 original images but 1 edited"):
        PairedBenchmark(["a.png", "b.png"], ["a2.png"], o, n, lo, le, ["x", "y", "z"])
    with pytest.raises(DataError, match="no pair"):
        PairedBenchmark([], [], o[:0], n[:0], lo[:0], le[:0], ["x", "y", "z"])


@st.composite
def matchings(draw):
    c = draw(st.integers(1, 5))
    s = draw(st.integers(1, 6))
    coal, rec = [], []
    for _ in range(c):
        length = draw(st.integers(0, s))
        coal.append(draw(st.lists(st.integers(0, 50), min_size=length, max_size=length, unique=True)))
        curve = draw(st.lists(st.floats(0, 1), min_size=max(length, 1), max_size=max(length, 1)))
        rec.append(curve + [curve[-1]] * (s - len(curve)))
    return Matching(coal, np.array(rec), "test")


@given(matchings(), st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_budgeted_coalition_is_the_best_prefix_within_k(m, k):
    cut = m.budgeted(k)
    for c, (full, kept) in enumerate(zip(m.coalitions, cut)):
        window = min(k, len(full))
        assert kept == full[: len(kept)]
        assert len(kept) <= window
        if window:
            best = m.rec_f1[c, :window].max()
            assert m.rec_f1[c, len(kept) - 1] == best
            assert (m.rec_f1[c, : len(kept) - 1] < best).all()  # the shortest prefix reaching it


def test_budgeted_is_plain_prefix_for_monotone_curves():
    m = Matching([[4, 2, 9, 1]], np.array([[0.2, 0.5, 0.7, 0.8]]), "fbmp")
    assert m.budgeted(3) == [[4, 2, 9]]
    assert m.budgeted(10) == [[4, 2, 9, 1]]


def test_matching_rejects_inconsistent_shapes():
    with pytest.raises(DataError, match="2 coalitions for 1 rows"):
        Matching([[1], [2]], np.zeros((1, 3)), "x")
    with pytest.raises(DataError, match="3 latents but rec_f1 has 2 steps"):
        Matching([[1, 2, 3]], np.zeros((1, 2)), "x")
