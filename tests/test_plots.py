"""leanfit.plots: every plot draws what it claims (line counts, data values, AUC labels,
percentages, limits of agreement), renders to PNG, keeps matplotlib lazy and the theme local, and
refuses bad input with a message that says what to do."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

import leanfit as lf
from leanfit import plots

OUT = Path("/tmp/leanfit-plots")


def _png(fig, name: str | None = None) -> bytes:
    """Render to PNG (the real test that every artist can be drawn), optionally keep a copy."""
    buf = BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    if name:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{name}.png").write_bytes(data)
    return data


# ----------------------------------------------------------------------------- fits (real, small)
@pytest.fixture(scope="module")
def gbm(training):
    return lf.train(
        "Class ~ .",
        data=training,
        method="gbm",
        control=lf.Control(
            method="cv",
            number=3,
            class_probs=True,
            summary="two_class",
            save_predictions="final",
        ),
        grid=lf.expand_grid(
            interaction_depth=[1, 2], n_trees=[10, 20, 30], shrinkage=0.1, n_minobsinnode=10
        ),
        metric="ROC",
        seed=1,
    )


@pytest.fixture(scope="module")
def rda(training):
    """rda, tune_length=2 (gamma x lambda: 4 candidates), predictions saved, no probabilities."""
    return lf.train(
        "Class ~ .",
        data=training,
        method="rda",
        tune_length=2,
        control=lf.Control(method="cv", number=3, save_predictions="final"),
        seed=1,
    )


@pytest.fixture(scope="module")
def rda_plain(training):
    """rda without saved predictions."""
    return lf.train(
        "Class ~ .",
        data=training,
        method="rda",
        tune_length=2,
        control=lf.Control(method="cv", number=3),
        seed=1,
    )


@pytest.fixture(scope="module")
def three_class():
    """rda on a synthetic three-class problem with saved held-out probabilities."""
    rng = np.random.default_rng(3)
    n = 150
    y = np.repeat(["a", "b", "c"], n // 3)
    centers = {"a": (0, 0), "b": (1.5, 0), "c": (0, 1.5)}
    X = np.array([centers[v] for v in y]) + rng.normal(size=(n, 2))
    data = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "Class": pd.Categorical(y)})
    return lf.train(
        "Class ~ .",
        data=data,
        method="rda",
        tune_length=2,
        control=lf.Control(method="cv", number=3, class_probs=True, save_predictions="final"),
        seed=2,
    )


@pytest.fixture(scope="module")
def unresampled(training):
    return lf.train(
        "Class ~ .",
        data=training,
        method="gbm",
        control=lf.Control(method="none"),
        grid=lf.expand_grid(interaction_depth=1, n_trees=10, shrinkage=0.1, n_minobsinnode=10),
    )


@pytest.fixture(scope="module")
def regression(training):
    return lf.train(
        "V1 ~ .",
        data=training.drop(columns="Class"),
        method="gbm",
        control=lf.Control(method="cv", number=3, save_predictions="final"),
        grid=lf.expand_grid(
            interaction_depth=1, n_trees=[10, 20], shrinkage=0.1, n_minobsinnode=10
        ),
        seed=1,
    )


# ----------------------------------------------------------------------- fake comparison objects
@dataclass
class FakeComparison:
    """The comparison interface: models, metrics and long() (Resample, model, metric, value)."""

    frame: pd.DataFrame
    models: tuple[str, ...]
    metrics: tuple[str, ...]

    def long(self) -> pd.DataFrame:
        return self.frame.copy()


@dataclass
class FakeDiff:
    frame: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


@pytest.fixture(scope="module")
def comp() -> FakeComparison:
    rng = np.random.default_rng(0)
    models, metrics = ("gbm", "svmRadial", "rda"), ("ROC", "Sens", "Spec")
    rows = [
        {"Resample": f"Fold{r:02d}", "model": m, "metric": k, "value": 0.7 + 0.05 * i + e}
        for i, m in enumerate(models)
        for k in metrics
        for r, e in enumerate(rng.normal(0, 0.04, 10), start=1)
    ]
    return FakeComparison(pd.DataFrame(rows), models, metrics)


@pytest.fixture(scope="module")
def diff() -> FakeDiff:
    pairs = [("gbm", "svmRadial"), ("gbm", "rda"), ("svmRadial", "rda")]
    rows = []
    for k, metric in enumerate(("ROC", "Sens")):
        for j, (a, b) in enumerate(pairs):
            est = 0.01 * (j + 1) * (-1) ** k
            rows.append(
                {
                    "metric": metric,
                    "model1": a,
                    "model2": b,
                    "estimate": est,
                    "lower": est - 0.02,
                    "upper": est + 0.02 if j else np.inf,  # one-sided bound is drawn clipped
                    "statistic": 1.2,
                    "df": 9,
                    "p_value": 0.01 * (j + 1),
                    "p_adjusted": 0.03 * (j + 1),
                    "test": "paired t-test",
                    "adjustment": "bonferroni",
                }
            )
    return FakeDiff(pd.DataFrame(rows))


# ------------------------------------------------------------------------------- package hygiene
def test_import_leanfit_plots_does_not_import_matplotlib():
    code = "import sys, leanfit, leanfit.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_theme_is_applied_inside_the_call_only(gbm):
    before = matplotlib.rcParams["axes.grid"], matplotlib.rcParams["axes.spines.top"]
    fig = plots.plot_tuning(gbm)
    ax = fig.axes[0]
    assert ax.yaxis.get_gridlines()[0].get_visible()
    assert not ax.spines["top"].get_visible()
    assert (matplotlib.rcParams["axes.grid"], matplotlib.rcParams["axes.spines.top"]) == before
    assert fig.canvas.manager is None  # not registered with pyplot


# --------------------------------------------------------------------------------- plot_tuning
def test_plot_tuning_gbm_one_line_per_depth_with_the_results(gbm):
    fig = plots.plot_tuning(gbm)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2  # interaction.depth 1 and 2
    res = gbm.results
    for line, depth in zip(lines, (1, 2), strict=True):
        rows = res[res["interaction_depth"] == depth].sort_values("n_trees")
        np.testing.assert_array_equal(line.get_xdata(), [10, 20, 30])
        np.testing.assert_allclose(line.get_ydata(), rows["ROC"])
        assert line.get_label() == str(depth)
    legend = ax.get_legend()
    assert "interaction.depth" in legend.get_title().get_text()
    assert "Max Tree Depth" in legend.get_title().get_text()
    assert "n.trees" in ax.get_xlabel() and "# Boosting Iterations" in ax.get_xlabel()
    assert ax.get_ylabel() == "Resampled ROC (mean over 3 resamples)"
    chosen = ax.collections[0].get_offsets()
    best = res.iloc[gbm.best_index]
    np.testing.assert_allclose(chosen, [[best["n_trees"], best["ROC"]]])
    assert "shrinkage = 0.1" in ax.get_title(loc="left")  # the constant parameters are named
    _png(fig, "plot_tuning_gbm")


def test_plot_tuning_other_metric(gbm):
    ax = plots.plot_tuning(gbm, metric="Sens").axes[0]
    res = gbm.results
    for line, depth in zip(ax.get_lines(), (1, 2), strict=True):
        rows = res[res["interaction_depth"] == depth].sort_values("n_trees")
        np.testing.assert_allclose(line.get_ydata(), rows["Sens"])
    assert "Sens" in ax.get_ylabel()


def test_plot_tuning_level_plot(gbm):
    fig = plots.plot_tuning(gbm, kind="level")
    ax = fig.axes[0]
    grid = ax.images[0].get_array()
    res = gbm.results
    expected = res.pivot(index="interaction_depth", columns="n_trees", values="ROC").to_numpy()
    np.testing.assert_allclose(np.ma.getdata(grid), expected)
    assert len(ax.texts) == 6  # every cell annotated
    assert len(fig.axes) == 2 and "ROC" in fig.axes[1].get_ylabel()  # colour bar
    assert "n.trees" in ax.get_xlabel() and "interaction.depth" in ax.get_ylabel()
    assert len(ax.patches) == 1  # the chosen cell is boxed
    _png(fig)


def test_plot_tuning_rda(rda):
    fig = plots.plot_tuning(rda)
    ax = fig.axes[0]
    res = rda.results
    assert len(ax.get_lines()) == res["lambda"].nunique() == 2
    for line, lam in zip(ax.get_lines(), sorted(res["lambda"].unique()), strict=True):
        rows = res[res["lambda"] == lam].sort_values("gamma")
        np.testing.assert_allclose(line.get_xdata(), rows["gamma"])
        np.testing.assert_allclose(line.get_ydata(), rows["Accuracy"])
    assert "Gamma" in ax.get_xlabel() and "Lambda" in ax.get_legend().get_title().get_text()
    assert "Accuracy" in ax.get_ylabel()
    _png(plots.plot_tuning(rda, metric="Kappa", kind="level"))
    _png(fig)


# ---------------------------------------------------------------------- per-resample distribution
def test_plot_resample_distribution_kinds(gbm):
    values = gbm.resample["ROC"].to_numpy()
    fig = plots.plot_resample_distribution(gbm)
    ax = fig.axes[0]
    np.testing.assert_allclose(np.sort(ax.collections[-1].get_offsets()[:, 0]), np.sort(values))
    assert np.all(ax.get_lines()[0].get_ydata() >= 0)  # the density curve
    assert "ROC" in ax.get_xlabel() and "3 resamples" in ax.get_xlabel()
    _png(fig)
    hist = plots.plot_resample_distribution(gbm, metric="Spec", kind="hist").axes[0]
    assert sum(p.get_height() for p in hist.patches) == len(values)
    _png(hist.figure)
    strip = plots.plot_resample_distribution(gbm, kind="strip").axes[0]
    np.testing.assert_allclose(strip.collections[0].get_offsets()[:, 0], values)
    mean_line = strip.get_lines()[0]
    assert mean_line.get_xdata()[0] == pytest.approx(values.mean())
    _png(strip.figure)


# --------------------------------------------------------------------------- held-out predictions
def test_plot_roc_auc_matches_sklearn(gbm):
    pred = gbm.predictions
    auc = roc_auc_score(pred["obs"] == "M", pred["M"])
    fig = plots.plot_roc(gbm)
    ax = fig.axes[0]
    curve = ax.get_lines()[0]
    assert curve.get_label() == f"M vs R (AUC = {auc:.4f})"
    x, y = curve.get_xdata(), curve.get_ydata()
    assert (x[0], y[0], x[-1], y[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)
    assert np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2) == pytest.approx(auc)
    assert "False positive" in ax.get_xlabel() and "sensitivity" in ax.get_ylabel()
    _png(fig)


def test_plot_roc_multiclass_one_vs_rest(three_class):
    pred = three_class.predictions
    ax = plots.plot_roc(three_class).axes[0]
    curves = ax.get_lines()[:-1]  # the last line is the chance diagonal
    assert len(curves) == 3
    for line, lv in zip(curves, "abc", strict=True):
        auc = roc_auc_score(pred["obs"] == lv, pred[lv])
        assert line.get_label() == f"{lv} vs rest (AUC = {auc:.4f})"
    _png(ax.figure)


def test_plot_pr(gbm):
    pred = gbm.predictions
    prevalence = (pred["obs"] == "M").mean()
    ax = plots.plot_pr(gbm).axes[0]
    curve, baseline = ax.get_lines()
    assert curve.get_xdata()[-1] == 1.0  # recall reaches 1 ...
    assert curve.get_ydata()[-1] == pytest.approx(prevalence)  # ... where precision = prevalence
    assert baseline.get_ydata()[0] == pytest.approx(prevalence)
    assert "PR AUC" in curve.get_label()
    _png(ax.figure)


def test_plot_calibration_bins(gbm):
    pred = gbm.predictions
    ax = plots.plot_calibration(gbm, bins=5).axes[0]
    diagonal, curve = ax.get_lines()
    np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
    p, event = pred["M"].to_numpy(), (pred["obs"] == "M").to_numpy()
    b = np.minimum((p * 5).astype(int), 4)
    present = np.unique(b)
    np.testing.assert_allclose(curve.get_xdata(), [p[b == k].mean() for k in present])
    np.testing.assert_allclose(curve.get_ydata(), [event[b == k].mean() for k in present])
    counts = [int(t.get_text().removeprefix("n=")) for t in ax.texts]
    assert sum(counts) == len(pred)
    _png(ax.figure)


def test_plot_confusion_percentages(gbm, rda):
    for res in (gbm, rda):  # rda has no class probabilities: a confusion matrix needs none
        fig = plots.plot_confusion(res)
        ax = fig.axes[0]
        cells = np.asarray(ax.images[0].get_array())
        assert cells.sum() == pytest.approx(100.0)
        shown = [float(t.get_text().rstrip("%")) for t in ax.texts]
        assert len(shown) == 4 and sum(shown) == pytest.approx(100.0, abs=0.2)
        pred = res.predictions
        accuracy = (pred["pred"] == pred["obs"]).mean() * 100
        assert np.trace(cells) == pytest.approx(accuracy)
        assert cells[0, 1] == pytest.approx(
            ((pred["pred"] == "M") & (pred["obs"] == "R")).mean() * 100
        )
        assert ax.get_ylabel() == "Prediction" and "Reference" in ax.get_xlabel()
        _png(fig)


# ----------------------------------------------------------------------------- between models
def test_plot_box_one_panel_per_metric(comp):
    fig = plots.plot_box(comp)
    assert len(fig.axes) == 3
    long = comp.long()
    for ax, metric in zip(fig.axes, comp.metrics, strict=True):
        assert ax.get_title(loc="center") == metric
        assert len(ax.patches) == len(comp.models)
        means = ax.collections[-1].get_offsets()[:, 0]
        expected = [
            long[(long.metric == metric) & (long.model == m)]["value"].mean() for m in comp.models
        ]
        np.testing.assert_allclose(means, expected)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == list(comp.models)  # first model at the top
    assert fig.axes[0].get_yticks()[0] > fig.axes[0].get_yticks()[-1]
    _png(fig, "plot_box")
    assert len(plots.plot_box(comp, metric="Sens").axes) == 1


def test_plot_dot_t_intervals(comp):
    fig = plots.plot_dot(comp, metric="ROC", conf_level=0.9)
    ax = fig.axes[0]
    long = comp.long()
    points = ax.get_lines()[0]
    segments = ax.collections[0].get_segments()
    for i, m in enumerate(comp.models):
        v = long[(long.metric == "ROC") & (long.model == m)]["value"].to_numpy()
        lo, hi = stats.t.interval(0.9, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
        assert points.get_xdata()[i] == pytest.approx(v.mean())
        assert segments[i][:, 0] == pytest.approx([lo, hi])
    assert "90% CI" in ax.get_xlabel()
    _png(fig)


def test_plot_density_one_curve_per_model(comp):
    fig = plots.plot_density(comp, metric=["ROC", "Spec"])
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert [ln.get_label() for ln in ax.get_lines()] == list(comp.models)
    _png(fig)


def test_plot_splom(comp):
    fig = plots.plot_splom(comp, "ROC")
    k = len(comp.models)
    assert len(fig.axes) == k * k
    wide = (
        comp.long()
        .query("metric == 'ROC'")
        .pivot(index="Resample", columns="model", values="value")
    )
    ax = fig.axes[1]  # row 0 (gbm on y), column 1 (svmRadial on x)
    np.testing.assert_allclose(
        ax.collections[0].get_offsets(), wide[["svmRadial", "gbm"]].to_numpy()
    )
    identity = ax.get_lines()[0]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    assert fig.axes[0].texts[0].get_text() == "gbm"
    _png(fig)


def test_plot_bland_altman_limits(comp):
    fig = plots.plot_bland_altman(comp, "ROC", models=["rda", "gbm"])
    ax = fig.axes[0]
    wide = (
        comp.long()
        .query("metric == 'ROC'")
        .pivot(index="Resample", columns="model", values="value")
    )
    d = (wide["rda"] - wide["gbm"]).to_numpy()
    md, sd = d.mean(), d.std(ddof=1)
    levels = sorted(ln.get_ydata()[0] for ln in ax.get_lines())
    assert levels == pytest.approx(sorted([0.0, md, md - 1.96 * sd, md + 1.96 * sd]))
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 1], d)
    np.testing.assert_allclose(points[:, 0], ((wide["rda"] + wide["gbm"]) / 2).to_numpy())
    assert ax.get_ylabel() == "rda - gbm (ROC)"
    _png(fig)
    default = plots.plot_bland_altman(comp, "Sens").axes[0]  # the first two models
    assert default.get_ylabel() == "gbm - svmRadial (Sens)"


def test_plot_diff(diff):
    fig = plots.plot_diff(diff)
    assert len(fig.axes) == 2
    frame = diff.to_frame()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["gbm - svmRadial", "gbm - rda", "svmRadial - rda"]
    roc = frame[frame.metric == "ROC"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), roc["estimate"])
    zero = ax.get_lines()[1]
    assert list(zero.get_xdata()) == [0, 0]
    segments = ax.collections[0].get_segments()
    assert segments[1][:, 0] == pytest.approx([roc["lower"].iloc[1], roc["upper"].iloc[1]])
    assert np.isfinite(segments[0]).all()  # the infinite upper bound is clipped to the axis
    assert "ROC" in ax.get_xlabel() and "model1 - model2" in ax.get_xlabel()
    _png(fig)
    assert len(plots.plot_diff(diff, metric="Sens").axes) == 1


# ---------------------------------------------------------------------------------------- other
def test_plot_importance_scaled_and_top():
    imp = pd.Series([5.0, 1.0, 3.0, 2.0, 4.0, 0.5], index=list("abcdef"))
    fig = plots.plot_importance(imp, top=4)
    ax = fig.axes[0]
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), [100, 77.7777778, 55.5555556, 33.3333333])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "e", "c", "d"]
    assert points.get_ydata()[0] > points.get_ydata()[-1]  # most important at the top
    _png(fig)
    per_class = pd.DataFrame({"M": [10.0, 2.0, 6.0], "R": [4.0, 8.0, 0.0]}, index=["x", "y", "z"])
    fig2 = plots.plot_importance(per_class)
    assert len(fig2.axes) == 2
    np.testing.assert_allclose(fig2.axes[1].get_lines()[0].get_xdata(), [40, 80, 0])
    _png(fig2)


def test_plot_learning_curve():
    sizes = [20, 40, 80, 120]
    curve = pd.DataFrame(
        [
            {
                "size": s,
                "metric": m,
                "resampled_mean": 0.6 + s / 1000,
                "resampled_sd": 0.05,
                "apparent_mean": 0.95 - s / 2000,
                "apparent_sd": 0.01,
            }
            for m in ("ROC", "Sens")
            for s in sizes[::-1]
        ]
    )
    fig = plots.plot_learning_curve(curve)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    resampled, apparent = ax.get_lines()
    np.testing.assert_array_equal(resampled.get_xdata(), sizes)
    np.testing.assert_allclose(resampled.get_ydata(), [0.6 + s / 1000 for s in sizes])
    np.testing.assert_allclose(apparent.get_ydata(), [0.95 - s / 2000 for s in sizes])
    assert len(ax.collections) == 2  # the two ±1 SD bands
    assert ax.get_ylabel() == "ROC" and "Training set size" in ax.get_xlabel()
    _png(fig)
    assert len(plots.plot_learning_curve(curve, metric="Sens").axes) == 1


# ------------------------------------------------------------------------------------ bad input
def test_unresampled_model_has_nothing_to_plot(unresampled):
    for fn in (plots.plot_tuning, plots.plot_resample_distribution, plots.plot_roc):
        with pytest.raises(ValueError, match=r"no resampling was done \(method='none'\)"):
            fn(unresampled)
    with pytest.raises(ValueError, match="no tuning results to plot"):
        plots.plot_tuning(unresampled)


def test_require_resampled_hands_back_the_fits_resamples_and_scores(rda_plain, unresampled):
    from leanfit.plots.train import require_resampled

    resamples, scores = require_resampled(rda_plain)
    assert resamples is rda_plain.resamples and scores is rda_plain.scores
    assert len(resamples) == 3  # Control(method="cv", number=3)
    assert scores.values.shape[:2] == (3, 4)  # 3 folds x (2 gammas x 2 lambdas)
    msg = (
        "no resampling was done (method='none'): there are no held-out predictions to plot; "
        "train with a resampling Control (e.g. Control(method='cv')) to see them"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        require_resampled(unresampled, "held-out predictions")


def test_unknown_metric_lists_the_available_ones(gbm, comp):
    msg = re.escape("available metrics: ['ROC', 'Sens', 'Spec']")
    with pytest.raises(ValueError, match=msg):
        plots.plot_tuning(gbm, metric="Accuracy")
    with pytest.raises(ValueError, match=msg):
        plots.plot_resample_distribution(gbm, metric="RMSE")
    with pytest.raises(ValueError, match=msg):
        plots.plot_box(comp, metric="Kappa")
    with pytest.raises(ValueError, match=msg):
        plots.plot_splom(comp, "Kappa")


def test_plot_tuning_needs_a_varying_numeric_parameter(training):
    one = lf.train(
        "Class ~ .",
        data=training,
        method="gbm",
        control=lf.Control(method="cv", number=3),
        grid=lf.expand_grid(interaction_depth=1, n_trees=10, shrinkage=0.1, n_minobsinnode=10),
        seed=1,
    )
    with pytest.raises(ValueError, match="needs a tuning parameter with more than one numeric"):
        plots.plot_tuning(one)
    _png(plots.plot_resample_distribution(one, kind="hist"))  # one candidate still has resamples


def test_level_plot_needs_two_parameters(regression):
    with pytest.raises(ValueError, match="a level plot needs two varying tuning parameters"):
        plots.plot_tuning(regression, kind="level")
    with pytest.raises(ValueError, match="kind='bar' must be 'line' or 'level'"):
        plots.plot_tuning(regression, kind="bar")


def test_predictions_not_saved(rda_plain):
    for fn in (plots.plot_roc, plots.plot_pr, plots.plot_calibration, plots.plot_confusion):
        with pytest.raises(ValueError, match=re.escape("Control(save_predictions='final')")):
            fn(rda_plain)


def test_curves_need_class_probabilities(rda):
    with pytest.raises(ValueError, match=r"class probabilities.*Control\(class_probs=True"):
        plots.plot_roc(rda)


def test_regression_has_no_roc(regression):
    msg = "needs a classification model with class probabilities"
    for fn in (plots.plot_roc, plots.plot_pr, plots.plot_calibration):
        with pytest.raises(ValueError, match=msg):
            fn(regression)
    _png(plots.plot_tuning(regression))  # regression tuning profiles still work (RMSE)


def test_bad_comparison_arguments(comp):
    with pytest.raises(ValueError, match="exactly two models"):
        plots.plot_bland_altman(comp, "ROC", models=["gbm"])
    with pytest.raises(ValueError, match=r"\['knn'\] are not in the comparison"):
        plots.plot_bland_altman(comp, "ROC", models=["gbm", "knn"])
    with pytest.raises(ValueError, match="conf_level"):
        plots.plot_dot(comp, conf_level=95)
    with pytest.raises(TypeError, match="pandas Series or DataFrame"):
        plots.plot_importance([1, 2, 3])


def test_between_model_plots_on_a_real_comparison(gbm, training):
    """The real leanfit.compare objects (not fakes) drive every between-model plot."""
    rda_roc = lf.train(
        "Class ~ .",
        data=training,
        method="rda",
        tune_length=2,
        control=gbm.control,
        metric="ROC",
        seed=1,
    )
    comp = lf.resamples({"GBM": gbm, "RDA": rda_roc})
    d = comp.diff()
    figs = [
        plots.plot_box(comp),
        plots.plot_dot(comp),
        plots.plot_density(comp),
        plots.plot_splom(comp, "ROC"),
        plots.plot_bland_altman(comp, "ROC"),
        plots.plot_diff(d),
    ]
    for fig in figs:
        fig.savefig(BytesIO(), format="png")
    diffs = comp.column("GBM", "ROC") - comp.column("RDA", "ROC")
    ba = figs[4].axes[0]
    levels = sorted(
        line.get_ydata()[0] for line in ba.get_lines() if len(set(line.get_ydata())) == 1
    )
    expected = sorted(
        [
            0.0,
            diffs.mean(),
            diffs.mean() + 1.96 * diffs.std(ddof=1),
            diffs.mean() - 1.96 * diffs.std(ddof=1),
        ]
    )
    np.testing.assert_allclose(levels, expected, rtol=1e-12, atol=1e-12)


def test_learning_curve_plot_from_a_real_curve(training):
    curve = lf.learning_curve(
        "Class ~ .",
        data=training,
        method="rda",
        params={"gamma": 0.5, "lambda": 0.5},
        sizes=(0.5, 1.0),
        control=lf.Control(method="cv", number=3),
        seed=3,
    )
    fig = plots.plot_learning_curve(curve.table, metric="Accuracy")
    fig.savefig(BytesIO(), format="png")
    acc = curve.table[curve.table["metric"] == "Accuracy"]
    ys = [tuple(np.round(line.get_ydata(), 12)) for line in fig.axes[0].get_lines()]
    assert tuple(np.round(acc["resampled_mean"].to_numpy(), 12)) in ys
    assert tuple(np.round(acc["apparent_mean"].to_numpy(), 12)) in ys
