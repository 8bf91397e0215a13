"""Tests for leanfit.metrics: caret's summaries, checked by hand and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from leanfit.metrics import (
    SUMMARIES,
    check_summary,
    maximize_default,
    metric_names,
    summarize,
)

LEVELS3 = ("a", "b", "c")
LEVELS2 = ("yes", "no")


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-normalised probabilities along the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _case(k: int, c: int = 5, n: int = 80, seed: int = 0, decimals: int | None = 1):
    """Random obs, probabilities (rounded to make ties) and argmax predictions for c candidates."""
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, k, size=n)
    signal = np.eye(k)[obs] * rng.uniform(0.0, 2.0, size=(c, 1, 1))
    prob = _softmax(signal + rng.normal(size=(c, n, k)))
    if decimals is not None:
        prob = np.round(prob, decimals)
        prob[..., -1] = 1.0 - prob[..., :-1].sum(axis=-1)
    pred = prob.argmax(axis=-1)
    return obs, pred, prob


def _ref_pr_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Loop version of MLmetrics::PRAUC: ROCR points per distinct cut-off, trapezoid rule."""
    n_pos = positive.sum()
    if n_pos in (0, len(positive)):
        return np.nan
    rec, prec = [], []
    for cut in np.sort(np.unique(scores))[::-1]:
        called = scores >= cut
        tp = np.sum(called & positive)
        rec.append(tp / n_pos)
        prec.append(tp / called.sum())
    rec, prec = np.array(rec), np.array(prec)
    return float(np.sum(np.diff(rec) * (prec[1:] + prec[:-1]) / 2))


# ----------------------------------------------------------------------------- default summary


def test_default_classification_matches_sklearn():
    obs, pred, prob = _case(3)
    out = summarize("default", obs, pred, prob, LEVELS3)
    assert list(out) == ["Accuracy", "Kappa"]
    for c in range(pred.shape[0]):
        assert out["Accuracy"][c] == pytest.approx(accuracy_score(obs, pred[c]))
        assert out["Kappa"][c] == pytest.approx(cohen_kappa_score(obs, pred[c]))


def test_kappa_by_hand_and_perfect_single_class_is_nan():
    # 2x2 table [[3, 1], [2, 4]]: p0 = 0.7, pc = (4*5 + 6*5) / 100 = 0.5, kappa = 0.4
    obs = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    pred = np.array([[0, 0, 0, 1, 0, 0, 1, 1, 1, 1]])
    out = summarize("default", obs, pred, None, LEVELS2)
    assert out["Accuracy"][0] == pytest.approx(0.7)
    assert out["Kappa"][0] == pytest.approx(0.4)
    same = np.zeros(6, dtype=int)
    out = summarize("default", same, same[None], None, LEVELS2)
    assert out["Accuracy"][0] == 1.0
    assert np.isnan(out["Kappa"][0])


def test_default_regression_by_hand():
    obs = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array(
        [
            [1.0, 2.0, 2.0, 5.0],  # errors 0, 0, -1, 1
            [2.5, 2.5, 2.5, 2.5],  # constant prediction: Rsquared NaN
            [1.0, np.nan, 3.5, 4.5],  # missing prediction dropped, as caret does
        ]
    )
    out = summarize("default", obs, pred, None, ())
    assert list(out) == ["RMSE", "Rsquared", "MAE"]
    assert out["RMSE"][0] == pytest.approx(np.sqrt(0.5))
    assert out["MAE"][0] == pytest.approx(0.5)
    assert out["Rsquared"][0] == pytest.approx(np.corrcoef(obs, pred[0])[0, 1] ** 2)
    assert out["RMSE"][1] == pytest.approx(np.sqrt(np.mean((obs - 2.5) ** 2)))
    assert np.isnan(out["Rsquared"][1])
    keep = [0, 2, 3]
    assert out["RMSE"][2] == pytest.approx(np.sqrt(np.mean([0.0, 0.25, 0.25])))
    assert out["MAE"][2] == pytest.approx(np.mean([0.0, 0.5, 0.5]))
    assert out["Rsquared"][2] == pytest.approx(np.corrcoef(obs[keep], pred[2, keep])[0, 1] ** 2)


# ------------------------------------------------------------------------- two-class summaries


def test_two_class_matches_sklearn_with_ties():
    obs, pred, prob = _case(2, decimals=1)
    assert len(np.unique(prob[0, :, 0])) < 20  # plenty of tied probabilities
    out = summarize("two_class", obs, pred, prob, LEVELS2)
    assert list(out) == ["ROC", "Sens", "Spec"]
    for c in range(pred.shape[0]):
        assert out["ROC"][c] == pytest.approx(roc_auc_score(obs == 0, prob[c, :, 0]))
        u = mannwhitneyu(prob[c, obs == 0, 0], prob[c, obs == 1, 0]).statistic  # ties count 1/2
        assert out["ROC"][c] == pytest.approx(u / ((obs == 0).sum() * (obs == 1).sum()))
        assert out["Sens"][c] == pytest.approx(recall_score(obs, pred[c], pos_label=0))
        assert out["Spec"][c] == pytest.approx(recall_score(obs, pred[c], pos_label=1))


def test_roc_is_nan_with_one_class_held_out():
    obs = np.zeros(5, dtype=int)
    prob = np.stack([np.linspace(0.1, 0.9, 5), 1 - np.linspace(0.1, 0.9, 5)], axis=-1)[None]
    out = summarize("two_class", obs, prob.argmax(-1), prob, LEVELS2)
    assert np.isnan(out["ROC"][0])
    assert np.isnan(out["Spec"][0])  # no observed level-1 rows: 0/0
    out = summarize("pr", obs, prob.argmax(-1), prob, LEVELS2)
    assert np.isnan(out["AUC"][0])


def test_pr_auc_by_hand():
    # level-0 scores 0.9, 0.8, 0.8, 0.3 with events at 0.9 and one 0.8: ROCR points
    # (recall, precision) = (.5, 1), (1, 2/3), (1, .5); trapezoid = .5 * (1 + 2/3) / 2.
    obs = np.array([0, 1, 0, 1])
    p0 = np.array([0.9, 0.8, 0.8, 0.3])
    prob = np.stack([p0, 1 - p0], axis=-1)[None]
    out = summarize("pr", obs, (p0 < 0.5).astype(int)[None], prob, LEVELS2)
    assert list(out) == ["AUC", "Precision", "Recall", "F"]
    assert out["AUC"][0] == pytest.approx(0.5 * (1 + 2 / 3) / 2)
    # predicted level 0 for the first three rows: precision 2/3, recall 1, F = 0.8
    assert out["Precision"][0] == pytest.approx(2 / 3)
    assert out["Recall"][0] == pytest.approx(1.0)
    assert out["F"][0] == pytest.approx(0.8)


def test_pr_summary_matches_loop_reference_and_sklearn():
    obs, pred, prob = _case(2, n=60, seed=3, decimals=2)
    out = summarize("pr", obs, pred, prob, LEVELS2)
    for c in range(pred.shape[0]):
        assert out["AUC"][c] == pytest.approx(_ref_pr_auc(prob[c, :, 0], obs == 0))
        assert out["Precision"][c] == pytest.approx(precision_score(obs, pred[c], pos_label=0))
        assert out["Recall"][c] == pytest.approx(recall_score(obs, pred[c], pos_label=0))
        assert out["F"][c] == pytest.approx(f1_score(obs, pred[c], pos_label=0))


def test_precision_nan_when_event_never_predicted():
    obs = np.array([0, 1, 0, 1])
    pred = np.ones((1, 4), dtype=int)
    prob = np.full((1, 4, 2), 0.5)
    out = summarize("pr", obs, pred, prob, LEVELS2)
    assert np.isnan(out["Precision"][0])
    assert out["Recall"][0] == 0.0
    assert np.isnan(out["F"][0])


# ---------------------------------------------------------------------------------- log loss


def test_log_loss_matches_sklearn_and_clips():
    obs, pred, prob = _case(3, decimals=None)
    out = summarize("log_loss", obs, pred, prob, LEVELS3)
    assert list(out) == ["logLoss"]
    for c in range(pred.shape[0]):
        assert out["logLoss"][c] == pytest.approx(log_loss(obs, prob[c], labels=[0, 1, 2]))
    hard = np.array([[[1.0, 0.0], [1.0, 0.0]]])  # second row's true class gets p = 0
    out = summarize("log_loss", np.array([0, 1]), np.array([[0, 0]]), hard, LEVELS2)
    assert out["logLoss"][0] == pytest.approx((-np.log(1 - 1e-15) - np.log(1e-15)) / 2)


# ------------------------------------------------------------------------------ multi-class


def test_multi_class_three_classes_matches_sklearn():
    obs, pred, prob = _case(3, n=90, seed=1, decimals=2)
    for c in range(pred.shape[0]):  # every class observed and predicted: no NaN by-class stats
        assert len(np.unique(pred[c])) == 3
    out = summarize("multi_class", obs, pred, prob, LEVELS3)
    assert list(out) == metric_names("multi_class", "classification", LEVELS3, True)
    assert list(out)[:5] == ["logLoss", "AUC", "prAUC", "Accuracy", "Kappa"]
    for c in range(pred.shape[0]):
        p, y = pred[c], obs
        assert out["logLoss"][c] == pytest.approx(log_loss(y, prob[c], labels=[0, 1, 2]))
        # caret averages one-vs-rest AUCs (pROC per class), i.e. sklearn's "ovr" macro.
        ovr = roc_auc_score(y, prob[c], multi_class="ovr", average="macro")
        assert out["AUC"][c] == pytest.approx(ovr)
        pr_ref = np.mean([_ref_pr_auc(prob[c, :, j], y == j) for j in range(3)])
        assert out["prAUC"][c] == pytest.approx(pr_ref)
        assert out["Accuracy"][c] == pytest.approx(accuracy_score(y, p))
        assert out["Kappa"][c] == pytest.approx(cohen_kappa_score(y, p))
        assert out["Mean_F1"][c] == pytest.approx(f1_score(y, p, average="macro"))
        assert out["Mean_Precision"][c] == pytest.approx(precision_score(y, p, average="macro"))
        assert out["Mean_Pos_Pred_Value"][c] == pytest.approx(out["Mean_Precision"][c])
        assert out["Mean_Recall"][c] == pytest.approx(recall_score(y, p, average="macro"))
        assert out["Mean_Sensitivity"][c] == pytest.approx(out["Mean_Recall"][c])
        spec = [recall_score(y != j, p != j) for j in range(3)]
        npv = [precision_score(y != j, p != j) for j in range(3)]
        assert out["Mean_Specificity"][c] == pytest.approx(np.mean(spec))
        assert out["Mean_Neg_Pred_Value"][c] == pytest.approx(np.mean(npv))
        assert out["Mean_Detection_Rate"][c] == pytest.approx(accuracy_score(y, p) / 3)
        bal = (out["Mean_Sensitivity"][c] + out["Mean_Specificity"][c]) / 2
        assert out["Mean_Balanced_Accuracy"][c] == pytest.approx(bal)


def test_multi_class_auc_is_one_vs_rest_not_hand_till():
    # Hand & Till's M (sklearn "ovo") equals the one-vs-rest mean only for balanced classes;
    # with unbalanced classes they differ, and caret reports the one-vs-rest mean.
    rng = np.random.default_rng(0)
    obs = np.repeat([0, 1, 2], [10, 20, 30])
    prob = rng.dirichlet([1.0, 1.0, 1.0], size=60)
    prob[obs == 0, 0] += 0.3
    prob /= prob.sum(axis=1, keepdims=True)
    out = summarize("multi_class", obs, prob.argmax(1)[None], prob[None], LEVELS3)
    ovo = roc_auc_score(obs, prob, multi_class="ovo", average="macro")
    ovr = roc_auc_score(obs, prob, multi_class="ovr", average="macro")
    assert abs(ovo - ovr) > 1e-3
    assert out["AUC"][0] == pytest.approx(ovr)


def test_multi_class_unpredicted_class_gives_nan_mean_like_caret():
    obs = np.array([0, 1, 2, 0, 1, 2])
    pred = np.array([[0, 1, 1, 0, 1, 0]])  # class 2 never predicted: its precision is 0/0
    out = summarize("multi_class", obs, pred, None, LEVELS3)
    assert "AUC" not in out and "logLoss" not in out and "prAUC" not in out
    assert np.isnan(out["Mean_Precision"][0])
    assert np.isnan(out["Mean_F1"][0])
    assert np.isnan(out["Mean_Pos_Pred_Value"][0])
    assert out["Mean_Recall"][0] == pytest.approx(np.mean([1.0, 1.0, 0.0]))
    assert out["Accuracy"][0] == pytest.approx(4 / 6)


def test_multi_class_one_class_held_out_has_nan_auc():
    obs = np.zeros(4, dtype=int)
    prob = np.tile([0.6, 0.3, 0.1], (1, 4, 1))
    out = summarize("multi_class", obs, np.zeros((1, 4), dtype=int), prob, LEVELS3)
    assert np.isnan(out["AUC"][0]) and np.isnan(out["prAUC"][0])
    assert out["Accuracy"][0] == 1.0 and np.isnan(out["Kappa"][0])


def test_multi_class_two_classes_uses_level0_and_no_prefix():
    obs, pred, prob = _case(2, seed=4)
    out = summarize("multi_class", obs, pred, prob, LEVELS2)
    assert list(out) == [
        "logLoss", "AUC", "prAUC", "Accuracy", "Kappa", "F1", "Sensitivity", "Specificity",
        "Pos_Pred_Value", "Neg_Pred_Value", "Precision", "Recall", "Detection_Rate",
        "Balanced_Accuracy",
    ]  # fmt: skip
    two = summarize("two_class", obs, pred, prob, LEVELS2)
    np.testing.assert_allclose(out["AUC"], two["ROC"])
    np.testing.assert_allclose(out["Sensitivity"], two["Sens"])
    np.testing.assert_allclose(out["Specificity"], two["Spec"])
    for c in range(pred.shape[0]):
        assert out["F1"][c] == pytest.approx(f1_score(obs, pred[c], pos_label=0))
        assert out["Precision"][c] == pytest.approx(precision_score(obs, pred[c], pos_label=0))


# ---------------------------------------------------------------------------- vectorisation


@pytest.mark.parametrize("summary", SUMMARIES)
def test_many_candidates_at_once_equal_one_at_a_time(summary):
    k = 2 if summary in ("two_class", "pr") else 3
    levels = LEVELS2 if k == 2 else LEVELS3
    obs, pred, prob = _case(k, c=5, seed=7)
    together = summarize(summary, obs, pred, prob, levels)
    for c in range(5):
        alone = summarize(summary, obs, pred[c : c + 1], prob[c : c + 1], levels)
        assert list(alone) == list(together)
        for name, values in alone.items():
            assert values.shape == (1,)
            np.testing.assert_allclose(values[0], together[name][c], rtol=1e-12, equal_nan=True)


def test_regression_many_candidates_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(5)
    obs = rng.normal(size=40)
    pred = obs + rng.normal(scale=[[0.1], [0.5], [1.0], [2.0], [3.0]], size=(5, 40))
    together = summarize("default", obs, pred, None, ())
    for c in range(5):
        alone = summarize("default", obs, pred[c], None, ())
        for name, values in alone.items():
            np.testing.assert_allclose(values[0], together[name][c], rtol=1e-12)


# ------------------------------------------------------------------------- custom summaries


def test_custom_summary_gets_level_names_and_probability_columns():
    obs, pred, prob = _case(3, c=3, n=12, seed=2)
    seen = []

    def fn(data: pd.DataFrame, levels: tuple[str, ...]) -> pd.Series:
        seen.append((list(data.columns), levels, data.copy()))
        hit = (data["obs"] == data["pred"]).mean()
        return pd.Series({"hit": hit, "p_a": data["a"].mean()})

    out = summarize(fn, obs, pred, prob, LEVELS3, weights=np.ones(12))
    assert list(out) == ["hit", "p_a"] and out["hit"].shape == (3,)
    assert len(seen) == 3
    columns, levels, data = seen[1]
    assert columns == ["pred", "obs", "a", "b", "c", "weights"]
    assert levels == LEVELS3
    assert list(data["obs"].astype(str)) == [LEVELS3[i] for i in obs]
    assert list(data["pred"].astype(str)) == [LEVELS3[i] for i in pred[1]]
    np.testing.assert_allclose(data["b"], prob[1, :, 1])
    np.testing.assert_allclose(out["hit"], (pred == obs).mean(axis=1))
    np.testing.assert_allclose(out["p_a"], prob[:, :, 0].mean(axis=1))


def test_custom_regression_summary_and_error_wrapping():
    obs = np.array([1.0, 2.0, 4.0])
    pred = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])

    def max_err(data, levels):
        assert levels == ()
        return {"MaxErr": float(np.max(np.abs(data["obs"] - data["pred"])))}

    np.testing.assert_allclose(summarize(max_err, obs, pred, None, ())["MaxErr"], [1.0, 4.0])

    def broken(data, levels):
        raise KeyError("nope")

    with pytest.raises(ValueError, match="broken.*failed on candidate 0.*KeyError"):
        summarize(broken, obs, pred, None, ())
    with pytest.raises(ValueError, match="dict or pandas Series"):
        summarize(lambda d, lv: [1.0], obs, pred, None, ())


# ----------------------------------------------------------------------------- metric names


def test_metric_names_for_builtins():
    cls, reg = "classification", "regression"
    assert metric_names("default", cls, LEVELS3, False) == ["Accuracy", "Kappa"]
    assert metric_names("default", reg, (), False) == ["RMSE", "Rsquared", "MAE"]
    assert metric_names("two_class", cls, LEVELS2, True) == ["ROC", "Sens", "Spec"]
    assert metric_names("pr", cls, LEVELS2, True) == ["AUC", "Precision", "Recall", "F"]
    assert metric_names("log_loss", cls, LEVELS3, True) == ["logLoss"]
    mc3 = metric_names("multi_class", cls, LEVELS3, True)
    assert mc3[:6] == ["logLoss", "AUC", "prAUC", "Accuracy", "Kappa", "Mean_F1"]
    assert mc3[-1] == "Mean_Balanced_Accuracy" and len(mc3) == 14
    mc2 = metric_names("multi_class", cls, LEVELS2, False)
    assert mc2[:3] == ["Accuracy", "Kappa", "F1"] and len(mc2) == 11
    # names agree with what summarize produces
    obs, pred, prob = _case(3, c=2)
    assert list(summarize("multi_class", obs, pred, None, LEVELS3)) == metric_names(
        "multi_class", cls, LEVELS3, False
    )


def test_metric_names_for_callables():
    def fn(data, levels):
        out = {"n": len(data)}
        if "b" in data:
            out["mean_b"] = data["b"].mean()
        return out

    assert metric_names(fn, "classification", LEVELS3, True) == ["n", "mean_b"]
    assert metric_names(fn, "classification", LEVELS3, False) == ["n"]
    reg = metric_names(lambda d, lv: {"bias": (d.pred - d.obs).mean()}, "regression", (), False)
    assert reg == ["bias"]
    ys = pd.Series([3.0, 1.0, 2.0])
    assert metric_names(fn, "regression", (), False, y_sample=ys) == ["n"]
    with pytest.raises(ValueError, match="failed"):
        metric_names(lambda d, lv: 1 / 0, "regression", (), False)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("summary", "mode", "k", "probs", "message"),
    [
        ("bogus", "classification", 2, True, "unknown summary 'bogus'.*two_class.*multi_class"),
        ("two_class", "classification", 3, True, "two_class.*exactly 2 classes, got 3"),
        ("two_class", "classification", 2, False, "two_class.*class_probs=True"),
        ("pr", "classification", 2, False, "'pr'.*class_probs=True"),
        ("pr", "classification", 4, True, "'pr'.*exactly 2 classes"),
        ("log_loss", "classification", 3, False, "log_loss.*class_probs=True"),
        ("multi_class", "regression", 0, False, "regression supports only 'default'"),
        ("two_class", "regression", 0, False, "regression supports only 'default'"),
        ("default", "survival", 0, False, "mode must be one of"),
        (42, "classification", 2, False, "summary must be one of"),
    ],
)
def test_check_summary_errors_name_the_problem(summary, mode, k, probs, message):
    with pytest.raises(ValueError, match=message):
        check_summary(summary, mode, k, probs)


def test_check_summary_accepts_valid_setups():
    check_summary("default", "regression", 0, False)
    check_summary("multi_class", "classification", 3, False)
    check_summary("two_class", "classification", 2, True)
    check_summary(lambda d, lv: {}, "regression", 0, False)


def test_summarize_validates_inputs():
    obs = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="class codes must be in 0..1"):
        summarize("default", obs, np.array([[0, 2, 1]]), None, LEVELS2)
    with pytest.raises(ValueError, match="pred must have shape"):
        summarize("default", obs, np.zeros((2, 4), dtype=int), None, LEVELS2)
    with pytest.raises(ValueError, match="prob must have shape"):
        summarize("two_class", obs, np.zeros((1, 3), dtype=int), np.zeros((1, 3, 3)), LEVELS2)
    with pytest.raises(ValueError, match="class_probs=True"):
        summarize("two_class", obs, np.zeros((1, 3), dtype=int), None, LEVELS2)


def test_maximize_default():
    for name in ("RMSE", "MAE", "logLoss", "RMSLE"):
        assert maximize_default(name) is False
    for name in ("Accuracy", "Kappa", "ROC", "Rsquared", "AUC", "prAUC", "Mean_F1", "custom"):
        assert maximize_default(name) is True
