"""R formulas beyond names, '.', '+' and '-': each element against a model matrix built by hand
(R's model.matrix rules), poly refitted inside each resample (no leak), predict, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsRegressor

import leanfit as lf
from leanfit.frame import make_dataset


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 40
    d = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(1, 3, size=n),
            "f": rng.choice(["x", "y", "z"], size=n),
        }
    )
    d["y"] = d.a**2 + np.log(d.b) + (d.f == "y") + rng.normal(scale=0.1, size=n)
    return d


def _dummy(f: pd.Series, level: str) -> np.ndarray:
    return (f == level).to_numpy(dtype=float)


def r_poly(x: np.ndarray, degree: int) -> np.ndarray:
    """R's poly(x, degree): QR of the centred powers, Q scaled by R's diagonal, unit norm."""
    xc = x - x.mean()
    Q, R = np.linalg.qr(np.vander(xc, degree + 1, increasing=True))
    Z = Q * np.diag(R)
    Z = Z / np.sqrt((Z**2).sum(axis=0))
    return Z[:, 1:]


def carry(x_fit: np.ndarray, basis: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """The same polynomials (in x, degree <= 2) evaluated at new x: solve for the coefficients
    on the rows the basis was built from, then apply them."""
    V = np.vander(x_fit, 3, increasing=True)
    coef = np.linalg.lstsq(V, basis, rcond=None)[0]
    return np.vander(x_new, 3, increasing=True) @ coef


def test_interactions_and_transforms_match_model_matrix_by_hand(df: pd.DataFrame) -> None:
    a, b, f = df.a.to_numpy(), df.b.to_numpy(), df.f
    fy, fz = _dummy(f, "y"), _dummy(f, "z")
    cases = {
        "y ~ a*b": (["a", "b", "a:b"], np.c_[a, b, a * b]),
        "y ~ a:b": (["a:b"], np.c_[a * b]),
        "y ~ log(b) + I(a^2)": (["log(b)", "I(a^2)"], np.c_[np.log(b), a**2]),
        "y ~ f - 1": (["fx", "fy", "fz"], np.c_[_dummy(f, "x"), fy, fz]),
        "y ~ a + f + 0": (["a", "fx", "fy", "fz"], np.c_[a, _dummy(f, "x"), fy, fz]),
    }
    for formula, (names, expected) in cases.items():
        ds = make_dataset(formula, data=df)
        assert list(ds.encoder.feature_names) == names, formula
        np.testing.assert_allclose(ds.X, expected, atol=1e-12, err_msg=formula)


def test_power_of_a_sum_gives_all_two_way_terms(df: pd.DataFrame) -> None:
    a, b, f = df.a.to_numpy(), df.b.to_numpy(), df.f
    fy, fz = _dummy(f, "y"), _dummy(f, "z")
    ds = make_dataset("y ~ (a + b + f)^2", data=df)
    expected = np.c_[a, b, fy, fz, a * b, a * fy, a * fz, b * fy, b * fz]
    assert list(ds.encoder.feature_names) == [
        "a", "b", "fy", "fz", "a:b", "a:fy", "a:fz", "b:fy", "b:fz"
    ]  # fmt: skip
    np.testing.assert_allclose(ds.X, expected, atol=1e-12)


def test_C_with_levels_sets_the_reference_level(df: pd.DataFrame) -> None:
    ds = make_dataset("y ~ C(f, levels=['z', 'x', 'y'])", data=df)
    np.testing.assert_array_equal(ds.X, np.c_[_dummy(df.f, "x"), _dummy(df.f, "y")])
    assert ds.encoder.feature_names[0].endswith("x")


def test_poly_is_r_orthogonal_polynomial(df: pd.DataFrame) -> None:
    ds = make_dataset("y ~ poly(a, 2)", data=df)
    assert list(ds.encoder.feature_names) == ["poly(a, 2)1", "poly(a, 2)2"]
    np.testing.assert_allclose(ds.X, r_poly(df.a.to_numpy(), 2), atol=1e-10)


def test_plain_formulas_keep_their_encoding(df: pd.DataFrame) -> None:
    ds = make_dataset("y ~ . - b", data=df)
    assert ds.encoder.formula is None  # the hand-written path, unchanged
    assert list(ds.encoder.feature_names) == ["a", "fy", "fz"]
    np.testing.assert_array_equal(ds.X, np.c_[df.a, _dummy(df.f, "y"), _dummy(df.f, "z")])


def test_poly_is_refitted_on_each_resamples_training_rows(df: pd.DataFrame) -> None:
    n = len(df)
    held = np.arange(0, n, 4)
    train = np.setdiff1d(np.arange(n), held)
    # A second resample so cv has two: the reverse split.
    control = lf.Control(
        method="cv", index=[train, held], index_out=[held, train], save_predictions=True
    )
    res = lf.train(
        "y ~ poly(a, 2) + b", data=df, method="knn", grid={"k": [3]}, control=control, seed=1
    )
    pred = res.predictions
    assert pred is not None
    got = pred[pred.Resample == pred.Resample.iloc[0]].sort_values("rowIndex")
    assert list(got.rowIndex) == list(held)

    a, b, y = df.a.to_numpy(), df.b.to_numpy(), df.y.to_numpy()
    basis = r_poly(a[train], 2)  # learned from the fold's training rows only
    Xtr = np.c_[basis, b[train]]
    Xho = np.c_[carry(a[train], basis, a[held]), b[held]]
    knn = KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(Xtr, y[train])
    np.testing.assert_allclose(got.pred.to_numpy(), knn.predict(Xho), atol=1e-10)

    # The leaky way (poly fitted on all rows) predicts otherwise: the test can tell them apart.
    whole = r_poly(a, 2)
    leak = KNeighborsRegressor(n_neighbors=3, algorithm="brute")
    leak.fit(np.c_[whole[train], b[train]], y[train])
    assert not np.allclose(leak.predict(np.c_[whole[held], b[held]]), knn.predict(Xho))


def test_predict_applies_the_fitted_transforms_to_new_data(df: pd.DataFrame) -> None:
    res = lf.train(
        "y ~ poly(a, 2) + log(b) + f",
        data=df,
        method="knn",
        grid={"k": [1]},
        control=lf.Control(method="none"),
    )
    new = pd.DataFrame({"a": [0.1, -2.0, 1.5], "b": [1.5, 2.0, 2.5], "f": ["x", "z", "y"]})
    a, b = df.a.to_numpy(), df.b.to_numpy()
    basis = r_poly(a, 2)

    def matrix(av: np.ndarray, bv: np.ndarray, fv: pd.Series, base: np.ndarray) -> np.ndarray:
        return np.c_[base, np.log(bv), _dummy(fv, "y"), _dummy(fv, "z")]

    Xtr = matrix(a, b, df.f, basis)
    Xnew = matrix(new.a.to_numpy(), new.b.to_numpy(), new.f, carry(a, basis, new.a.to_numpy()))
    want = KNeighborsRegressor(n_neighbors=1, algorithm="brute").fit(Xtr, df.y).predict(Xnew)
    np.testing.assert_allclose(np.asarray(res.predict(new), dtype=float), want, atol=1e-10)
    with pytest.raises(ValueError, match=r"'f' has level\(s\) \['w'\] not seen in training"):
        res.predict(new.assign(f=["w", "x", "y"]))


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ a * zz", r"names column 'zz'.*columns: \['a', 'b', 'f'\]"),
        ("y ~ zz", r"names column 'zz'.*columns: \['a', 'b', 'f'\]"),
        ("y ~ poly(zz, 2)", r"names column 'zz'.*columns: \['a', 'b', 'f'\]"),
        ("y ~ foo(a) + b", r"calls 'foo'.*not a supported function.*functions: I, C, poly"),
        ("y ~ poly(f, 3)", r"poly\(f, 3\) needs degree below the number of distinct values"),
        ("y ~ a + y:b", r"uses the target 'y'"),
        ("y ~ a +", r"cannot be read"),
    ],
)
def test_bad_formulas_are_named(df: pd.DataFrame, formula: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_dataset(formula, data=df)


def _lm_by_hand(Xtr: np.ndarray, ytr: np.ndarray, Xnew: np.ndarray) -> np.ndarray:
    """Least squares with an intercept, by numpy (what lm fits)."""
    A = np.c_[np.ones(len(Xtr)), Xtr]
    coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
    return np.c_[np.ones(len(Xnew)), Xnew] @ coef


def test_bundle_of_a_poly_formula_fit_predicts_as_the_fit(df: pd.DataFrame, tmp_path: Any) -> None:
    import json
    import zipfile

    res = lf.train(
        "y ~ poly(a, 2) + log(b) + f + b:f", data=df, method="lm", control=lf.Control("none")
    )
    path = lf.save_bundle(res, tmp_path / "fit.lfb")
    bundle = lf.load_bundle(path)
    assert bundle.runtime == "python"  # formulaic builds the terms: no ONNX graph
    new = pd.DataFrame(
        {"a": [0.1, -2.0, 1.5, 0.7], "b": [1.5, 2.0, 2.5, 1.1], "f": ["x", "z", "y", "z"]}
    )
    got = bundle.predict(new)["prediction"].to_numpy()
    np.testing.assert_allclose(got, np.asarray(res.predict(new), dtype=float), rtol=0, atol=1e-9)
    # and against the model matrix built by hand: R's poly learned on the training rows
    a, b, an = df.a.to_numpy(), df.b.to_numpy(), new.a.to_numpy()
    basis = r_poly(a, 2)

    def matrix(base: np.ndarray, bv: np.ndarray, fv: pd.Series) -> np.ndarray:
        fy, fz = _dummy(fv, "y"), _dummy(fv, "z")
        return np.c_[base, np.log(bv), fy, fz, bv * _dummy(fv, "x"), bv * fy, bv * fz]

    Xnew = matrix(carry(a, basis, an), new.b.to_numpy(), new.f)
    want = _lm_by_hand(matrix(basis, b, df.f), df.y.to_numpy(), Xnew)
    np.testing.assert_allclose(got, want, atol=1e-8)
    with pytest.raises(ValueError, match=r"field 'f' has level 'w', not seen in training"):
        bundle.predict(new.assign(f=["w", "x", "y", "z"]))

    # a formula part altered after saving (poly's learned centre moved) is refused by its hash
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    state = json.loads(parts["formula.json"])
    alpha = state["transform_state"]["poly(a, 2)"]["dict"][0][1]["dict"][0][1]
    alpha["float"] = repr(float(alpha["float"]) + 0.5)
    parts["formula.json"] = json.dumps(state).encode()
    bad = tmp_path / "altered.lfb"
    with zipfile.ZipFile(bad, "w") as z:
        for n, blob in parts.items():
            z.writestr(n, blob)
    with pytest.raises(lf.BundleError, match=r"part 'formula.json' has SHA-256"):
        lf.load_bundle(bad)


def test_bundle_of_a_stateless_formula_fit_keeps_its_raw_columns(
    df: pd.DataFrame, tmp_path: Any
) -> None:
    res = lf.train("y ~ a:b + f", data=df, method="lm", control=lf.Control(method="none"))
    bundle = lf.load_bundle(lf.save_bundle(res, tmp_path / "fit.lfb"))  # no data= needed
    pd.testing.assert_frame_equal(
        bundle.reference[["a", "b", "f"]], df[["a", "b", "f"]], check_dtype=False
    )
    a, b, f = df.a.to_numpy(), df.b.to_numpy(), df.f
    X = np.c_[a * b, _dummy(f, "y"), _dummy(f, "z")]
    new = df.head(5)
    Xn = np.c_[new.a * new.b, _dummy(new.f, "y"), _dummy(new.f, "z")]
    want = _lm_by_hand(X, df.y.to_numpy(), Xn)
    got = bundle.predict(new)["prediction"].to_numpy()
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_feature_selection_refits_stateful_terms_inside_each_resample(df: pd.DataFrame) -> None:
    n = len(df)
    held = [np.arange(k, n, 3) for k in range(3)]
    train = [np.setdiff1d(np.arange(n), h) for h in held]
    control = lf.Control(method="cv", index=train, index_out=held)
    keep_all = lambda X, y: np.zeros(X.shape[1])  # noqa: E731 - every column passes
    res = lf.sbf(
        "y ~ poly(a, 2) + b",
        data=df,
        method="knn",
        params={"k": 3},
        filter=keep_all,
        control=control,
    )
    a, b, y = df.a.to_numpy(), df.b.to_numpy(), df.y.to_numpy()
    want, leaky = [], []
    whole = r_poly(a, 2)

    def knn(Xtr: np.ndarray, ytr: np.ndarray, Xnew: np.ndarray) -> np.ndarray:
        return KNeighborsRegressor(n_neighbors=3, algorithm="brute").fit(Xtr, ytr).predict(Xnew)

    for tr, te in zip(train, held, strict=True):
        basis = r_poly(a[tr], 2)  # learned from the resample's training rows only
        pred = knn(np.c_[basis, b[tr]], y[tr], np.c_[carry(a[tr], basis, a[te]), b[te]])
        want.append(np.sqrt(np.mean((y[te] - pred) ** 2)))
        leak = knn(np.c_[whole[tr], b[tr]], y[tr], np.c_[whole[te], b[te]])
        leaky.append(np.sqrt(np.mean((y[te] - leak) ** 2)))
    got = res.resample.sort_values("Resample")["RMSE"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert not np.allclose(got, leaky, rtol=1e-9)  # the leaky way differs: the test can tell
    # rfe's full-size profile row is the same three fits
    rfe = lf.rfe(
        "y ~ poly(a, 2) + b", data=df, method="knn", params={"k": 3}, sizes=[1], control=control
    )
    full = rfe.results.set_index("Variables").loc[3, "RMSE"]
    np.testing.assert_allclose(full, np.mean(want), rtol=1e-9)


def test_other_tools_still_refuse_stateful_terms_rather_than_leak(df: pd.DataFrame) -> None:
    res = lf.train("y ~ poly(a, 2) + b", data=df, method="lm", control=lf.Control(number=3))
    with pytest.raises(ValueError, match=r"'~ poly\(a, 2\) \+ b' has stateful terms"):
        lf.var_imp(res, method="permutation")


def test_search_internal_resamples_refit_stateful_terms_on_their_own_rows(
    df: pd.DataFrame,
) -> None:
    from leanfit.featsel._common import setup
    from leanfit.featsel.search import _Fitness

    n = len(df)
    outer = np.arange(n)[np.arange(n) % 4 != 0]  # an outer resample's training rows
    half = len(outer) // 2
    inner_tr = [np.arange(half), np.arange(half, len(outer))]  # positions within ``outer``
    inner_te = [inner_tr[1], inner_tr[0]]
    internal = lf.Control(method="cv", index=inner_tr, index_out=inner_te)
    s = setup(
        "y ~ poly(a, 2) + b",
        None,
        data=df,
        method="knn",
        control=lf.Control(method="cv", number=3),
        params={"k": 3},
        metric=None,
        maximize=None,
        seed=1,
        preprocess=None,
        weights=None,
        groups=None,
        what="safs",
    )
    fitness = _Fitness(s.problem, outer, internal, resample=0)
    got = fitness(np.ones(3, dtype=bool))
    a, b, y = df.a.to_numpy(), df.b.to_numpy(), df.y.to_numpy()
    want = []
    for tr, te in zip(inner_tr, inner_te, strict=True):
        tr, te = outer[tr], outer[te]
        basis = r_poly(a[tr], 2)  # learned from the internal training rows only
        knn = KNeighborsRegressor(n_neighbors=3, algorithm="brute")
        pred = knn.fit(np.c_[basis, b[tr]], y[tr]).predict(np.c_[carry(a[tr], basis, a[te]), b[te]])
        want.append(np.sqrt(np.mean((y[te] - pred) ** 2)))
    assert got == pytest.approx(np.mean(want), rel=1e-9)


def test_leanfits_own_functions_apply_to_new_data_too(df: pd.DataFrame) -> None:
    res = lf.train("y ~ sqrt(b) + abs(a)", data=df, method="lm", control=lf.Control("none"))
    new = pd.DataFrame({"a": [-1.0, 0.5], "b": [1.2, 2.9]})
    X = np.c_[np.sqrt(df.b), np.abs(df.a)]
    want = _lm_by_hand(X, df.y.to_numpy(), np.c_[np.sqrt(new.b), np.abs(new.a)])
    np.testing.assert_allclose(np.asarray(res.predict(new), dtype=float), want, atol=1e-9)
