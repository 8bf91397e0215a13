"""Tests for leanfit.splits: caret's splitting semantics, exact counts and reproducibility."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from leanfit import splits
from leanfit.splits import Resamples


def sonar_labels() -> np.ndarray:
    """Labels shaped like Sonar's Class: 111 "M" then 97 "R"."""
    return np.repeat(np.array(["M", "R"], dtype=object), [111, 97])


def assert_partitions_rows(rs: Resamples) -> None:
    """Held-out sets are disjoint, cover every row once, and train is their complement."""
    allrows = np.concatenate(rs.test)
    assert np.array_equal(np.sort(allrows), np.arange(rs.n))
    for _, tr, te in rs:
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(rs.n))


# ----------------------------------------------------------------------------- Resamples


def test_resamples_hash_iteration_and_frame() -> None:
    rs = splits.from_indices([[0, 1, 2], [2, 3, 4]], n=5)
    assert len(rs) == 2
    items = list(rs)
    assert items[0][0] == "Resample1"
    assert np.array_equal(items[0][2], [3, 4])
    assert np.array_equal(items[1][2], [0, 1])
    assert all(a.dtype == np.int64 for a in rs.train + rs.test)
    frame = rs.to_frame()
    assert list(frame.columns) == ["resample", "row", "role"]
    assert len(frame) == 10
    first = frame[frame["resample"] == "Resample1"]
    assert first.loc[first["role"] == "train", "row"].tolist() == [0, 1, 2]
    assert first.loc[first["role"] == "test", "row"].tolist() == [3, 4]
    same = splits.from_indices([np.array([0, 1, 2]), (2, 3, 4)], n=5)
    assert same.hash == rs.hash and same == rs
    other = splits.from_indices([[0, 1, 2], [2, 3, 4]], n=6)
    assert other.hash != rs.hash
    renamed = splits.from_indices([[0, 1, 2], [2, 3, 4]], n=5, names=["a", "b"])
    assert renamed.hash != rs.hash
    assert len(rs.hash) == 64
    restored = pickle.loads(pickle.dumps(rs))
    assert restored.hash == rs.hash
    with pytest.raises(ValueError):
        rs.train[0][0] = 9  # stored indices are read-only


# ----------------------------------------------------------------------------- partition


def test_partition_sonar_like_counts() -> None:
    y = sonar_labels()
    rows = splits.partition(y, p=0.75, seed=1)
    assert rows.dtype == np.int64
    assert rows.size == 157
    assert np.all(np.diff(rows) > 0)  # sorted, no duplicates
    assert (y[rows] == "M").sum() == 84
    assert (y[rows] == "R").sum() == 73


def test_partition_times_seed_and_categorical() -> None:
    y = pd.Series(pd.Categorical(sonar_labels()))
    draws = splits.partition(y, p=0.5, times=3, seed=7)
    assert isinstance(draws, list) and len(draws) == 3
    assert all(d.size == 56 + 49 for d in draws)
    again = splits.partition(y, p=0.5, times=3, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again, strict=True))
    assert not np.array_equal(draws[0], draws[1])


def test_partition_numeric_stratifies_on_quartiles() -> None:
    y = np.arange(100, dtype=float)[::-1]  # quartile groups of 25 rows each
    rows = splits.partition(y, p=0.5, seed=3)
    assert rows.size == 4 * 13  # ceil(0.5 * 25) per quartile
    picked = y[rows]
    for lo, hi in [(0, 24), (25, 49), (50, 74), (75, 99)]:
        assert ((picked >= lo) & (picked <= hi)).sum() == 13


def test_partition_validation() -> None:
    y = sonar_labels()
    with pytest.raises(ValueError, match="p must"):
        splits.partition(y, p=1.0)
    with pytest.raises(ValueError, match="p must"):
        splits.partition(y, p=0)
    with pytest.raises(ValueError, match="times"):
        splits.partition(y, times=0)
    with pytest.raises(ValueError, match="missing"):
        splits.partition(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="missing"):
        splits.partition(pd.Series(["a", None, "b"]))
    with pytest.raises(ValueError, match="y must have at least 2"):
        splits.partition(["a"])
    with pytest.raises(ValueError, match="y must be 1-D"):
        splits.partition(np.zeros((4, 2)))


# ----------------------------------------------------------------------------- k-fold


def test_kfold_partitions_and_stratifies() -> None:
    y = np.repeat(np.array(["a", "b", "c"], dtype=object), [53, 31, 16])
    rs = splits.kfold(y, k=10, seed=42)
    assert rs.method == "cv" and rs.n == 100
    assert rs.names == tuple(f"Fold{i:02d}" for i in range(1, 11))
    assert_partitions_rows(rs)
    for te in rs.test:
        for label, n_class in [("a", 53), ("b", 31), ("c", 16)]:
            count = (y[te] == label).sum()
            assert abs(count - n_class / 10) <= 1
    sizes = sorted(te.size for te in rs.test)
    assert sizes[-1] - sizes[0] <= 3  # one spare per class at most


def test_kfold_seed_reproducible() -> None:
    y = sonar_labels()
    a = splits.kfold(y, k=5, seed=11)
    b = splits.kfold(y, k=5, seed=11)
    c = splits.kfold(y, k=5, seed=12)
    assert a.hash == b.hash
    assert all(np.array_equal(x, z) for x, z in zip(a.test, b.test, strict=True))
    assert a.hash != c.hash
    assert a.names == ("Fold1", "Fold2", "Fold3", "Fold4", "Fold5")  # caret pads to width of k


def test_kfold_numeric_and_unstratified() -> None:
    y = np.linspace(0.0, 1.0, 57)
    rs = splits.kfold(y, k=5, seed=0)
    assert_partitions_rows(rs)
    assert sorted(te.size for te in rs.test)[-1] - sorted(te.size for te in rs.test)[0] <= 4
    # quantile groups (cuts = 5 -> quartiles): each fold gets 2-3 rows from every quartile
    q = np.quantile(y, [0.25, 0.5, 0.75])
    group = np.searchsorted(q, y, side="left")
    for te in rs.test:
        counts = np.bincount(group[te], minlength=4)
        assert counts.min() >= 2 and counts.max() <= 3
    plain = splits.kfold(np.repeat(["a", "b"], [3, 20]), k=4, seed=0, stratify=False)
    assert_partitions_rows(plain)
    assert sorted(te.size for te in plain.test) == [5, 6, 6, 6]


def test_kfold_k_equals_n_is_loo_like() -> None:
    rs = splits.kfold(["a", "b", "a", "b"], k=4, seed=0)
    assert [te.tolist() for te in rs.test] == [[0], [1], [2], [3]]


def test_kfold_class_smaller_than_k_goes_to_distinct_folds_as_in_caret() -> None:
    y = np.repeat(["a", "b"], [30, 4])
    rs = splits.kfold(y, k=5, seed=0)
    assert_partitions_rows(rs)
    assert sorted(int((y[te] == "b").sum()) for te in rs.test) == [0, 1, 1, 1, 1]
    assert all((y[tr] == "b").sum() >= 3 for tr in rs.train)  # every training set keeps 'b'


def test_kfold_validation() -> None:
    y = np.repeat(["a", "b"], [30, 4])
    with pytest.raises(ValueError, match=r"k must be in \[2, 34\]"):
        splits.kfold(y, k=1)
    with pytest.raises(ValueError, match=r"k must be in \[2, 34\]"):
        splits.kfold(y, k=35)
    with pytest.raises(ValueError, match="k must be"):
        splits.kfold(y, k=2.5)
    with pytest.raises(ValueError, match="missing"):
        splits.kfold(np.array([1.0, 2.0, np.nan, 4.0]), k=2)


def test_repeated_kfold_names_order_and_independence() -> None:
    y = sonar_labels()
    rs = splits.repeated_kfold(y, k=10, repeats=3, seed=5)
    assert rs.method == "repeatedcv"
    assert len(rs) == 30
    assert rs.names[:3] == ("Fold01.Rep1", "Fold02.Rep1", "Fold03.Rep1")
    assert rs.names[9:11] == ("Fold10.Rep1", "Fold01.Rep2")
    assert rs.names[-1] == "Fold10.Rep3"
    for r in range(3):
        block = Resamples(
            rs.train[r * 10 : r * 10 + 10],
            rs.test[r * 10 : r * 10 + 10],
            rs.names[r * 10 : r * 10 + 10],
            "cv",
            rs.n,
        )
        assert_partitions_rows(block)
    assert not np.array_equal(rs.test[0], rs.test[10])
    twelve = splits.repeated_kfold(y, k=3, repeats=12, seed=5)
    assert twelve.names[0] == "Fold1.Rep01" and twelve.names[-1] == "Fold3.Rep12"
    assert splits.repeated_kfold(y, k=10, repeats=3, seed=5).hash == rs.hash
    with pytest.raises(ValueError, match="repeats"):
        splits.repeated_kfold(y, repeats=0)


# ----------------------------------------------------------------------------- bootstrap, LGOCV


def test_bootstrap_oob_is_exact_complement() -> None:
    y = np.arange(40.0)
    rs = splits.bootstrap(y, number=25, seed=9)
    assert rs.method == "boot" and len(rs) == 25
    assert rs.names[0] == "Resample01" and rs.names[-1] == "Resample25"
    has_duplicates = False
    for _, tr, te in rs:
        assert tr.size == 40
        assert np.all(np.diff(tr) >= 0)
        has_duplicates |= np.unique(tr).size < tr.size
        expected = np.setdiff1d(np.arange(40), tr)
        assert np.array_equal(te, expected)
        assert te.size > 0
    assert has_duplicates
    assert splits.bootstrap(y, number=25, seed=9).hash == rs.hash
    assert splits.bootstrap(y, number=25, seed=10).hash != rs.hash
    tiny = splits.bootstrap([0, 1], number=30, seed=0)  # empty out-of-bag draws are redrawn
    assert all(te.size == 1 for te in tiny.test)
    with pytest.raises(ValueError, match="number"):
        splits.bootstrap(y, number=0)


def test_lgocv_sizes_and_complement() -> None:
    y = sonar_labels()
    rs = splits.lgocv(y, number=5, p=0.75, seed=2)
    assert rs.method == "lgocv"
    assert rs.names == tuple(f"Resample{i}" for i in range(1, 6))
    for _, tr, te in rs:
        assert tr.size == 84 + 73
        assert (y[tr] == "M").sum() == 84
        assert np.array_equal(te, np.setdiff1d(np.arange(208), tr))
    same = splits.partition(y, p=0.75, times=5, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(rs.train, same, strict=True))
    with pytest.raises(ValueError, match="p must"):
        splits.lgocv(y, p=1.5)
    with pytest.raises(ValueError, match="smaller p"):
        splits.lgocv(["a", "a", "b", "b"], p=0.9)


def test_loocv() -> None:
    rs = splits.loocv(12)
    assert rs.method == "loocv" and len(rs) == 12
    assert rs.names[0] == "Fold01" and rs.names[-1] == "Fold12"
    assert np.array_equal(rs.test[4], [4])
    assert np.array_equal(rs.train[4], np.delete(np.arange(12), 4))
    assert_partitions_rows(rs)
    assert splits.loocv(100).names[0] == "Fold001"
    with pytest.raises(ValueError, match="n must"):
        splits.loocv(1)


# ----------------------------------------------------------------------------- groups, time


def test_group_kfold_skewed_groups() -> None:
    sizes = [60, 20, 8, 5, 3, 2, 1, 1]
    groups = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    rs = splits.group_kfold(groups, k=5, seed=4)
    assert rs.method == "group_cv"
    assert rs.names == ("Fold1", "Fold2", "Fold3", "Fold4", "Fold5")
    assert_partitions_rows(rs)
    assert all(te.size > 0 for te in rs.test)
    for te in rs.test:
        held = set(groups[te])
        for g in held:  # a group is entirely in one held-out set
            assert (groups[te] == g).sum() == (groups == g).sum()
    # largest first, each to the smallest fold: 60 | 20 | 8 | 5+1 | 3+2+1
    assert sorted(te.size for te in rs.test) == [6, 6, 8, 20, 60]


def test_group_kfold_exact_assignment_and_errors() -> None:
    groups = np.array([0] * 6 + [1] * 4 + [2] * 3 + [3] * 3 + [4] * 2)
    rs = splits.group_kfold(groups, k=3, seed=0)
    assert sorted(te.size for te in rs.test) == [6, 6, 6]  # 6 | 4+2 | 3+3
    assert splits.group_kfold(groups, k=3, seed=0).hash == rs.hash
    with pytest.raises(ValueError, match="groups has 5 distinct group.*k=6"):
        splits.group_kfold(groups, k=6)
    with pytest.raises(ValueError, match="k must"):
        splits.group_kfold(groups, k=1)
    with pytest.raises(ValueError, match="groups has 1 missing"):
        splits.group_kfold(pd.Series(["a", "b", None, "c"]), k=2)


def test_time_slices_fixed_window() -> None:
    rs = splits.time_slices(7, initial_window=3, horizon=2)
    assert rs.method == "timeslice" and rs.n == 7
    assert [tr.tolist() for tr in rs.train] == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert [te.tolist() for te in rs.test] == [[3, 4], [4, 5], [5, 6]]
    assert rs.names == ("Training3", "Training4", "Training5")


def test_time_slices_growing_window_and_skip() -> None:
    rs = splits.time_slices(12, initial_window=5, horizon=1, fixed_window=False, skip=2)
    # stops 5, 8, 11 (1-based last training rows), every third slice kept
    assert [tr.tolist() for tr in rs.train] == [
        list(range(5)),
        list(range(8)),
        list(range(11)),
    ]
    assert [te.tolist() for te in rs.test] == [[5], [8], [11]]
    assert rs.names == ("Training05", "Training08", "Training11")
    fixed = splits.time_slices(12, initial_window=5, horizon=1, skip=2)
    assert [tr.tolist() for tr in fixed.train] == [
        [0, 1, 2, 3, 4],
        [3, 4, 5, 6, 7],
        [6, 7, 8, 9, 10],
    ]
    assert len(splits.time_slices(5, 4, 1)) == 1


def test_time_slices_validation() -> None:
    with pytest.raises(ValueError, match="initial_window \\+ horizon must be <= n"):
        splits.time_slices(5, initial_window=4, horizon=2)
    with pytest.raises(ValueError, match="initial_window"):
        splits.time_slices(5, initial_window=0)
    with pytest.raises(ValueError, match="horizon"):
        splits.time_slices(5, initial_window=2, horizon=0)
    with pytest.raises(ValueError, match="skip"):
        splits.time_slices(5, initial_window=2, skip=-1)


# ----------------------------------------------------------------------------- user-given


def test_from_indices_defaults_mapping_and_index_out() -> None:
    rs = splits.from_indices({"a": [0, 1], "b": [2, 3]}, n=4, index_out=[[2], [0, 1]])
    assert rs.method == "user" and rs.names == ("a", "b")
    assert rs.test[0].tolist() == [2] and rs.test[1].tolist() == [0, 1]
    many = splits.from_indices([[i] for i in range(10)], n=11)
    assert many.names[0] == "Resample01" and many.names[-1] == "Resample10"
    assert many.test[3].tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]


def test_from_indices_validation() -> None:
    with pytest.raises(ValueError, match=r"index\[1\] rows must be within 0..3"):
        splits.from_indices([[0, 1], [2, 4]], n=4)
    with pytest.raises(ValueError, match=r"index\[0\] rows must be within"):
        splits.from_indices([[-1, 1]], n=4)
    with pytest.raises(ValueError, match=r"index_out\[0\] \(Resample1\) has no held-out"):
        splits.from_indices([[0, 1, 2, 3]], n=4)
    with pytest.raises(ValueError, match=r"index_out\[0\] \(Resample1\) has no held-out"):
        splits.from_indices([[0, 1]], n=4, index_out=[[]])
    with pytest.raises(ValueError, match=r"index\[0\] .* has no training rows"):
        splits.from_indices([[]], n=4)
    with pytest.raises(ValueError, match="integer row positions"):
        splits.from_indices([[0.5, 1]], n=4)
    with pytest.raises(ValueError, match="index_out must have 2"):
        splits.from_indices([[0], [1]], n=4, index_out=[[2]])
    with pytest.raises(ValueError, match="names must have 2"):
        splits.from_indices([[0], [1]], n=4, names=["x"])
    with pytest.raises(ValueError, match="n must"):
        splits.from_indices([[0]], n=0)
