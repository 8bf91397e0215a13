"""scikit-learn both ways: estimator instances as train() methods (scored as sklearn scores them
on the same folds), and LeanfitClassifier/LeanfitRegressor as scikit-learn estimators."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import leanfit as lf
from leanfit.estimator import LeanfitClassifier, LeanfitRegressor


@pytest.fixture(scope="module")
def sonar():
    df = lf.datasets.load("sonar")
    X = df.drop(columns="Class").to_numpy()
    y = (df["Class"] == "R").astype(int).to_numpy()  # leanfit's codes: M=0, R=1
    return df, X, y


@pytest.fixture(scope="module")
def boston():
    df = lf.datasets.load("bostonhousing").drop(columns="chas")
    return df, df.drop(columns="medv").to_numpy(), df["medv"].to_numpy()


def _folds(res):
    return list(zip(res.resamples.train, res.resamples.test, strict=True))


CV4 = lf.Control(method="cv", number=4, seed=11)


# -- estimators as methods ---------------------------------------------------------------------


def test_pipeline_accuracy_matches_cross_val_score(sonar):
    df, X, y = sonar
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    Cs = [0.01, 0.1, 1.0]
    res = lf.train(df, "Class", method=pipe, grid={"logisticregression__C": Cs}, control=CV4)
    assert list(res.results["logisticregression__C"]) == Cs
    folds = _folds(res)
    for C, acc in zip(Cs, res.results["Accuracy"], strict=True):
        est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=C))
        assert acc == pytest.approx(cross_val_score(est, X, y, cv=folds).mean(), abs=1e-12)
    best = Cs[
        int(
            np.argmax(
                [
                    cross_val_score(
                        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=C)),
                        X,
                        y,
                        cv=folds,
                    ).mean()
                    for C in Cs
                ]
            )
        )
    ]
    assert res.best_params == {"logisticregression__C": best}
    assert not hasattr(pipe[-1], "coef_")  # the template stays unfitted: every fit is a clone


def test_regression_rmse_and_roc_match_sklearn(sonar, boston):
    df, X, y = boston
    res = lf.train(df, "medv", method=Ridge(), grid={"alpha": [0.1, 10.0]}, control=CV4)
    folds = _folds(res)
    for a, rmse in zip(res.results["alpha"], res.results["RMSE"], strict=True):
        mse = -cross_val_score(Ridge(alpha=a), X, y, cv=folds, scoring="neg_mean_squared_error")
        assert rmse == pytest.approx(np.sqrt(mse).mean(), rel=1e-10)
    # class probabilities: ROC is symmetric in which class is the event
    sdf, sX, sy = sonar
    ctl = lf.Control(method="cv", number=4, seed=3, class_probs=True, summary="two_class")
    r2 = lf.train(sdf, "Class", method=LogisticRegression(max_iter=1000), control=ctl, metric="ROC")
    auc = cross_val_score(
        LogisticRegression(max_iter=1000), sX, sy, cv=_folds(r2), scoring="roc_auc"
    )
    assert r2.results["ROC"].iloc[0] == pytest.approx(auc.mean(), abs=1e-12)
    proba = r2.predict_proba(sdf.head(7)).to_numpy()
    ref = LogisticRegression(max_iter=1000).fit(sX, sy).predict_proba(sX[:7])
    np.testing.assert_allclose(proba, ref, atol=1e-10)


def test_formula_no_grid_weights_and_workers(sonar):
    df, X, y = sonar
    est = LogisticRegression(max_iter=1000)
    ctl = lf.Control(method="cv", number=3, seed=5)
    a = lf.train("Class ~ .", data=df, method=est, control=ctl)
    assert len(a.candidates) == 1  # no grid: the instance as it is
    b = lf.train(df, "Class", method=est, control=ctl)
    assert a.results["Accuracy"].iloc[0] == pytest.approx(b.results["Accuracy"].iloc[0])
    # observation weights reach the estimator's sample_weight
    w = np.linspace(0.5, 2.0, len(y))
    c = lf.train(df, "Class", method=est, control=lf.Control(method="none"), weights=w)
    ref = LogisticRegression(max_iter=1000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(c.final_model["estimator"].coef_, ref.coef_, rtol=1e-6)
    # the estimator travels to worker processes: same numbers as in-process
    grid = {"n_neighbors": [3, 7]}
    one = lf.train(df, "Class", method=KNeighborsClassifier(), grid=grid, control=ctl)
    par = lf.train(
        df,
        "Class",
        method=KNeighborsClassifier(),
        grid=grid,
        control=lf.Control(method="cv", number=3, seed=5, n_jobs=2, executor="processes"),
    )
    pd.testing.assert_frame_equal(one.results, par.results)


def test_grid_of_pipeline_steps(sonar):
    df, X, y = sonar
    steps = [LogisticRegression(C=0.1, max_iter=500), KNeighborsClassifier(3)]
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    res = lf.train(
        df,
        "Class",
        method=pipe,
        grid={"logisticregression": steps},
        control=lf.Control(method="cv", number=3, seed=4),
    )
    for step, acc in zip(steps, res.results["Accuracy"], strict=True):
        ref = cross_val_score(make_pipeline(StandardScaler(), step), X, y, cv=_folds(res))
        assert acc == pytest.approx(ref.mean(), abs=1e-12)
    # the grid's own objects are copied for each fit, never set or fitted
    assert steps[0].get_params()["random_state"] is None and not hasattr(steps[0], "coef_")
    assert not hasattr(steps[1], "n_samples_fit_")


class _FailsIfFitted(ClassifierMixin, BaseEstimator):
    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        raise AssertionError("fitted")


def test_bad_methods_and_grids_fail_before_any_fit(sonar):
    df, _, _ = sonar
    with pytest.raises(ValueError, match=r"\['C'\].*'logisticregression__C'.*get_params"):
        lf.train(
            df,
            "Class",
            method=make_pipeline(StandardScaler(), LogisticRegression()),
            grid={"C": [1.0]},
        )
    with pytest.raises(ValueError, match=r"\['cc'\].*_FailsIfFitted.*\['c'\]"):
        lf.train(df, "Class", method=_FailsIfFitted(), grid={"cc": [1, 2]})
    with pytest.raises(ValueError, match="does not do regression"):
        lf.train(
            df.assign(Class=np.arange(len(df), dtype=float)), "Class", method=LogisticRegression()
        )
    with pytest.raises(ValueError, match="neither a classifier nor a regressor"):
        lf.train(df, "Class", method=KMeans())
    with pytest.raises(TypeError, match="scikit-learn estimator instance"):
        lf.train(df, "Class", method=object())
    with pytest.raises(ValueError, match="weights are all zero"):
        lf.train(df, "Class", method=LogisticRegression(), weights=np.zeros(len(df)))


def test_store_keeps_trusted_estimators_only(sonar, tmp_path):
    from leanfit.store.artifacts import load_model

    df, X, _ = sonar
    store = lf.Store.open(f"sqlite:///{tmp_path / 's.db'}")
    ctl = lf.Control(method="cv", number=3, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trusted estimator is stored without a warning
        res = lf.train(
            df,
            "Class",
            method=LogisticRegression(C=0.5, max_iter=500),
            control=ctl,
            store=store,
            fit="lr",
        )
    run = res.store_run["run_id"]
    fmt = store.run(run)["artifacts"]["final_model"]
    back = load_model(
        fmt if isinstance(fmt, str) else fmt["fmt"], store.load_artifact(run, "final_model")
    )
    np.testing.assert_array_equal(back["estimator"].coef_, res.final_model["estimator"].coef_)
    with pytest.warns(UserWarning, match=r"sklearn\.neighbors\._classification\.KNeighbors"):
        knn = lf.train(
            df, "Class", method=KNeighborsClassifier(), control=ctl, store=store, fit="knn"
        )
    assert "final_model" not in store.run(knn.store_run["run_id"])["artifacts"]
    assert "not stored" in knn.store_run["notes"][0]


# -- leanfit as scikit-learn estimators --------------------------------------------------------

CV3 = lf.Control(method="cv", number=3)


@parametrize_with_checks(
    [LeanfitClassifier("glm", control=CV3, seed=1), LeanfitRegressor("lm", control=CV3, seed=1)]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant columns in tiny check data
        check(estimator)


def test_estimators_in_a_pipeline(sonar, boston):
    df, X, y = boston
    pipe = make_pipeline(StandardScaler(), LeanfitRegressor("lm", control=CV3, seed=1))
    pred = pipe.fit(X, y).predict(X[:5])
    np.testing.assert_allclose(pred, LinearRegression().fit(X, y).predict(X[:5]), rtol=1e-8)
    sdf, sX, sy = sonar
    sX = sX[:, :6]  # few columns: the unpenalised fit is well defined, whatever the solver
    labels = np.where(sy == 1, "rock", "metal")
    folds = list(KFold(3, shuffle=True, random_state=0).split(sX))
    clf = make_pipeline(StandardScaler(), LeanfitClassifier("glm", control=CV3, seed=1))
    ours = cross_val_score(clf, sX, labels, cv=folds)
    ref = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, max_iter=5000)),
        sX,
        labels,
        cv=folds,
    )
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    clf.fit(sX, labels)
    assert list(clf.classes_) == ["metal", "rock"]
    ref_fit = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf)).fit(sX, labels)
    np.testing.assert_allclose(clf.predict_proba(sX), ref_fit.predict_proba(sX), atol=2e-3)
    assert accuracy_score(labels, clf.predict(sX)) == accuracy_score(labels, ref_fit.predict(sX))
    lfc = clf[-1]
    assert lfc.n_features_in_ == 6 and lfc.result_.method == "glm"
    assert lfc.get_params()["method"] == "glm"
