"""Real, messy data end to end through train(): missing values, factor columns, an ID column,
regression, a tiny class among six, and many classes — at sizes that keep the suite quick."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanfit as lf


def test_breastcancer_imputes_inside_resamples_and_excludes_the_id():
    bc = lf.datasets.load("breastcancer")
    assert bc["Bare.nuclei"].isna().sum() == 16
    ctl = lf.Control(
        method="cv", number=5, class_probs=True, summary="two_class", save_predictions="final"
    )
    with pytest.raises(ValueError, match="Bare.nuclei.*median_impute"):
        lf.train("Class ~ . - Id", data=bc, method="glmnet", control=ctl, metric="ROC")
    res = lf.train(
        "Class ~ . - Id",
        data=bc,
        method="glmnet",
        control=ctl,
        metric="ROC",
        preprocess=["median_impute"],
        tune_length=2,
        seed=1,
    )
    assert "Id" not in res.dataset.encoder.columns
    assert len(res.dataset.encoder.feature_names) == 9
    best = res.results.iloc[res.best_index]
    assert best["ROC"] > 0.98 and best["Sens"] > 0.93 and best["Spec"] > 0.9
    # the held-out rows with a missing Bare.nuclei were predicted too (imputed, not dropped)
    missing_rows = np.flatnonzero(bc["Bare.nuclei"].isna().to_numpy())
    assert set(missing_rows) <= set(res.predictions["rowIndex"])
    # the imputation median comes from each resample's training rows: the final one from all
    pp = res.final_preprocess
    j = list(pp.columns_).index("Bare.nuclei")
    assert pp.median_[j] == np.nanmedian(bc["Bare.nuclei"])
    # knn imputation works the same way; gbm takes the missing values itself
    knn = lf.train(
        "Class ~ . - Id",
        data=bc,
        method="glmnet",
        control=ctl,
        metric="ROC",
        preprocess=["knn_impute"],
        tune_length=2,
        seed=1,
    )
    assert knn.results["ROC"].max() > 0.98
    gbm = lf.train(
        "Class ~ . - Id",
        data=bc,
        method="gbm",
        control=ctl,
        metric="ROC",
        seed=1,
        grid=lf.expand_grid(
            interaction_depth=[2], n_trees=[50, 100], shrinkage=0.1, n_minobsinnode=10
        ),
    )
    assert gbm.results["ROC"].max() > 0.98


def test_bostonhousing_regression_with_a_factor_column():
    bh = lf.datasets.load("bostonhousing")
    ctl = lf.Control(method="cv", number=5)
    res = lf.train(
        "medv ~ .",
        data=bh,
        method="gbm",
        control=ctl,
        seed=2,
        grid=lf.expand_grid(
            interaction_depth=[3], n_trees=[100, 300], shrinkage=0.1, n_minobsinnode=10
        ),
    )
    assert res.metric == "RMSE" and res.maximize is False
    assert "chas1" in res.dataset.encoder.feature_names  # the factor, dummy-encoded like R
    best = res.results.iloc[res.best_index]
    assert best["RMSE"] < 4.0 and best["Rsquared"] > 0.8 and best["MAE"] < 2.7
    lm = lf.train("medv ~ .", data=bh, method="lm", control=ctl, seed=2)
    assert 4.3 < lm.results["RMSE"].iloc[0] < 5.5  # linear model: the well-known ~4.8
    assert best["RMSE"] < lm.results["RMSE"].iloc[0]  # boosting beats it
    pred = res.predict(bh.head(5))
    assert pred.dtype == float and len(pred) == 5


def test_glass_six_classes_one_tiny_multiclass_summary():
    glass = lf.datasets.load("glass")
    counts = glass["Type"].value_counts()
    assert counts.min() == 9 and len(counts) == 6
    ctl = lf.Control(method="cv", number=5, class_probs=True, summary="multi_class")
    res = lf.train("Type ~ .", data=glass, method="lda", control=ctl, seed=3)
    names = set(res.metric_names)
    assert {"Accuracy", "Kappa", "logLoss", "AUC", "Mean_F1", "Mean_Sensitivity"} <= names
    acc = res.results["Accuracy"].iloc[0]
    assert 0.55 < acc < 0.75  # LDA on Glass: ~0.63 in the literature
    rf = lf.train("Type ~ .", data=glass, method="rf", control=ctl, seed=3, tune_length=1)
    assert rf.results["Accuracy"].max() > 0.72  # forests: ~0.78 on Glass
    assert rf.results["Accuracy"].max() > acc
    # every class, the tiny one included, appears in the probability columns
    proba = rf.predict_proba(glass.head(3))
    assert list(proba.columns) == list(res.dataset.levels) and len(proba.columns) == 6
    # caret's default 10 folds: class '6' (9 rows) is missing from one fold's held-out rows
    with pytest.warns(UserWarning, match=r"\('6', 9\)\] have fewer rows than the 10 folds"):
        ten = lf.train("Type ~ .", data=glass, method="lda", control=lf.Control(method="cv"))
    assert 0.55 < ten.results["Accuracy"].iloc[0] < 0.75


def test_letter_many_classes_tuned_lightgbm_on_a_subsample():
    letter = lf.datasets.load("letter")
    assert letter.shape == (20000, 17) and letter["lettr"].nunique() == 26
    sub = letter.iloc[lf.partition(letter["lettr"], p=0.1, seed=4)]
    ctl = lf.Control(method="cv", number=3, n_jobs=2)
    grid = {
        "num_leaves": [15],
        "learning_rate": [0.1],
        "n_estimators": [50, 100],
        "min_child_samples": [10],
        "feature_fraction": [1.0],
        "bagging_fraction": [1.0],
        "lambda_l1": [0.0],
        "lambda_l2": [0.0],
    }
    plan_res = lf.train("lettr ~ .", data=sub, method="lightgbm", control=ctl, grid=grid, seed=4)
    assert len(plan_res.candidates) == 2
    assert plan_res.results["Accuracy"].max() > 0.75  # 2 000 rows, 26 classes
    assert plan_res.predict_proba(sub.head(2)).shape == (2, 26)


def test_messy_data_configs_are_valid():
    """The example configs plan without error (every check runs before any fit)."""
    from pathlib import Path

    from leanfit.experiment import load_experiment

    root = Path(__file__).resolve().parent.parent / "examples"
    for name in ("breastcancer", "bostonhousing", "glass", "letter", "sonar"):
        exp = load_experiment(root / f"{name}.yaml", verbose=False)
        assert exp.fits and all("plan" in f for f in exp.fits.values())
        assert isinstance(exp.training, pd.DataFrame)


def test_a_column_constant_after_a_split_is_named_and_zv_handles_it():
    d = lf.datasets.load("sonar").iloc[:, [0, 1, 2, 60]].copy()
    d["spike"] = 0.0
    d.loc[d.index[3], "spike"] = 1.0  # constant in the one training set that lacks row 3
    ctl = lf.Control(method="cv", number=5)
    with pytest.warns(UserWarning, match=r"constant in the training rows.*'spike' \(1 of 5\)"):
        lf.train("Class ~ .", data=d, method="lda", control=ctl, seed=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning once zv runs inside each resample
        res = lf.train("Class ~ .", data=d, method="lda", control=ctl, seed=1, preprocess=["zv"])
    assert "spike" not in res.final_preprocess.removed_  # varies on all rows: kept at the end
    assert res.results["Accuracy"].notna().all()


def test_unseen_category_at_prediction_time_is_a_clear_error():
    bh = lf.datasets.load("bostonhousing")
    res = lf.train("medv ~ .", data=bh, method="lm", control=lf.Control(method="cv", number=3))
    new = bh.head(2).copy()
    new["chas"] = pd.Categorical(["2", "0"])
    with pytest.raises(
        ValueError,
        match=r"column 'chas' has level\(s\) \['2'\] not seen in "
        r"training \(known: \['0', '1'\]\)",
    ):
        res.predict(new)
    with pytest.raises(ValueError, match=r"lacks the predictor column\(s\) \['rm'\]"):
        res.predict(bh.drop(columns="rm").head(2))
