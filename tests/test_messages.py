"""What leanfit says when asked for the wrong thing: missing values at prediction time (refused,
imputed with a warning, or passed to a model that takes them), metric names (any case, and how
to get one the summary does not produce), and progress reports that keep logs readable."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.metrics import metric_hint
from leanfit.progress import Progress
from leanfit.tuning.train import plan_train

NONE = lf.Control(method="none")


@pytest.fixture(scope="module")
def numbers() -> pd.DataFrame:
    """60 rows: numeric a, b, c, a factor g, a numeric outcome y and a two-class outcome k."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    df["g"] = pd.Categorical(rng.choice(["p", "q", "r"], size=60))
    df["y"] = 2 * df.a + df.b - df.c + (df.g == "q") + rng.normal(scale=0.1, size=60)
    df["k"] = np.where(df.a + rng.normal(size=60) > 0, "yes", "no")
    return df


def _holed(df: pd.DataFrame) -> pd.DataFrame:
    """Four new rows; row 1 lacks a, row 2 lacks c (rows 0 and 3 are complete)."""
    new = df[["a", "b", "c", "g"]].iloc[:4].copy()
    new.iloc[1, 0] = np.nan
    new.iloc[2, 2] = np.nan
    return new


# -- missing values at prediction time ---------------------------------------------------------


def test_predict_refuses_missing_values_the_model_cannot_take(numbers):
    res = lf.train(numbers[["a", "b", "c", "g", "y"]], "y", method="lm", control=NONE)
    new = _holed(numbers)
    with pytest.raises(ValueError) as e:
        res.predict(new)
    msg = str(e.value)
    assert "2 of 4 new row(s)" in msg and "['a', 'c']" in msg and "'lm'" in msg
    assert "median_impute" in msg and "impute" in msg.split("cannot take them")[1]
    # a missing factor value is named by the user's column, not a dummy column
    new_g = numbers[["a", "b", "c", "g"]].iloc[:3].copy()
    new_g["g"] = new_g["g"].astype(object)
    new_g.iloc[0, 3] = None
    with pytest.raises(ValueError, match=r"1 of 3 new row\(s\) .* column\(s\) \['g'\]"):
        res.predict(new_g)
    # complete rows still predict, equal to least squares on the dummy-coded matrix
    X = pd.get_dummies(numbers[["a", "b", "c", "g"]], columns=["g"], drop_first=True, dtype=float)
    A = np.column_stack([np.ones(len(X)), X.to_numpy()])
    beta = np.linalg.lstsq(A, numbers["y"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(res.predict(new.iloc[[0, 3]]).to_numpy(), A[[0, 3]] @ beta)


def test_predict_proba_refuses_too(numbers):
    res = lf.train(numbers[["a", "b", "c", "k"]], "k", method="lda", control=NONE)
    with pytest.raises(ValueError, match=r"2 of 4 new row\(s\).*\['a', 'c'\].*'lda'"):
        res.predict_proba(_holed(numbers)[["a", "b", "c"]])


def test_predict_imputes_with_the_fits_imputer_and_warns(numbers):
    data = numbers[["a", "b", "c", "y"]]
    res = lf.train(data, "y", method="lm", control=NONE, preprocess=["median_impute"])
    new = _holed(numbers)[["a", "b", "c"]]
    with pytest.warns(lf.ImputedWarning) as record:
        pred = res.predict(new)
    assert len(record) == 1
    msg = str(record[0].message)
    assert "2 of 4 new row(s)" in msg and "['a', 'c']" in msg and "median_impute" in msg
    # the imputed prediction is the prediction of the rows filled by hand with training medians
    by_hand = new.fillna(data[["a", "b", "c"]].median())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complete rows: no warning
        expected = res.predict(by_hand)
    np.testing.assert_allclose(pred.to_numpy(), expected.to_numpy())
    A = np.column_stack([np.ones(len(data)), data[["a", "b", "c"]].to_numpy()])
    beta = np.linalg.lstsq(A, data["y"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(pred.to_numpy(), np.column_stack([np.ones(4), by_hand]) @ beta)


def test_a_column_the_preprocessing_drops_may_be_missing(numbers):
    data = numbers[["a", "b", "y"]].assign(z=1.0)  # zero variance: zv drops it
    res = lf.train(data, "y", method="lm", control=NONE, preprocess=["zv"])
    new = data.drop(columns="y").iloc[:3].copy()
    new["z"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = res.predict(new)
    np.testing.assert_allclose(pred.to_numpy(), res.predict(new.fillna(1.0)).to_numpy())


def test_a_model_that_takes_missing_values_gets_them(numbers):
    data = numbers[["a", "b", "c", "y"]]
    grid = {"mtry": [2]}
    res = lf.train(data, "y", method="rf", grid=grid, control=NONE, seed=3)
    assert res.model.takes_missing
    new = _holed(numbers)[["a", "b", "c"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither refused nor imputed
        pred = res.predict(new)
    # what scikit-learn's forest itself predicts for the rows with NaN
    expected = res.final_model.est.predict(new.to_numpy(dtype=float))
    np.testing.assert_allclose(pred.to_numpy(), expected)


def test_a_distilled_student_refuses_missing_values(numbers):
    pytest.importorskip("torch")
    data = numbers[["a", "b", "c", "y"]]
    grid = {"n_estimators": [20], "num_leaves": [4], "min_child_samples": [5]}
    teacher = lf.train(data, "y", method="lightgbm", grid=grid, control=NONE, seed=2)
    d = lf.distill(teacher, student="tree", multiple=1, latency=False, num_threads=1, seed=1)
    new = _holed(numbers)[["a", "b", "c"]]
    with pytest.raises(ValueError, match=r"2 of 4 new row\(s\).*\['a', 'c'\].*tree student"):
        d.predict(new)
    assert len(d.predict(new.iloc[[0, 3]])) == 2


# -- metric names ------------------------------------------------------------------------------


def test_metric_names_match_ignoring_case(numbers):
    cv = lf.Control(method="cv", number=3, seed=1)
    res = lf.train(numbers[["a", "b", "y"]], "y", method="lm", control=cv, metric="rmse")
    assert res.metric == "RMSE" and res.maximize is False  # lower RMSE is better
    plan = plan_train(numbers[["a", "b", "k"]], "k", method="lda", control=cv, metric="kappa")
    assert plan.metric == "Kappa" and plan.maximize is True
    two = lf.Control(method="cv", number=3, class_probs=True, summary="two_class")
    assert (
        plan_train(numbers[["a", "b", "k"]], "k", method="lda", control=two, metric="roc").metric
        == "ROC"
    )
    res2 = lf.train(numbers[["a", "b", "k"]], "k", method="lda", control=cv)
    assert res2.update(metric="kappa").metric == "Kappa"
    with pytest.raises(ValueError, match=r"'roc' is not in the results.*'ROC' needs Control"):
        res2.update(metric="roc")


def test_case_twins_in_a_custom_summary_must_be_spelled_exactly(numbers):
    def twins(data, levels):
        return {"auc": 0.5, "AUC": 0.6}

    cv = lf.Control(method="cv", number=3, summary=twins)
    plan = plan_train(numbers[["a", "b", "k"]], "k", method="lda", control=cv, metric="AUC")
    assert plan.metric == "AUC"
    with pytest.raises(ValueError, match=r"'Auc' matches \['auc', 'AUC'\] ignoring case"):
        plan_train(numbers[["a", "b", "k"]], "k", method="lda", control=cv, metric="Auc")


_CONTROL = re.compile(r"Control\((?:class_probs=True, )?summary='(\w+)'\)")


@pytest.mark.parametrize(
    ("outcome", "classes", "metric", "hint"),
    [
        ("k", 2, "roc", "'ROC' needs Control(class_probs=True, summary='two_class')"),
        ("k", 2, "LOGLOSS", "'logLoss' needs Control(class_probs=True, summary='log_loss') or"),
        ("k", 2, "Precision", "'Precision' needs Control(class_probs=True, summary='pr') or"),
        (
            "k",
            2,
            "Mean_F1",
            "'Mean_F1' needs more than 2 classes (this outcome has 2); here "
            "summary='multi_class' gives 'F1'",
        ),
        ("k", 2, "RMSE", "'RMSE' is a regression metric and this outcome is a class (2 levels)"),
        (
            "k3",
            3,
            "ROC",
            "'ROC' needs exactly 2 classes (this outcome has 3); here "
            "summary='multi_class' gives 'AUC'",
        ),
        ("k3", 3, "Sens", "here summary='multi_class' gives 'Mean_Sensitivity'"),
        ("y", 0, "Accuracy", "'Accuracy' is a classification metric and this outcome is numeric"),
        ("y", 0, "RMSEE", "did you mean 'RMSE'?"),
    ],
)
def test_an_unproduced_metric_says_how_to_get_it(numbers, outcome, classes, metric, hint):
    data = numbers.assign(k3=np.array(["u", "v", "w"] * 20))[["a", "b", outcome]]
    cv = lf.Control(method="cv", number=3)
    with pytest.raises(ValueError) as e:
        plan_train(data, outcome, method="lda" if classes else "lm", control=cv, metric=metric)
    msg = str(e.value)
    assert msg.startswith(f"metric {metric!r} is not produced by summary 'default'; it produces")
    assert hint in msg
    # every Control the hint names does produce the metric
    for summary in _CONTROL.findall(msg):
        ctl = lf.Control(method="cv", number=3, class_probs=True, summary=summary)
        plan = plan_train(data, outcome, method="lda", control=ctl, metric=metric)
        assert plan.metric.lower() == metric.lower()


def test_metric_hint_for_a_metric_the_current_summary_lacks_without_probabilities():
    assert metric_hint("AUC", "classification", 3) == (
        "'AUC' needs Control(class_probs=True, summary='multi_class')"
    )
    assert metric_hint("Accuracy", "classification", 2) == (
        "'Accuracy' needs Control(summary='default') or Control(summary='multi_class')"
    )
    assert metric_hint("nonsense", "regression", 0) == ""


# -- progress reports --------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_is_plain_lines(capsys):
    with Progress(20, "fits", "fit") as bar:  # stderr is captured: not a terminal
        for _ in range(20):
            bar.update(1)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines == [f"fits: {2 * i}/20 fit ({10 * i}%)" for i in range(1, 11)]


def test_progress_lines_carry_the_postfix_and_skip_nothing_at_the_end(capsys):
    with Progress(3, "epochs", "epoch", initial=1) as bar:
        bar.set_postfix(loss="0.5")
        bar.update(1)
        bar.update(1)
    assert capsys.readouterr().err.splitlines() == [
        "epochs: 2/3 epoch (66%) loss=0.5",
        "epochs: 3/3 epoch (100%) loss=0.5",
    ]


def test_progress_on_a_terminal_is_a_bar():
    out = _Terminal()
    with Progress(20, "fits", "fit", file=out) as bar:
        for _ in range(20):
            bar.update(1)
    text = out.getvalue()
    assert "\r" in text and "20/20" in text and "fits" in text


def test_disabled_progress_writes_nothing(capsys):
    with Progress(5, "fits", "fit", enabled=False) as bar:
        for _ in range(5):
            bar.update(1)
    assert capsys.readouterr().err == ""


def test_verbose_train_into_a_log_has_no_carriage_returns(numbers, capsys):
    cv = lf.Control(method="cv", number=5, verbose=True, seed=1)
    lf.train(numbers[["a", "b", "y"]], "y", method="lm", control=cv)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1].endswith("5/5 fit (100%)")
