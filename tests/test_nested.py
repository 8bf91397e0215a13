"""Nested resampling (lf.nested): outer scores against a refit by hand with scikit-learn on the
same outer rows, the inner estimate against train() on those rows, the spread table, the plot
and refused settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import leanfit as lf


@pytest.fixture(scope="module")
def sonar() -> pd.DataFrame:
    return lf.datasets.load("sonar")


@pytest.fixture(scope="module")
def result(sonar):
    return lf.nested(
        "Class ~ .",
        data=sonar,
        method=LogisticRegression(max_iter=5000),
        grid={"C": [0.001, 0.1, 10.0]},
        metric="ROC",
        control=lf.Control(method="cv", number=3, class_probs=True, summary="two_class"),
        outer=lf.Control(method="cv", number=3),
        seed=5,
    )


def test_outer_scores_equal_a_refit_by_hand_on_the_same_rows(sonar, result):
    X = sonar.drop(columns="Class").to_numpy(dtype=float)
    y = sonar["Class"].to_numpy()
    folds = result.folds
    assert len(folds) == 3 and list(folds["Resample"]) == list(result.resamples.names)
    covered = []
    for k, (_, tr, te) in enumerate(result.resamples):
        covered.extend(te.tolist())
        assert len(set(tr) & set(te)) == 0
        C = folds["C"].iloc[k]
        m = LogisticRegression(C=C, max_iter=5000).fit(X[tr], y[tr])
        p_m = m.predict_proba(X[te])[:, list(m.classes_).index("M")]
        auc = roc_auc_score(y[te] == "M", p_m)
        assert folds["outer"].iloc[k] == pytest.approx(auc, abs=1e-6)
        assert folds["outer_ROC"].iloc[k] == folds["outer"].iloc[k]
        sens = np.mean(m.predict(X[te])[y[te] == "M"] == "M")  # caret: Sens of the first level
        assert folds["outer_Sens"].iloc[k] == pytest.approx(sens, abs=1e-9)
        assert (folds["n_train"].iloc[k], folds["n_test"].iloc[k]) == (len(tr), len(te))
    assert sorted(covered) == list(range(len(sonar)))  # outer CV: every row held out once


def test_inner_estimate_and_choice_equal_train_on_the_outer_rows(sonar, result):
    _, tr, _ = next(iter(result.resamples))
    alone = lf.train(
        "Class ~ .",
        data=sonar.iloc[tr],
        method=LogisticRegression(max_iter=5000),
        grid={"C": [0.001, 0.1, 10.0]},
        metric="ROC",
        control=lf.Control(method="cv", number=3, class_probs=True, summary="two_class"),
        seed=5,
    )
    assert result.folds["C"].iloc[0] == alone.best_params["C"]
    assert result.folds["inner"].iloc[0] == pytest.approx(
        alone.results["ROC"].iloc[alone.best_index], rel=1e-12
    )


def test_summary_spread_repr_and_plot(result):
    folds = result.folds
    mean, sd = result.outer
    assert mean == pytest.approx(folds["outer"].mean()) and sd == pytest.approx(
        folds["outer"].std(ddof=1)
    )
    assert result.inner[0] == pytest.approx(folds["inner"].mean())
    counts = result.chosen.set_index("C")["count"]
    by_hand = pd.Series(folds["C"]).value_counts()
    assert counts.sort_index().to_dict() == by_hand.sort_index().to_dict()
    assert counts.sum() == 3
    text = repr(result)
    assert f"{mean:.4f}" in text and "Chosen parameters" in text and "optimism" in text
    pytest.importorskip("matplotlib")
    fig = result.plot()
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 3
    outer_pts = [c for c in ax.collections if c.get_label() == "outer (held-out)"][0]
    np.testing.assert_allclose(
        np.sort(np.asarray(outer_pts.get_offsets())[:, 0]), np.sort(folds["outer"])
    )


@pytest.mark.parametrize(
    ("outer", "message"),
    [
        (lf.Control(method="boot632"), "method='boot632'"),
        (lf.Control(method="loocv"), "method='loocv'"),
        (lf.Control(method="adaptive_cv", number=10), "method='adaptive_cv'"),
        ("cv", "must be a leanfit Control"),
        (lf.Control(method="group_cv", number=3), "needs groups="),
    ],
)
def test_bad_outer_control_is_refused_before_any_fit(sonar, outer, message, fits):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        lf.nested("Class ~ .", data=sonar, method="lda", outer=outer, seed=1)
    assert fits == []
