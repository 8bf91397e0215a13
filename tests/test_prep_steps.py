"""Encoding and cleaning steps (other, target_encode, winsorize, discretize) and duplicate rows:
each statistic against a hand computation on the training rows only, a fold of train()
recomputed by hand (no leak), unseen levels at predict time, and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import TargetEncoder

import leanfit as lf
from leanfit.encodings import DuplicateRowsWarning
from leanfit.preprocess import STEP_ORDER, PreProcess

SMOOTH = 5.0


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    """A 25-level factor f whose levels shift y, a factor g with a rare level, a number x."""
    rng = np.random.default_rng(7)
    n = 240
    f = rng.choice([f"L{i:02d}" for i in range(25)], n)
    effect = {lev: rng.normal(scale=2.0) for lev in np.unique(f)}
    g = rng.choice(["a", "b", "c", "r"], n, p=[0.5, 0.3, 0.17, 0.03])
    x = rng.normal(size=n)
    y = np.array([effect[v] for v in f]) + x + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"f": f, "g": g, "x": x, "y": y})


def _smoothed_means(levels: np.ndarray, y: np.ndarray, m: float) -> tuple[dict, float]:
    """Per level (sum y + m * mean) / (count + m) and the mean (levels not seen get the mean)."""
    mean = float(y.mean())
    table = pd.DataFrame({"lev": levels, "y": y}).groupby("lev")["y"].agg(["sum", "count"])
    return {k: (r["sum"] + m * mean) / (r["count"] + m) for k, r in table.iterrows()}, mean


def _encode(values: np.ndarray, table: dict, mean: float) -> np.ndarray:
    return np.array([table.get(v, mean) for v in values])


def _cross_fitted(levels: np.ndarray, y: np.ndarray, m: float, seed: int) -> np.ndarray:
    """Each row's encoding from the 5 inner folds it is not in (KFold, shuffled with seed)."""
    out = np.empty(len(y))
    for fit_rows, enc_rows in KFold(5, shuffle=True, random_state=seed).split(levels):
        table, mean = _smoothed_means(levels[fit_rows], y[fit_rows], m)
        out[enc_rows] = _encode(levels[enc_rows], table, mean)
    return out


def test_step_order_puts_factor_steps_before_dummy_and_cleaning_after_filters() -> None:
    assert STEP_ORDER[:3] == ("other", "target_encode", "dummy")
    assert STEP_ORDER[STEP_ORDER.index("corr") + 1 : STEP_ORDER.index("box_cox")] == (
        "winsorize",
        "discretize",
    )
    pp = PreProcess(["center", "discretize", "dummy", "winsorize", "targetEncode", "other"])
    assert pp.steps == ("other", "target_encode", "dummy", "winsorize", "discretize", "center")


def test_target_encoding_continuous_by_hand(df: pd.DataFrame) -> None:
    train, new = df.iloc[:200], df.iloc[200:]
    pp = PreProcess(["target_encode"], encode_columns=["f"], smooth=SMOOTH, seed=3)
    out = pp.fit_transform(train[["f", "x"]], train["y"])
    f, y = train.f.to_numpy(), train.y.to_numpy()
    np.testing.assert_allclose(out["f"], _cross_fitted(f, y, SMOOTH, 3), rtol=1e-12)
    np.testing.assert_array_equal(out["x"], train.x)
    table, mean = _smoothed_means(f, y, SMOOTH)
    got = pp.transform(new[["f", "x"]])
    np.testing.assert_allclose(got["f"], _encode(new.f.to_numpy(), table, mean), rtol=1e-12)
    unseen = pp.transform(pd.DataFrame({"f": ["never seen"], "x": [0.0]}))
    assert unseen["f"].iloc[0] == pytest.approx(mean)  # a level never seen: the training mean


def test_target_encoding_auto_smoothing_equals_sklearn_fitted_by_hand(df: pd.DataFrame) -> None:
    train = df.iloc[:200]
    pp = PreProcess(["target_encode", "dummy"])  # f has 25 levels (> 10); g only 4: dummies
    out = pp.fit_transform(train[["f", "g", "x"]], train["y"])
    assert list(out.columns) == ["f", "gb", "gc", "gr", "x"]
    te = TargetEncoder(target_type="continuous", cv=KFold(5, shuffle=True, random_state=0))
    want = te.fit_transform(train[["f"]].to_numpy(dtype=object), train.y.to_numpy())
    np.testing.assert_allclose(out["f"], want[:, 0], rtol=1e-12)
    np.testing.assert_allclose(
        pp.transform(df.iloc[200:][["f", "g", "x"]])["f"],
        te.transform(df.iloc[200:][["f"]].to_numpy(dtype=object))[:, 0],
        rtol=1e-12,
    )


def test_target_encoding_binary_and_multiclass_columns(df: pd.DataFrame) -> None:
    train = df.iloc[:200]
    f = train.f.to_numpy()
    two = pd.Series(np.where(train.y > 0, "hi", "lo"))
    pp = PreProcess(["target_encode"], encode_columns="f", smooth=SMOOTH)
    pp.fit(train[["f"]], two)
    table, mean = _smoothed_means(f, (two == "lo").to_numpy(float), SMOOTH)  # the second level
    np.testing.assert_allclose(pp.transform(train[["f"]])["f"], _encode(f, table, mean))
    three = pd.Series(pd.cut(train.y, [-np.inf, -1, 1, np.inf], labels=["c", "a", "b"]))
    three = three.astype(str)
    pp = PreProcess(["target_encode"], encode_columns="f", smooth=SMOOTH)
    out = pp.fit_transform(train[["f"]], three)
    assert list(out.columns) == ["f_a", "f_b", "f_c"]  # K columns, one per class
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for k in "abc":
        ind = (three == k).to_numpy(float)
        table, mean = _smoothed_means(f, ind, SMOOTH)
        np.testing.assert_allclose(pp.transform(train[["f"]])[f"f_{k}"], _encode(f, table, mean))
        oof = np.empty(len(f))
        for fit_rows, enc_rows in folds.split(f, three):
            t, m = _smoothed_means(f[fit_rows], ind[fit_rows], SMOOTH)
            oof[enc_rows] = _encode(f[enc_rows], t, m)
        np.testing.assert_allclose(out[f"f_{k}"], oof, rtol=1e-12)


def test_other_groups_levels_rare_in_the_training_rows(df: pd.DataFrame) -> None:
    train = df.iloc[:200]
    counts = train.g.value_counts()
    rare = sorted(counts[counts < 0.05 * len(train)].index)
    assert rare == ["r"]  # the fixture's rare level
    pp = PreProcess(["other", "dummy"], other_columns=["g"]).fit(train[["g", "x"]])
    assert pp.other_grouped_["g"] == ("a", "b", "c", "other")
    new = pd.DataFrame({"g": ["a", "r", "never", "c", None], "x": [0.0] * 5})
    out = pp.transform(new)
    assert list(out.columns) == ["gb", "gc", "gother", "x"]
    np.testing.assert_array_equal(out["gother"], [0.0, 1.0, 1.0, 0.0, np.nan])
    np.testing.assert_array_equal(out["gc"], [0.0, 0.0, 0.0, 1.0, np.nan])
    # With no level rare, "other" never occurs in training and dummy has no column for it: an
    # unseen level is then a clear error, not a guess.
    few = PreProcess(["other", "dummy"], other_threshold=0.01).fit(train[["g"]])
    with pytest.raises(ValueError, match=r"level\(s\) \['other'\] not seen in fit"):
        few.transform(pd.DataFrame({"g": ["never"]}))
    # a count threshold: levels seen at least 30 times
    pp = PreProcess(["other", "dummy"], other_threshold=30).fit(train[["g"]])
    frequent = sorted(counts[counts >= 30].index)
    assert pp.other_grouped_["g"] == (*frequent, "other") and "c" in frequent
    np.testing.assert_array_equal(pp.transform(new[["g"]])["gother"], [0, 1, 1, 0, np.nan])


def test_winsorize_limits_are_training_quantiles(df: pd.DataFrame) -> None:
    train, new = df.iloc[:150], df.iloc[150:]
    pp = PreProcess(["winsorize"], limits=(0.05, 0.9)).fit(train[["x", "y"]])
    for j, col in enumerate(["x", "y"]):
        lo, hi = np.quantile(train[col], [0.05, 0.9])  # type 7, as R's quantile()
        assert (pp.winsor_lo_[j], pp.winsor_hi_[j]) == pytest.approx((lo, hi), rel=1e-12)
        np.testing.assert_allclose(
            pp.transform(new[["x", "y"]])[col], np.minimum(np.maximum(new[col], lo), hi)
        )
    flags = pd.DataFrame({"flag": [0.0, 1.0] * 50, "x": df.x[:100]})
    pp = PreProcess(["winsorize"]).fit(flags)
    assert np.isnan(pp.winsor_lo_[0]) and not np.isnan(pp.winsor_lo_[1])  # 0/1 left alone


def test_discretize_edges_by_hand(df: pd.DataFrame) -> None:
    train, new = df.x.iloc[:150].to_numpy(), df.x.iloc[150:].to_numpy()
    for strategy, edges in (
        ("uniform", np.linspace(train.min(), train.max(), 5)),
        ("quantile", np.quantile(train, np.linspace(0, 1, 5))),
    ):
        pp = PreProcess(["discretize"], bins=4, strategy=strategy).fit(train[:, None])
        np.testing.assert_allclose(pp.bin_edges_[0], edges, rtol=1e-12)
        got = pp.transform(np.r_[new, np.nan][:, None])[:, 0]
        want = np.clip(np.digitize(new, edges[1:-1], right=False), 0, 3)
        np.testing.assert_array_equal(got[:-1], want)
        assert np.isnan(got[-1])


def _lm(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray) -> np.ndarray:
    A = np.c_[np.ones(len(Xtr)), Xtr]
    coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
    return np.c_[np.ones(len(Xte)), Xte] @ coef


def test_a_fold_recomputed_by_hand_gives_trains_held_out_predictions(df: pd.DataFrame) -> None:
    n = len(df)
    held = np.arange(0, n, 4)
    train = np.setdiff1d(np.arange(n), held)
    control = lf.Control(
        method="cv", index=[train, held], index_out=[held, train], save_predictions=True
    )
    pp = PreProcess(["target_encode", "winsorize"], encode_columns=["f"], smooth=SMOOTH)
    res = lf.train(df[["f", "x", "y"]], "y", method="lm", preprocess=pp, control=control)
    pred = res.predictions
    assert pred is not None
    got = pred[pred.Resample == pred.Resample.iloc[0]].sort_values("rowIndex")
    assert list(got.rowIndex) == list(held)

    f, x, y = df.f.to_numpy(), df.x.to_numpy(), df.y.to_numpy()
    enc_tr = _cross_fitted(f[train], y[train], SMOOTH, 0)  # inner folds: no row sees itself
    table, mean = _smoothed_means(f[train], y[train], SMOOTH)  # all training rows
    enc_ho = _encode(f[held], table, mean)
    Xtr, Xho = np.c_[enc_tr, x[train]], np.c_[enc_ho, x[held]]
    lo, hi = np.quantile(Xtr, [0.01, 0.99], axis=0)  # winsor caps from the training rows
    want = _lm(np.clip(Xtr, lo, hi), y[train], np.clip(Xho, lo, hi))
    np.testing.assert_allclose(got.pred.to_numpy(), want, rtol=1e-9, atol=1e-9)

    # The leaky way (encodings from all rows, held-out outcomes included) predicts otherwise.
    leak_table, leak_mean = _smoothed_means(f, y, SMOOTH)
    leaky = _encode(f, leak_table, leak_mean)
    leak = _lm(np.c_[leaky[train], x[train]], y[train], np.c_[leaky[held], x[held]])
    assert not np.allclose(leak, want, atol=1e-3)


def test_predict_maps_unseen_and_rare_levels(df: pd.DataFrame) -> None:
    pp = PreProcess(["other", "target_encode"], other_columns=["g"], encode_columns=["f"])
    res = lf.train(df, "y", method="lm", preprocess=pp, control=lf.Control(method="none"))
    fp = res.final_preprocess
    assert fp.other_grouped_["g"] == ("a", "b", "c", "other")
    assert "target encoded f" in fp.describe() and "grouped as 'other' in g" in fp.describe()
    base = df.iloc[:2].copy()
    new = base.copy()
    new["f"] = ["never seen", "L03"]
    new["g"] = ["r", "unheard of"]
    same_f = base.assign(f=["never seen", "L03"], g=["r", "r"])
    np.testing.assert_allclose(res.predict(new), res.predict(same_f))  # both map to "other"
    with pytest.raises(ValueError, match=r"level\(s\) \['never seen'\] not seen in training"):
        res.dataset.encoder.transform(new)  # what reads the matrix without the steps refuses
    plain = lf.train(df, "y", method="lm", control=lf.Control(method="none"))
    with pytest.raises(ValueError, match=r"level\(s\) \['never seen'\] not seen in training"):
        plain.predict(new)


def test_duplicates_counted_and_dropped_from_training_rows_only() -> None:
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"x": rng.normal(size=40), "z": rng.normal(size=40)})
    base["y"] = base.x * 2 + rng.normal(size=40)
    dup = base.iloc[[0, 0, 1, 2]]  # rows 0 (twice), 1, 2 repeated: 4 exact repeats
    clash = base.iloc[[3]].assign(y=base.y.iloc[3] + 1.0)  # row 3's predictors, other y
    data = pd.concat([base, dup, clash], ignore_index=True)
    n = len(data)
    held = np.arange(0, n, 3)
    train = np.setdiff1d(np.arange(n), held)
    control = lf.Control(
        method="cv",
        index=[train, held],
        index_out=[held, train],
        save_predictions=True,
        duplicates="drop",
    )
    with pytest.warns(
        DuplicateRowsWarning, match="4 of 45 rows repeat an earlier row exactly, and 2 rows"
    ):
        res = lf.train(data, "y", method="lm", control=control)
    pred = res.predictions
    got = pred[pred.Resample == pred.Resample.iloc[0]].sort_values("rowIndex")
    assert list(got.rowIndex) == list(held)  # every held-out row predicted, repeats included
    X, y = data[["x", "z"]].to_numpy(), data.y.to_numpy()
    keep = ~data.iloc[train].duplicated().to_numpy()
    want = _lm(X[train][keep], y[train][keep], X[held])
    np.testing.assert_allclose(got.pred.to_numpy(), want, rtol=1e-9)
    assert not np.allclose(_lm(X[train], y[train], X[held]), want)  # dropping mattered
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no duplicates: no warning
        lf.train(base, "y", method="lm", control=lf.Control(method="none"))


def test_bad_input_is_named(df: pd.DataFrame) -> None:
    none = lf.Control(method="none")
    with pytest.raises(ValueError, match="column 'y' is the target itself"):
        lf.train(df, "y", method="lm", preprocess=PreProcess(["target_encode"], encode_columns="y"))
    with pytest.raises(ValueError, match="column 'x' is not a factor"):
        lf.train(df, "y", method="lm", preprocess=PreProcess(["target_encode"], encode_columns="x"))
    with pytest.raises(ValueError, match="column 'nope' is not a predictor column"):
        PreProcess(["other"], other_columns=["nope"]).for_training([("g", ("a", "b"))], ["g"], "y")
    with pytest.raises(ValueError, match="column 'f' is the target itself"):
        PreProcess(["target_encode"], encode_columns="f").fit(df[["f", "x"]], df.f)
    with pytest.raises(ValueError, match="target_encode needs the outcome"):
        PreProcess(["target_encode"], encode_columns="f").fit(df[["f", "x"]])
    with pytest.raises(ValueError, match="already has a level 'a'"):
        PreProcess(["other"], other_level="a").fit(df[["g"]])
    with pytest.raises(ValueError, match="formula"):
        lf.train("y ~ f*x", data=df, method="lm", preprocess=["target_encode"], control=none)
    bad = {
        "limits": ((0.9, 0.1), "limits must be two quantiles"),
        "bins": (1, "bins must be an integer >= 2"),
        "strategy": ("kmeans", r"strategy must be one of \['quantile', 'uniform'\]"),
        "smooth": (-1, "smooth must be 'auto' or a number >= 0"),
        "encode_folds": (1, "encode_folds must be an integer >= 2"),
        "other_threshold": (0, "other_threshold must be a fraction"),
    }
    for key, (value, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            PreProcess(["winsorize"], **{key: value})
    with pytest.raises(ValueError, match=r"Control\(duplicates='yes'\) must be 'keep'"):
        lf.Control(duplicates="yes")


def test_onnx_pipeline_refuses_each_new_step_by_name(df: pd.DataFrame) -> None:
    pytest.importorskip("onnx")
    from leanfit.export import to_onnx

    none = lf.Control(method="none")
    for step in ("target_encode", "other", "winsorize", "discretize"):
        pp = PreProcess([step], encode_columns=["f"] if step == "target_encode" else None)
        res = lf.train(df, "y", method="lm", preprocess=pp, control=none)
        with pytest.raises(NotImplementedError, match=rf"step\(s\) \['{step}'\].*{step}: "):
            to_onnx(res, raw_inputs=True)


def test_importance_of_an_encoded_fit_is_by_permutation(df: pd.DataFrame) -> None:
    pp = PreProcess(["target_encode"], encode_columns=["f"])
    res = lf.train(df, "y", method="lm", preprocess=pp, control=lf.Control(method="cv", number=3))
    imp = lf.var_imp(res, n_repeats=1)  # lm's own |t| would belong to the encoded column
    assert imp.attrs["method"] == "permutation"
    assert list(imp.index) == list(res.dataset.encoder.feature_names)


def test_options_as_a_config_mapping(df: pd.DataFrame) -> None:
    spec = {"steps": ["target_encode", "winsorize"], "encode_columns": ["f"], "limits": [0, 0.9]}
    res = lf.train(df, "y", method="lm", preprocess=spec, control=lf.Control(method="none"))
    fp = res.final_preprocess
    assert list(fp.te_) == ["f"] and fp.limits == (0.0, 0.9)
    with pytest.raises(ValueError, match=r"takes the options .*got unknown \['bins_'\]"):
        lf.train(df, "y", method="lm", preprocess={"steps": ["discretize"], "bins_": 3})


def test_classification_in_train_encodes_the_second_level_or_each_class(df: pd.DataFrame) -> None:
    none = lf.Control(method="none")
    f = df.f.to_numpy()
    two = df[["f", "x"]].assign(c=np.where(df.y > 0, "up", "down"))
    pp = PreProcess(["target_encode"], encode_columns=["f"], smooth=SMOOTH)
    res = lf.train(two, "c", method="glm", preprocess=pp, control=none)
    table, mean = _smoothed_means(f, (two.c == "up").to_numpy(float), SMOOTH)  # level 2 of 2
    fp = res.final_preprocess
    assert fp.output_names_ == ["f", "x"]
    np.testing.assert_allclose(fp.transform(res.dataset.X)[:, 0], _encode(f, table, mean))
    three = two.assign(c=pd.cut(df.y, [-np.inf, -1, 1, np.inf], labels=["lo", "mid", "hi"]))
    res = lf.train(three, "c", method="lda", preprocess=pp, control=none)
    fp = res.final_preprocess
    assert fp.output_names_ == ["f_lo", "f_mid", "f_hi", "x"]  # K columns, in level order
    enc = fp.transform(res.dataset.X)
    np.testing.assert_allclose(enc[:, :3].sum(axis=1), 1.0)  # they sum to 1 (numeric smooth)
    ind = (three.c == "mid").to_numpy(float)
    table, mean = _smoothed_means(f, ind, SMOOTH)
    np.testing.assert_allclose(enc[:, 1], _encode(f, table, mean))
