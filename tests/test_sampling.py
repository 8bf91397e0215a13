"""Tests for leanfit.sampling: caret's down/up sampling and SMOTE on training rows."""

from __future__ import annotations

import numpy as np
import pytest

from leanfit.sampling import SAMPLING, resample_rows


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60 rows in 3 classes of 30 / 10 / 20; every row is unique (row id in column 0)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.array([2, 0, 1]), [30, 10, 20])
    X = np.column_stack([np.arange(60.0), rng.normal(size=60)])
    w = np.arange(1.0, 61.0)
    return X, y, w


def _row_ids(X: np.ndarray) -> np.ndarray:
    return X[:, 0].astype(int)


def test_methods() -> None:
    assert SAMPLING == ("down", "up", "smote")


def test_down_sampling_counts_and_rows() -> None:
    X, y, w = _data()
    Xd, yd, wd = resample_rows(X, y, w, "down", seed=1)
    np.testing.assert_array_equal(np.unique(yd, return_counts=True)[1], [10, 10, 10])
    np.testing.assert_array_equal(yd, np.repeat([0, 1, 2], 10))  # grouped by class
    ids = _row_ids(Xd)
    assert len(set(ids)) == 30  # without replacement
    np.testing.assert_array_equal(Xd, X[ids])  # rows of the input, intact
    np.testing.assert_array_equal(yd, y[ids])  # with their own labels
    np.testing.assert_array_equal(wd, w[ids])  # and weights
    np.testing.assert_array_equal(np.sort(ids[yd == 0]), np.arange(30, 40))  # smallest: all kept
    assert resample_rows(X, y, None, "down", seed=1)[2] is None


def test_up_sampling_counts_and_rows() -> None:
    X, y, w = _data()
    Xu, yu, wu = resample_rows(X, y, w, "up", seed=1)
    np.testing.assert_array_equal(np.unique(yu, return_counts=True)[1], [30, 30, 30])
    ids = _row_ids(Xu)
    np.testing.assert_array_equal(Xu, X[ids])
    np.testing.assert_array_equal(yu, y[ids])
    np.testing.assert_array_equal(wu, w[ids])
    assert set(ids) == set(range(60))  # caret's upSample keeps every original row
    np.testing.assert_array_equal(ids[yu == 2], np.arange(30))  # largest class unchanged
    assert len(ids[yu == 0]) - len(set(ids[yu == 0])) == 20  # topped up with replacement


def test_deterministic_by_seed() -> None:
    X, y, w = _data()
    for method in SAMPLING:
        a = resample_rows(X, y, w, method, seed=3)
        b = resample_rows(X, y, w, method, seed=3)
        c = resample_rows(X, y, w, method, seed=4)
        for left, right in zip(a, b, strict=True):
            np.testing.assert_array_equal(left, right)
        assert not np.array_equal(a[0], c[0])


def test_string_labels_and_inputs_untouched() -> None:
    X, y, w = _data()
    labels = np.array(["rock", "metal", "glass"])[y]
    X0 = X.copy()
    Xd, yd, _ = resample_rows(X, labels, None, "down", seed=0)
    assert yd.dtype == labels.dtype
    assert sorted(set(yd)) == ["glass", "metal", "rock"]
    np.testing.assert_array_equal(labels[_row_ids(Xd)], yd)
    np.testing.assert_array_equal(X, X0)


def _on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether p = a + t (b - a) for some t in [0, 1] (to rounding)."""
    d = b - a
    t = float(np.dot(p - a, d) / np.dot(d, d))
    return -1e-9 <= t <= 1 + 1e-9 and np.allclose(a + t * d, p, atol=1e-9)


def test_smote_balances_and_interpolates_between_minority_rows() -> None:
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(size=(25, 3)), rng.normal(loc=4.0, size=(6, 3))])
    y = np.array([0] * 25 + [1] * 6)
    w = np.r_[np.ones(25), np.arange(1.0, 7.0)]
    Xs, ys, ws = resample_rows(X, y, w, "smote", seed=2)
    np.testing.assert_array_equal(np.unique(ys, return_counts=True)[1], [25, 25])
    np.testing.assert_array_equal(Xs[ys == 0], X[:25])  # the majority class is untouched
    minority = X[25:]
    new = Xs[ys == 1]
    original = (new[:, None, :] == minority[None, :, :]).all(axis=2).any(axis=1)
    assert original.sum() == 6  # the 6 originals are kept
    for p in new[~original]:  # 19 synthetic rows, each between two minority rows
        assert any(
            _on_segment(p, minority[i], minority[j]) for i in range(6) for j in range(6) if i != j
        )
    np.testing.assert_allclose(ws[ys == 1][~original], 3.5)  # mean minority weight
    np.testing.assert_array_equal(ws[ys == 0], 1.0)


def test_smote_clamps_k_to_the_minority_size() -> None:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(23, 2))
    y = np.array(["a"] * 20 + ["b"] * 3)  # 3 rows: k_neighbors becomes 2
    Xs, ys, ws = resample_rows(X, y, None, "smote", seed=0)
    assert ws is None
    assert (ys == "b").sum() == 20 and (ys == "a").sum() == 20
    minority = X[20:]
    for p in Xs[ys == "b"]:
        assert any(
            _on_segment(p, minority[i], minority[j]) for i in range(3) for j in range(3) if i != j
        )


def test_errors() -> None:
    X, y, w = _data()
    with pytest.raises(ValueError, match=r"unknown method 'rose'.*\['down', 'up', 'smote'\]"):
        resample_rows(X, y, w, "rose", seed=0)
    with pytest.raises(ValueError, match="regression target"):
        resample_rows(X, X[:, 1], None, "up", seed=0)
    one = np.r_[np.zeros(10, dtype=int), 1]
    with pytest.raises(ValueError, match=r"SMOTE needs at least 2 rows.*class\(es\) \[1\] have 1"):
        resample_rows(np.random.default_rng(0).normal(size=(11, 2)), one, None, "smote", seed=0)
    holes = X.copy()
    holes[0, 1] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        resample_rows(holes, y, None, "smote", seed=0)
    with pytest.raises(ValueError, match="one label per row"):
        resample_rows(X, y[:5], None, "down", seed=0)
    with pytest.raises(ValueError, match="weights"):
        resample_rows(X, y, w[:5], "down", seed=0)
