"""Every bad input to train() fails with a clear message BEFORE any model is fitted."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit import Control
from leanfit.models.boosting import GBM
from leanfit.models.discriminant import RDA
from leanfit.models.linear import GLMNet
from leanfit.models.svm import SVMRadial
from leanfit.tuning.train import plan_train, train

GRID = {"interaction_depth": [1], "n_trees": [5, 10], "shrinkage": [0.1], "n_minobsinnode": [10]}
CV3 = Control(method="cv", number=3)


@pytest.fixture
def fits(monkeypatch) -> list:
    """Every built-in model's fit records its call here (and still fits)."""
    calls: list = []
    for cls in (GBM, RDA, SVMRadial, GLMNet):
        original = cls.fit

        def spy(self, data, params, subs, seed, _original=original):
            calls.append((self.name, len(data.y), dict(params)))
            return _original(self, data, params, subs, seed)

        monkeypatch.setattr(cls, "fit", spy)
    return calls


def _fails(fits, match, *args, exc=ValueError, **kwargs):
    with pytest.raises(exc, match=match) as e:
        train(*args, **kwargs)
    assert fits == [], "a model was fitted before the error"
    return str(e.value)


def test_the_spy_sees_fits(training, fits):
    train("Class ~ .", data=training, method="gbm", grid=GRID, control=CV3, seed=1)
    assert len(fits) == 3 + 1 and {f[0] for f in fits} == {"gbm"}


def test_unknown_method_suggests_close_names(training, fits):
    msg = _fails(fits, "unknown method 'gmb'", "Class ~ .", data=training, method="gmb")
    assert "Did you mean" in msg and "'gbm'" in msg.split("Known methods")[0]
    assert "glmnet" in msg and "svm_radial" in msg  # the known methods are listed
    msg = _fails(fits, "unknown method", "Class ~ .", data=training, method="svm_radail")
    assert "'svm_radial'" in msg
    # Labels and engines are matched too: a user writing what a model is called finds it.
    msg = _fails(fits, "unknown method", "Class ~ .", data=training, method="random_forest")
    assert msg.split("Known methods")[0].endswith("Did you mean 'rf', 'qrf', 'extra_trees'? ")
    msg = _fails(fits, "unknown method", "Class ~ .", data=training, method="xgboost")
    assert "'xgb_linear', 'xgb_tree'" in msg.split("Known methods")[0]
    _fails(fits, "method must be a model name", "Class ~ .", data=training, method=3, exc=TypeError)


def test_caret_names_of_methods_are_accepted(training):
    plan = plan_train(
        "Class ~ .",
        data=training,
        method="svmRadial",
        grid={"sigma": [0.01], "C": [1]},
        control=CV3,
    )
    assert plan.model.name == "svm_radial"
    assert len(plan.tasks) == 3  # planned, nothing fitted


def test_grid_column_that_is_not_a_parameter(training, fits):
    grid = {**GRID, "depth": [2]}
    msg = _fails(fits, "grid column", "Class ~ .", data=training, grid=grid, control=CV3)
    assert "['depth']" in msg
    for p in ("n_trees", "interaction_depth", "shrinkage", "n_minobsinnode"):
        assert p in msg


def test_caret_dotted_grid_names_are_accepted(training, fits):
    grid = {
        "interaction.depth": [1],
        "n.trees": [5, 10],
        "shrinkage": [0.1],
        "n.minobsinnode": [10],
    }
    res = train("Class ~ .", data=training, method="gbm", grid=grid, control=CV3, seed=1)
    assert list(res.candidates.columns) == [
        "n_trees",
        "interaction_depth",
        "shrinkage",
        "n_minobsinnode",
    ]
    assert list(res.results["n_trees"]) == [5, 10]
    assert len(fits) == 3 + 1
    # and the output speaks caret's names
    assert "The final values used for the model were n.trees = " in repr(res)


def test_grid_missing_a_parameter(training, fits):
    grid = {k: v for k, v in GRID.items() if k != "shrinkage"}
    msg = _fails(fits, "lacks column", "Class ~ .", data=training, grid=grid, control=CV3)
    assert "['shrinkage']" in msg


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("n_trees", 0, "must be >= 1"),
        ("interaction_depth", 1.5, "must be a whole number"),
        ("shrinkage", "fast", "must be a number"),
        ("n_minobsinnode", 500, "must be <= 100"),
    ],
)
def test_invalid_grid_value(training, fits, column, value, why):
    grid = {**GRID, column: [value]}
    msg = _fails(fits, f"grid value {column}=", "Class ~ .", data=training, grid=grid, control=CV3)
    assert "for 'gbm'" in msg and why in msg


def test_invalid_grid_value_is_shown_as_the_user_wrote_it(training, fits):
    grid = {**GRID, "n_trees": [0]}
    msg = _fails(fits, "grid value", "Class ~ .", data=training, grid=grid, control=CV3)
    assert "n_trees=0 for 'gbm': must be >= 1, got 0" in msg


def test_grid_of_the_wrong_type(training, fits):
    _fails(
        fits, "grid must be", "Class ~ .", data=training, grid=[1, 2], control=CV3, exc=TypeError
    )
    _fails(fits, "tune_length=0", "Class ~ .", data=training, tune_length=0, control=CV3)


def test_missing_target_values(training, fits):
    bad = training.copy()
    bad.iloc[[3, 10], bad.columns.get_loc("Class")] = np.nan
    msg = _fails(fits, "target 'Class' has 2 missing value", "Class ~ .", data=bad, control=CV3)
    assert "first rows [3, 10]" in msg


def test_constant_target(training, fits):
    bad = training.assign(Class="M")
    _fails(fits, "target 'Class' is constant", "Class ~ .", data=bad, grid=GRID, control=CV3)


def test_misspelled_option_is_named_before_fitting(training, fits):
    from leanfit.models.base import get_model

    rf = get_model("rf")
    rf.options.update(ntrees=50)
    msg = _fails(
        fits,
        r"rf: unknown option\(s\) \['ntrees'\]",
        "Class ~ .",
        data=training,
        method=rf,
        grid={"mtry": [2]},
        control=CV3,
    )
    assert "did you mean 'n_trees'" in msg and "its options: n_trees, nodesize" in msg


def test_every_built_in_model_declares_its_options():
    """So a misspelled option fails early instead of being ignored."""
    from leanfit.models.base import registry

    undeclared = {n for n, c in registry().items() if c.option_names is None}
    assert undeclared == set()


def test_class_with_fewer_rows_than_folds_warns_and_runs_as_in_caret(training, fits):
    few = pd.concat(
        [training[training["Class"] == "M"], training[training["Class"] == "R"].head(3)]
    )
    ctl = Control(method="cv", number=5)
    with pytest.warns(UserWarning, match=r"\('R', 3\)\] have fewer rows than the 5 folds") as w:
        res = train("Class ~ .", data=few, method="gbm", grid=GRID, control=ctl, seed=1)
    assert "Control(number=...)" in str(w[0].message)
    assert len(fits) == 5 + 1 and res.results["Accuracy"].notna().all()
    one = pd.concat([few[few["Class"] == "M"], few[few["Class"] == "R"].head(1)])
    fits.clear()
    msg = _fails(fits, "fewer than 2 rows", "Class ~ .", data=one, grid=GRID, control=ctl)
    assert "('R', 1)" in msg


@pytest.mark.parametrize("method", ["rda", "svm_radial"])
def test_missing_predictors_need_an_imputation_step(training, fits, method):
    bad = training.copy()
    bad.iloc[[0, 5], bad.columns.get_loc("V3")] = np.nan
    bad.iloc[7, bad.columns.get_loc("V10")] = np.nan
    grid = {"gamma": [0.5], "lambda": [0.5]} if method == "rda" else {"sigma": [0.01], "C": [1.0]}
    msg = _fails(
        fits, "missing values", "Class ~ .", data=bad, method=method, grid=grid, control=CV3
    )
    assert "['V3', 'V10']" in msg
    assert "median_impute" in msg
    # with the imputation step it trains, on every row
    res = train(
        "Class ~ .",
        data=bad,
        method=method,
        grid=grid,
        control=CV3,
        preprocess=["median_impute"],
        seed=1,
    )
    assert len(fits) == 3 + 1
    # the final medians are the columns' medians over the observed rows, by hand
    X = bad.drop(columns="Class").to_numpy()
    np.testing.assert_array_equal(res.final_preprocess.median_, np.nanmedian(X, axis=0))
    # 3 imputed cells of 9 420 move each fold's accuracy by at most a row or two (1/52 each)
    full = train("Class ~ .", data=training, method=method, grid=grid, control=CV3, seed=1)
    assert abs(res.results["Accuracy"].iloc[0] - full.results["Accuracy"].iloc[0]) < 0.03


def test_an_entirely_missing_predictor_is_named_before_any_fit(training, fits):
    bad = training.copy()
    bad["V7"] = np.nan
    grid = {"gamma": [0.5], "lambda": [0.5]}
    for steps in (None, ["median_impute"], ["knn_impute"]):
        msg = _fails(
            fits,
            "entirely missing",
            "Class ~ .",
            data=bad,
            method="rda",
            grid=grid,
            control=CV3,
            preprocess=steps,
        )
        assert "['V7']" in msg and "preprocess=['zv']" in msg
    # zv drops it inside each resample (before the imputer), so both run
    res = train(
        "Class ~ .",
        data=bad,
        method="rda",
        grid=grid,
        control=CV3,
        preprocess=["zv", "median_impute"],
        seed=1,
    )
    assert len(fits) == 3 + 1
    assert "V7" not in res.final_preprocess.output_names_


def test_gbm_takes_missing_predictors(training, fits):
    bad = training.copy()
    bad.iloc[[0, 5], bad.columns.get_loc("V3")] = np.nan
    res = train("Class ~ .", data=bad, method="gbm", grid=GRID, control=CV3, seed=1)
    assert res.results["Accuracy"].notna().all()


def test_metric_the_summary_does_not_produce(training, fits):
    msg = _fails(
        fits,
        "metric 'ROC' is not produced",
        "Class ~ .",
        data=training,
        grid=GRID,
        control=CV3,
        metric="ROC",
    )
    assert "'default'" in msg and "['Accuracy', 'Kappa']" in msg
    msg = _fails(
        fits,
        "metric 'Accuracy' is not produced",
        "Class ~ .",
        data=training,
        grid=GRID,
        control=Control(method="cv", number=3, class_probs=True, summary="two_class"),
        metric="Accuracy",
    )
    assert "['ROC', 'Sens', 'Spec']" in msg


def test_summary_that_needs_probabilities(training, fits):
    _fails(
        fits,
        "summary 'two_class' \\(twoClassSummary\\) needs class probabilities: set class_probs=True",
        "Class ~ .",
        data=training,
        grid=GRID,
        control=Control(method="cv", number=3, summary="two_class"),
    )


def test_non_numeric_column_through_x_y(training, fits):
    X = training.drop(columns="Class").assign(colour=["red", "blue"] * 78 + ["red"])
    msg = _fails(fits, "column 'colour' is not numeric", X, training["Class"], grid=GRID)
    assert "formula" in msg  # it says how to get factor columns encoded
    # the formula interface dummy-encodes it instead
    plan = plan_train(
        "Class ~ .", data=X.assign(Class=training["Class"]), grid=GRID, control=CV3, seed=1
    )
    assert "colourred" in plan.dataset.encoder.feature_names


def test_unknown_preprocess_step(training, fits):
    msg = _fails(
        fits, "unknown step 'pcaa'", "Class ~ .", data=training, grid=GRID, preprocess=["pcaa"]
    )
    assert "center" in msg and "median_impute" in msg


def test_other_input_errors(training, fits):
    n = len(training)
    _fails(fits, "needs a target", training.drop(columns="Class"), grid=GRID)
    _fails(fits, "target column 'Klass'", training, "Klass", grid=GRID)
    _fails(fits, "formula target 'Klass'", "Klass ~ .", data=training, grid=GRID)
    _fails(fits, "'V99', which data does not have", "Class ~ V1 + V99", data=training, grid=GRID)
    _fails(fits, "a formula needs data=", "Class ~ .", grid=GRID)
    _fails(
        fits, "X has 157 rows but y has 10", training.drop(columns="Class"), training["Class"][:10]
    )
    _fails(
        fits, "finite and non-negative", "Class ~ .", data=training, grid=GRID, weights=-np.ones(n)
    )
    _fails(fits, "one value per row", "Class ~ .", data=training, grid=GRID, weights=np.ones(3))
    _fails(
        fits,
        "group_cv'\\) needs train",
        "Class ~ .",
        data=training,
        grid=GRID,
        control=Control(method="group_cv", number=3),
    )
    _fails(
        fits,
        r"does not do regression.*methods that do: .*gbm.*leanfit models --mode regression",
        "V1 ~ V2 + V3",
        data=training,
        method="rda",
        grid={"gamma": [0.5], "lambda": [0.5]},
    )
    _fails(
        fits,
        "class_probs=True\\) is for classification",
        "V1 ~ V2 + V3",
        data=training,
        grid=GRID,
        control=Control(method="cv", number=3, class_probs=True),
    )
    _fails(
        fits,
        "index\\[0\\] rows must be within 0..156",
        "Class ~ .",
        data=training,
        grid=GRID,
        control=Control(index=[[0, 1, 500]]),
    )


def test_user_model_without_weights_support(training, centroid_cls):
    model = centroid_cls()
    with pytest.raises(ValueError, match="'centroid' does not take observation weights"):
        train("Class ~ .", data=training, method=model, grid={"shrink": [0]}, weights=np.ones(157))
    assert model.calls == []


# ------------------------------------------------------------------ Control validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bogus"}, "Control\\(method='bogus'\\) is not one of .*'cv'"),
        ({"method": "adaptive_cv", "adaptive": {"min": 99}}, "fewer than the"),
        ({"method": "cv", "number": 1}, "number=1\\) must be >= 2 folds for cv"),
        ({"method": "repeatedcv", "number": 1, "repeats": 2}, ">= 2 folds"),
        ({"number": 0}, "positive integer"),
        ({"method": "lgocv", "p": 1.5}, "p=1.5\\) must be strictly between 0 and 1"),
        ({"summary": "auc"}, "summary='auc'\\) is not one of .*'two_class'"),
        ({"selection": "worst"}, "selection='worst'"),
        ({"search": "hyperband"}, r"must be one of \['grid', 'random', 'bayes', 'genetic'\]"),
        ({"return_resamp": "some"}, "return_resamp"),
        ({"save_predictions": "maybe"}, "save_predictions"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"method": "timeslice"}, "needs initial_window"),
        ({"index_out": [[1, 2]]}, "needs index= as well"),
    ],
)
def test_control_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Control(**kwargs)


def test_control_accepts_caret_spellings():
    assert Control(method="LOOCV").method == "loocv"
    assert Control(method="LGOCV").method == "lgocv"
    assert Control(method="optimism.boot").method == "optimism_boot"
    assert Control(save_predictions=True).save_predictions == "all"
    assert Control(save_predictions=False).save_predictions == "none"
    assert Control().folds == 25 and Control(method="cv").folds == 10


def test_repeatedcv_without_repeats_warns():
    with pytest.warns(UserWarning, match="without repeats= uses 1 repeat"):
        ctl = Control(method="repeatedcv", number=10)
    assert ctl.describe() == "Cross-Validated (10 fold, repeated 1 times)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Control(method="repeatedcv", number=10, repeats=3)


def test_lf_exports_the_api():
    for name in ("train", "Control", "expand_grid", "tolerance", "one_se", "best", "partition"):
        assert callable(getattr(lf, name))


def test_expand_grid_takes_a_dict_first_then_keywords():
    """For names that are Python keywords (glmnet's lambda) or not identifiers (caret's dots)."""
    got = lf.expand_grid({"lambda": [0.1, 1.0], "n.trees": 50}, alpha=[0, 1])
    expected = pd.DataFrame(  # R: expand.grid(lambda = c(.1, 1), n.trees = 50, alpha = 0:1)
        {"lambda": [0.1, 1.0, 0.1, 1.0], "n.trees": [50] * 4, "alpha": [0, 0, 1, 1]}
    )
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(lf.expand_grid({"a": [1, 2]}), lf.expand_grid(a=[1, 2]))
    with pytest.raises(
        ValueError, match=r"expand_grid would build 6 rows \(a 2 x b 3\), more than 5"
    ):
        lf.expand_grid({"a": [1, 2]}, b=[1, 2, 3], max_rows=5)


def test_expand_grid_refuses_a_column_given_twice_or_a_non_mapping():
    with pytest.raises(ValueError, match="'alpha' both in the mapping and as a keyword"):
        lf.expand_grid({"alpha": [0, 1]}, alpha=[0.5])
    with pytest.raises(TypeError, match="must be a mapping of column name to values .* not list"):
        lf.expand_grid([0, 1])


def test_options_reach_the_model_and_leave_the_callers_instance_alone(training, fits):
    """train(options=...) sets the model's settings outside the grid: rf with 7 trees grows 7
    trees; an unknown option is refused before any fit; a Model instance passed as method keeps
    its own options."""
    ctl = Control(method="cv", number=3)
    res = train(
        "Class ~ .",
        data=training,
        method="rf",
        grid={"mtry": [3]},
        control=ctl,
        options={"n_trees": 7},
        seed=1,
    )
    assert len(res.final_model.est.estimators_) == 7
    mine = GBM()
    msg = _fails(
        fits,
        "unknown option",
        "Class ~ .",
        data=training,
        method=mine,
        control=ctl,
        options={"n_tress": 7},
    )
    assert msg.startswith("gbm: unknown option(s) ['n_tress']")
    assert mine.options == {}
    _fails(
        fits,
        "options must be a mapping",
        "Class ~ .",
        data=training,
        method="rf",
        options=[("n_trees", 7)],
    )
