"""lf.explain: attributions plus base value equal each model's raw output, computed here from
the engines and the data directly (not through leanfit's explainers); the engines' TreeSHAP
against the shap library's; linear attributions against coefficients fitted by hand
(least squares, statsmodels) or read off the model's own predictions; factor dummies summed;
pre-processing; errors; plots."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf

NONE = lf.Control(method="none")


@pytest.fixture(scope="module")
def sonar():
    return lf.datasets.load("sonar")


@pytest.fixture(scope="module")
def glass():
    return lf.datasets.load("glass")


@pytest.fixture(scope="module")
def boston():
    """BostonHousing with a 3-level factor (rm's terciles) to test factor summation."""
    df = lf.datasets.load("bostonhousing").drop(columns=["chas"])
    df["rooms"] = pd.cut(df["rm"], [0, 5.9, 6.5, 10], labels=["few", "some", "many"]).astype(str)
    return df.drop(columns=["rm"])


def _train(data, target, method, grid, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lf.train(data, target, method=method, grid=grid, control=NONE, seed=3, **kw)


LGB = {
    "n_estimators": 40,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 5,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
}


XGB = {
    "nrounds": 30,
    "max_depth": 3,
    "eta": 0.3,
    "gamma": 0,
    "colsample_bytree": 1,
    "min_child_weight": 1,
    "subsample": 1,
}


def _one(grid: dict) -> pd.DataFrame:
    return pd.DataFrame({k: [v] for k, v in grid.items()})


# -- TreeSHAP from the engines ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["sonar", "glass"])
def test_lightgbm_matches_shap_treeexplainer_and_adds_up(name, request):
    shap = pytest.importorskip("shap")
    data = request.getfixturevalue(name)
    target = "Class" if name == "sonar" else "Type"
    fit = _train(data, target, "lightgbm", _one(LGB))
    rows = data.drop(columns=target).iloc[::7]
    e = lf.explain(fit, rows)
    assert e.method.startswith("TreeSHAP (exact")
    X = rows.to_numpy(dtype=float)
    booster = fit.final_model
    raw = booster.predict(X, raw_score=True)  # the engine's own margins
    raw = raw[:, None] if raw.ndim == 1 else raw
    assert np.abs(e.values.sum(axis=1) + e.base - raw).max() <= 1e-6
    assert e.additivity_error() <= 1e-6
    ref = np.asarray(shap.TreeExplainer(booster).shap_values(X), dtype=float)
    ref = ref[:, :, None] if ref.ndim == 2 else ref
    assert ref.shape == e.values.shape
    assert np.abs(ref - e.values).max() <= 1e-6
    if name == "glass":  # one output per class, the softmax margins
        assert e.outputs == list(fit.dataset.levels) and "per class" in e.output
        assert e.attributions.columns.nlevels == 2
        assert list(e.base_value.index) == e.outputs
    else:
        assert e.outputs == ["R"] and e.output == "log-odds of 'R'"
        assert list(e.attributions.columns) == list(rows.columns)


def test_repeated_explanations_read_the_trees_once_per_final_model(glass, monkeypatch):
    """A second lf.explain of the same fit reuses the trees read by the first (same values);
    a fit whose final model was replaced has its new trees read."""
    from leanfit.explanations import treeshap

    reads = []
    real = treeshap.read_lightgbm

    def counted(booster, count):
        reads.append(booster)
        return real(booster, count)

    monkeypatch.setattr(treeshap, "read_lightgbm", counted)
    fit = _train(glass, "Type", "lightgbm", _one(LGB))
    rows = glass.drop(columns="Type").iloc[::7]
    first = lf.explain(fit, rows)
    again = lf.explain(fit, rows)
    assert len(reads) == 1 and reads[0] is fit.final_model
    np.testing.assert_array_equal(first.values, again.values)
    other = _train(glass, "Type", "lightgbm", _one({**LGB, "n_estimators": 20}))
    fit.final_model = other.final_model  # as a refit on another candidate replaces it
    fewer = lf.explain(fit, rows)
    assert len(reads) == 2 and reads[1] is other.final_model
    assert np.abs(fewer.values - first.values).max() > 1e-3  # the new model's trees
    assert fewer.additivity_error() <= 1e-6


def test_lightgbm_classes_walk_only_their_trees_and_match_the_engine(glass, sonar):
    shap = pytest.importorskip("shap")
    fit = _train(glass, "Type", "lightgbm", _one(LGB))
    levels = list(fit.dataset.levels)
    rows = glass.drop(columns="Type").iloc[::5]
    X = rows.to_numpy(dtype=float)
    booster = fit.final_model
    n, p, k = len(X), X.shape[1], len(levels)
    # the engine's own TreeSHAP of every class, (n, K, p + 1) with the bias last
    ref = booster.predict(X, pred_contrib=True).reshape(n, k, p + 1)
    raw = booster.predict(X, raw_score=True)
    sh = np.asarray(shap.TreeExplainer(booster).shap_values(X), dtype=float)  # (n, p, K)

    e = lf.explain(fit, rows, classes=[levels[3], levels[0]])
    assert "each wanted class's trees only" in e.method
    assert e.outputs == [levels[3], levels[0]] and e.values.shape == (n, p, 2)
    for j, c in enumerate((3, 0)):
        assert np.abs(e.values[:, :, j] - ref[:, c, :p]).max() <= 1e-9
        assert np.abs(e.values[:, :, j] - sh[:, :, c]).max() <= 1e-6
        assert abs(e.base[j] - ref[0, c, p]) <= 1e-9
        assert np.abs(e.raw[:, j] - raw[:, c]).max() <= 1e-9
    assert e.additivity_error() <= 1e-6
    assert list(e.attributions.columns.get_level_values(0).unique()) == [levels[3], levels[0]]
    one = lf.explain(fit, rows, classes=levels[2])  # a single label
    assert one.outputs == [levels[2]]
    assert np.abs(one.values[:, :, 0] - ref[:, 2, :p]).max() <= 1e-9

    e = lf.explain(fit, rows, classes="predicted")
    pred = np.argmax(booster.predict(X), axis=1)  # the engine's class probabilities
    predicted = [levels[c] for c in sorted(set(pred))]
    assert e.outputs == predicted and len(predicted) > 1
    for i in range(n):
        for j, name in enumerate(e.outputs):
            c = levels.index(name)
            if c == pred[i]:
                assert np.abs(e.values[i, :, j] - ref[i, c, :p]).max() <= 1e-9
                assert abs(e.raw[i, j] - raw[i, c]) <= 1e-9
            else:
                assert np.isnan(e.values[i, :, j]).all() and np.isnan(e.raw[i, j])
    assert e.additivity_error() <= 1e-6
    assert any("predicted class" in s for s in e.notes)
    records = e.to_records()
    assert [list(r["classes"]) for r in records] == [[levels[c]] for c in pred]
    # the plots keep to the rows explained for the class
    pytest.importorskip("matplotlib")
    first = np.flatnonzero(pred != levels.index(e.outputs[0]))[0]
    with pytest.raises(ValueError, match=f"row {first} is not explained for"):
        e.plot_waterfall(row=int(first))
    assert e.plot_summary(kind="bar") is not None

    with pytest.raises(ValueError, match="single output to explain"):
        lf.explain(_train(sonar, "Class", "lightgbm", _one(LGB)), sonar.iloc[:3], classes=["R"])
    with pytest.raises(ValueError, match=r"classes names \['nope'\], not classes of this model"):
        lf.explain(fit, rows, classes=["nope", levels[0]])
    with pytest.raises(ValueError, match=r"classes=\[\] names no class"):
        lf.explain(fit, rows, classes=[])


def test_other_engines_select_classes_from_all(glass):
    pytest.importorskip("xgboost")
    grid = _one({**XGB, "nrounds": 20})
    fit = _train(glass, "Type", "xgb_tree", grid)
    levels = list(fit.dataset.levels)
    rows = glass.drop(columns="Type").iloc[::9]
    full = lf.explain(fit, rows)
    e = lf.explain(fit, rows, classes=[levels[1]])
    assert e.outputs == [levels[1]]
    assert np.array_equal(e.values[:, :, 0], full.values[:, :, 1])
    assert any("every class was computed" in s for s in e.notes)


def test_gbm_uses_the_chosen_tree_count(sonar):
    grid = lf.expand_grid(interaction_depth=2, n_trees=[10, 60], shrinkage=0.1, n_minobsinnode=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lf.train(
            "Class ~ .",
            data=sonar,
            method="gbm",
            grid=grid,
            seed=1,
            control=lf.Control(method="cv", number=3),
        )
        fit = fit.update(
            params={"interaction_depth": 2, "n_trees": 10, "shrinkage": 0.1, "n_minobsinnode": 5}
        )
    rows = sonar.drop(columns="Class").iloc[:25]
    e = lf.explain(fit, rows)
    X = rows.to_numpy(dtype=float)
    trees = fit.final_model.num_trees()
    raw = fit.final_model.predict(X, raw_score=True, num_iteration=10)
    assert trees >= 10
    assert np.abs(e.values[:, :, 0].sum(axis=1) + e.base[0] - raw).max() <= 1e-6
    # the log-odds are the fit's own probabilities through the logistic link
    p = fit.predict_proba(rows)["R"].to_numpy()
    assert np.abs(1 / (1 + np.exp(-e.raw[:, 0])) - p).max() <= 1e-9


def test_xgboost_and_catboost_add_up_to_their_margins(sonar, glass):
    xgb = pytest.importorskip("xgboost")
    pytest.importorskip("catboost")
    xgrid = _one(XGB)
    cgrid = lf.expand_grid(iterations=30, depth=3, learning_rate=0.2, l2_leaf_reg=3)
    for data, target in ((sonar, "Class"), (glass, "Type")):
        rows = data.drop(columns=target).iloc[::9]
        X = rows.to_numpy(dtype=float)
        fx = _train(data, target, "xgb_tree", xgrid)
        e = lf.explain(fx, rows)
        raw = fx.final_model.est.predict(xgb.DMatrix(X), output_margin=True)
        raw = raw[:, None] if raw.ndim == 1 else raw
        # XGBoost computes in float32: additivity to float32 precision
        assert np.abs(e.values.sum(axis=1) + e.base - raw).max() <= 1e-5
        fc = _train(data, target, "catboost", cgrid)
        e = lf.explain(fc, rows)
        raw = np.asarray(fc.final_model.est.predict(X, prediction_type="RawFormulaVal"), float)
        raw = raw[:, None] if raw.ndim == 1 else raw
        assert np.abs(e.values.sum(axis=1) + e.base - raw).max() <= 1e-6
        assert e.method.startswith("CatBoost's TreeSHAP")


def test_random_forest_through_shap_adds_up_to_probabilities(sonar):
    pytest.importorskip("shap")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lf.train(
            "Class ~ .",
            data=sonar,
            method="rf",
            grid=lf.expand_grid(mtry=7),
            control=NONE,
            seed=2,
            options={"n_trees": 50},
        )
    rows = sonar.drop(columns="Class").iloc[:30]
    e = lf.explain(fit, rows)
    assert e.method.startswith("shap's TreeExplainer")
    p = fit.predict_proba(rows)["R"].to_numpy()
    assert np.abs(e.values[:, :, 0].sum(axis=1) + e.base[0] - p).max() <= 1e-6
    # the base value is the forest's mean prediction over its training rows (no bootstrap
    # weighting in path-dependent TreeSHAP: the mean training-leaf value per tree)
    assert 0.0 < e.base[0] < 1.0


# -- linear models: coefficient x (value - training mean), by hand ------------------------------


def test_lm_by_hand_with_a_factor_summed(boston):
    fit = _train(boston, "medv", "lm", None)
    rows = boston.drop(columns="medv").iloc[:40]
    e = lf.explain(fit, rows)
    assert e.method.startswith("linear")
    # least squares by hand on R's model.matrix coding (first level dropped)
    X = boston.drop(columns=["medv", "rooms"]).astype(float)
    lv = sorted(boston["rooms"].unique())  # levels in leanfit's order: sorted
    for lev in lv[1:]:
        X["rooms" + lev] = (boston["rooms"] == lev).astype(float)
    A = np.column_stack([np.ones(len(X)), X.to_numpy()])
    beta = np.linalg.lstsq(A, boston["medv"].to_numpy(float), rcond=None)[0][1:]
    Xr = X.iloc[:40].to_numpy()
    want = beta * (Xr - X.to_numpy().mean(axis=0))
    got = e.feature_attributions
    assert list(got.columns) == list(X.columns)
    assert np.abs(got.to_numpy() - want).max() <= 1e-8
    # the factor's dummies summed back to it
    dummies = [c for c in X.columns if c.startswith("rooms")]
    assert len(dummies) == 2
    summed = want[:, [list(X.columns).index(c) for c in dummies]].sum(axis=1)
    assert np.abs(e.attributions["rooms"].to_numpy() - summed).max() <= 1e-8
    assert "rooms" in e.attributions.columns and "roomsmany" not in e.attributions.columns
    assert any("summed back to the factor" in n for n in e.notes)
    assert e.additivity_error() <= 1e-8
    assert np.abs(e.raw[:, 0] - fit.predict(rows).to_numpy()).max() <= 1e-9


def test_glm_logistic_against_statsmodels(sonar):
    sm = pytest.importorskip("statsmodels.api")
    small = sonar[["Class", "V1", "V4", "V9", "V11", "V36", "V45"]]
    fit = _train(small, "Class", "glm", None)
    X = small.drop(columns="Class").to_numpy(float)
    y = (small["Class"] == "R").to_numpy(float)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    beta = ref.params[1:]
    e = lf.explain(fit, small.drop(columns="Class"))
    want = beta * (X - X.mean(axis=0))
    assert np.abs(e.values[:, :, 0] - want).max() <= 1e-4
    logit = sm.add_constant(X) @ ref.params
    assert np.abs(e.values[:, :, 0].sum(axis=1) + e.base[0] - logit).max() <= 1e-4
    assert e.output == "log-odds of 'R'"


def test_glmnet_coefficients_read_off_its_predictions(sonar):
    grid = lf.expand_grid(alpha=0.5, **{"lambda": 0.01})
    fit = _train(sonar, "Class", "glmnet", grid)
    rows = sonar.drop(columns="Class").iloc[:12]
    e = lf.explain(fit, rows)
    # coefficient j: the change in the fit's log-odds when column j moves by one unit
    base = rows.iloc[[0]]
    p0 = fit.predict_proba(base)["R"].iloc[0]
    coefs = []
    for c in ["V1", "V11", "V45"]:
        moved = base.copy()
        moved[c] += 1.0
        p1 = fit.predict_proba(moved)["R"].iloc[0]
        coefs.append(np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0)))
    mean = sonar[["V1", "V11", "V45"]].mean().to_numpy()
    want = np.array(coefs) * (rows[["V1", "V11", "V45"]].to_numpy() - mean)
    assert np.abs(e.attributions[["V1", "V11", "V45"]].to_numpy() - want).max() <= 1e-6
    p = fit.predict_proba(rows)["R"].to_numpy()
    assert np.abs(1 / (1 + np.exp(-(e.values[:, :, 0].sum(axis=1) + e.base[0]))) - p).max() < 1e-9


# -- pre-processing ------------------------------------------------------------------------------


def test_columnwise_preprocessing_keeps_original_columns(boston):
    plain = lf.explain(_train(boston, "medv", "lm", None), boston.iloc[:20])
    scaled_fit = _train(boston, "medv", "lm", None, preprocess=["center", "scale"])
    scaled = lf.explain(scaled_fit, boston.iloc[:20])
    # a linear model's attributions do not depend on the columns' centring and scaling
    assert list(scaled.attributions.columns) == list(plain.attributions.columns)
    assert np.abs(scaled.attributions.to_numpy() - plain.attributions.to_numpy()).max() <= 1e-8
    assert any("center" in n and "original columns" in n for n in scaled.notes)


def test_mixing_preprocessing_is_explained_in_its_components(boston):
    fit = _train(boston, "medv", "lm", None, preprocess=["center", "scale", "pca"])
    e = lf.explain(fit, boston.iloc[:10])
    assert all(c.startswith("PC") for c in e.attributions.columns)
    assert any("mix columns" in n for n in e.notes)
    assert e.additivity_error() <= 1e-8
    assert np.abs(e.raw[:, 0] - fit.predict(boston.iloc[:10]).to_numpy()).max() <= 1e-9


# -- any other model: shap's permutation explainer -------------------------------------------


def test_permutation_explainer_adds_up_to_probabilities(sonar):
    small = sonar[["Class", "V1", "V4", "V9", "V11", "V36", "V45", "V48"]].iloc[::3]
    fit = _train(small, "Class", "knn", lf.expand_grid(k=5))  # nothing but permutation applies
    rows = small.drop(columns="Class").iloc[:4]
    e = lf.explain(fit, rows, background=len(small), permutations=12)
    assert e.method.startswith("permutation Shapley values (12 column orders")
    p = fit.predict_proba(rows)["R"].to_numpy()
    assert np.abs(e.values[:, :, 0].sum(axis=1) + e.base[0] - p).max() <= 1e-12
    # with every training row as background, the base is the mean training probability
    mean_p = fit.predict_proba(small.drop(columns="Class"))["R"].mean()
    assert e.base[0] == pytest.approx(mean_p, abs=1e-12)


def test_permutation_with_every_order_is_the_exact_shapley_value(boston):
    """Four columns, all 24 orders: the Shapley formula over subsets, computed here."""
    from itertools import combinations
    from math import factorial

    data = boston[["medv", "lstat", "nox", "dis", "crim"]].iloc[:150]
    fit = _train(data, "medv", "rpart", lf.expand_grid(cp=0.01))
    rows = data.drop(columns="medv").iloc[100:103]
    e = lf.explain(fit, rows, method="permutation", background=10**6, permutations=24)
    assert "all 24 column orders" in e.method
    cols = list(rows.columns)
    train_x = data.drop(columns="medv")

    def v(row: pd.Series, subset: tuple[str, ...]) -> float:
        block = train_x.copy()
        for c in subset:
            block[c] = row[c]
        return float(fit.predict(block).mean())

    for i in range(len(rows)):
        row = rows.iloc[i]
        values = {s: v(row, s) for r in range(5) for s in combinations(cols, r)}
        for c in cols:
            others = [o for o in cols if o != c]
            phi = 0.0
            for r in range(len(others) + 1):
                for s in combinations(others, r):
                    w = factorial(len(s)) * factorial(len(cols) - len(s) - 1) / factorial(4)
                    with_c = tuple(o for o in cols if o in (*s, c))
                    phi += w * (values[with_c] - values[s])
            assert e.attributions.iloc[i][c] == pytest.approx(phi, abs=1e-9)


# -- errors ------------------------------------------------------------------------------------


def test_errors_name_what_is_wrong(boston):
    fit = _train(boston, "medv", "lm", None)
    with pytest.raises(ValueError, match=r"lack the predictor column\(s\) \['nox', 'dis'\]"):
        lf.explain(fit, boston.drop(columns=["nox", "dis"]))
    with pytest.raises(
        ValueError,
        match=r"method='tree' cannot explain a 'lm' fit; these can: "
        r"\['linear', 'permutation'\]",
    ):
        lf.explain(fit, boston.iloc[:3], method="tree")
    with pytest.raises(ValueError, match=r"method='shapley' is not one of \['auto', 'tree'"):
        lf.explain(fit, boston.iloc[:3], method="shapley")
    with pytest.raises(ValueError, match="rows is empty"):
        lf.explain(fit, boston.iloc[:0])
    with pytest.raises(TypeError, match="takes a TrainResult"):
        lf.explain("model", boston)
    holes = boston.iloc[:3].copy()
    holes.loc[holes.index[0], "nox"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in column\(s\) \['nox'\]"):
        lf.explain(fit, holes)


# -- plots ---------------------------------------------------------------------------------------


def test_plots_are_figures_and_the_waterfall_ends_at_the_output(boston):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fit = _train(boston, "medv", "lm", None)
    e = lf.explain(fit, boston.iloc[:50])
    for kind in ("beeswarm", "bar"):
        assert isinstance(e.plot_summary(kind=kind, top=5), Figure)
    fig = e.plot_waterfall(row=3, top=4)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 5  # the 4 largest columns and the other columns summed
    ends = [b.get_x() + b.get_width() for b in bars]
    starts = [b.get_x() for b in bars]
    assert starts[0] == pytest.approx(e.base[0])
    assert ends[-1] == pytest.approx(e.raw[3, 0], abs=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        e.plot_waterfall(row=50)
    with pytest.raises(ValueError, match="'beeswarm' or 'bar'"):
        e.plot_summary(kind="pie")


# -- the report ----------------------------------------------------------------------------------


def test_report_section_and_the_experiment_option(boston, tmp_path):
    from leanfit.experiment import parse_experiment, run_experiment
    from leanfit.report import write_report

    fit = _train(boston, "medv", "lm", None)
    e = lf.explain(fit, boston.iloc[:30])
    path = write_report(tmp_path / "r.html", "t", {"lm": fit}, explanations={"lm": e})
    text = path.read_text()
    assert "Explanations: lm" in text and "Mean |attribution| per column" in text
    # the table lists the column with the largest mean |attribution| first (computed here)
    top = e.attributions.abs().mean().sort_values(ascending=False).index[:2]
    first, second = text.index(f">{top[0]}</td>"), text.index(f">{top[1]}</td>")
    assert first < second
    assert "Explanations" not in write_report(tmp_path / "p.html", "t", {"lm": fit}).read_text()

    boston.to_csv(tmp_path / "b.csv", index=False)
    config = f"""
name: b
data: {tmp_path / "b.csv"}
formula: medv ~ .
partition: {{p: 0.8, seed: 1}}
output: {tmp_path / "out"}
controls:
  cv: {{method: cv, number: 2}}
fits:
  lmFit: {{method: lm, control: cv, seed: 1}}
explain: {{fits: lmFit, rows: 15}}
"""
    exp = parse_experiment(config, tmp_path / "b.yaml", verbose=False)
    assert exp.explain == {"fits": ["lmFit"], "rows": 15, "method": "auto"}
    run_experiment(exp, echo=lambda s: None)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Explanations: lmFit" in html and "15 row(s) explained by linear" in html
    for bad, words in (
        ("explain: nofit", "fit(s) ['nofit'] are not in the config"),
        ("explain: {fits: lmFit, rows: 0}", "rows must be a positive whole number"),
        ("explain: {fits: lmFit, method: kernel}", "method 'kernel' is not one of"),
        ("explain: {fits: lmFit, top: 3}", "unknown key(s) ['top']"),
    ):
        with pytest.raises(ValueError, match=re.escape(words)):
            parse_experiment(
                config.replace("explain: {fits: lmFit, rows: 15}", bad),
                tmp_path / "b.yaml",
                verbose=False,
            )
