"""lf.ensemble: every combiner recomputed by hand from the members' public held-out predictions
(TrainResult.predictions), the honest estimate as a hand-written inner CV, and the refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import leanfit as lf

SEED = 3


def _ctl(**kw) -> lf.Control:
    return lf.Control(method="cv", number=5, save_predictions="final", seed=SEED, **kw)


@pytest.fixture(scope="module")
def sonar() -> pd.DataFrame:
    return lf.datasets.load("sonar")


@pytest.fixture(scope="module")
def binary(sonar) -> dict:
    ctl = _ctl(class_probs=True)
    return {
        "lda": lf.train(sonar, "Class", method="lda", control=ctl),
        "knn": lf.train(sonar, "Class", method="knn", control=ctl, grid={"k": [5]}),
        "rpart": lf.train(sonar, "Class", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }


@pytest.fixture(scope="module")
def boston() -> tuple[pd.DataFrame, dict]:
    df = lf.datasets.load("bostonhousing")
    ctl = _ctl()
    fits = {
        "lm": lf.train(df, "medv", method="lm", control=ctl),
        "knn": lf.train(df, "medv", method="knn", control=ctl, grid={"k": [7]}),
        "rpart": lf.train(df, "medv", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }
    return df, fits


@pytest.fixture(scope="module")
def glass() -> tuple[pd.DataFrame, dict]:
    df = lf.datasets.load("glass")
    ctl = _ctl(class_probs=True)
    fits = {
        "knn": lf.train(df, "Type", method="knn", control=ctl, grid={"k": [5]}),
        "rpart": lf.train(df, "Type", method="rpart", control=ctl, grid={"cp": [0.01]}),
    }
    return df, fits


# -- by hand ----------------------------------------------------------------------------------
def _matrix(fit) -> tuple[np.ndarray, np.ndarray]:
    """(rows x classes) held-out probabilities (or (rows,) values) and the observed target,
    from the public predictions table, averaged per row."""
    pr = fit.predictions
    levels = list(fit.dataset.levels)
    if levels:
        g = pr.groupby("rowIndex")[levels].mean().sort_index()
        obs = pr.groupby("rowIndex")["obs"].first().sort_index()
        return g.to_numpy(), pd.Categorical(obs, categories=levels).codes.astype(int)
    g = pr.groupby("rowIndex")[["pred", "obs"]].mean().sort_index()
    return g["pred"].to_numpy(), g["obs"].to_numpy()


def _stack(fits: dict) -> tuple[np.ndarray, np.ndarray]:
    mats = [_matrix(f) for f in fits.values()]
    return np.stack([m[0] for m in mats]), mats[0][1]


def _loss(q: np.ndarray, y: np.ndarray) -> float:
    """Brier score (classification) or RMSE (regression), written out plainly."""
    if q.ndim == 1:
        return float(np.sqrt(np.mean((q - y) ** 2)))
    total = 0.0
    for i in range(len(y)):
        for c in range(q.shape[1]):
            total += (q[i, c] - (1.0 if y[i] == c else 0.0)) ** 2
    return total / len(y)


def _caruana(P: np.ndarray, y: np.ndarray, iterations: int) -> np.ndarray:
    """Caruana by hand: best single member, then add the best member each step."""
    chosen: list[int] = []
    for _ in range(iterations + 1):
        scores = [_loss(np.mean(P[[*chosen, j]], axis=0), y) for j in range(len(P))]
        chosen.append(int(np.argmin(scores)))
    return np.bincount(chosen, minlength=len(P)) / len(chosen)


# -- Caruana ----------------------------------------------------------------------------------
def test_caruana_on_a_tiny_table_by_hand():
    from leanfit.fusion.combine import caruana_counts

    y = np.array([0, 1, 1, 0, 1])
    p1 = np.array([0.9, 0.2, 0.6, 0.4, 0.3])  # P(class 0) of three members
    p2 = np.array([0.6, 0.5, 0.1, 0.7, 0.45])
    p3 = np.array([0.2, 0.1, 0.3, 0.35, 0.6])
    P = np.stack([np.column_stack([p, 1 - p]) for p in (p1, p2, p3)])
    # Brier (2 (p0 - [y = 0])^2 per row, averaged) of each member: 0.344, 0.285, 0.609, so
    # member 2 starts; then member 1 joins (mean with 1: 0.26025; with 2: 0.285; with 3: 0.3965)
    assert [_loss(P[j], y) for j in range(3)] == pytest.approx([0.344, 0.285, 0.609])
    assert caruana_counts(P, y, "Brier", iterations=1).tolist() == [1, 1, 0]
    counts = caruana_counts(P, y, "Brier", iterations=3)
    assert counts.tolist() == (np.round(_caruana(P, y, 3) * 4)).astype(int).tolist()
    assert counts.sum() == 4 and counts[1] >= 1


def test_caruana_weights_from_the_stored_predictions(binary):
    e = lf.ensemble(binary, "caruana", iterations=10, inner=5)
    P, y = _stack(binary)
    np.testing.assert_allclose(e.weights.to_numpy(), _caruana(P, y, 10))
    assert list(e.weights.index) == list(binary)


def test_caruana_bagging_averages_the_bags(binary):
    e = lf.ensemble(binary, "caruana", iterations=5, bags=4, bag_fraction=0.67, inner=5)
    w = e.weights.to_numpy()
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    # each bag holds 2 of 3 members and 6 picks: the weights are multiples of 1/24
    np.testing.assert_allclose(w * 24, np.round(w * 24), atol=1e-9)


# -- averaging and vote -----------------------------------------------------------------------
def test_average_weights_minimise_the_brier_score(binary):
    two = {k: binary[k] for k in ("lda", "knn")}
    e = lf.ensemble(two, "average", inner=5)
    P, y = _stack(two)
    res = optimize.minimize_scalar(
        lambda a: _loss(a * P[0] + (1 - a) * P[1], y),
        bounds=(0, 1),
        method="bounded",
        options={"xatol": 1e-8},
    )
    np.testing.assert_allclose(e.weights.to_numpy(), [res.x, 1 - res.x], atol=1e-4)
    eq = lf.ensemble(two, "average", weights="equal", inner=5)
    np.testing.assert_allclose(eq.weights.to_numpy(), [0.5, 0.5])


def test_vote_is_the_majority_of_the_members(binary, sonar):
    e = lf.ensemble(binary, "vote", inner=5)
    P, y = _stack(binary)
    votes = np.argmax(P, axis=2)
    majority = (votes.sum(axis=0) >= 2).astype(int)
    assert e.optimistic["Accuracy"] == pytest.approx(np.mean(majority == y))
    assert e.weights is None
    new = sonar.iloc[::7]
    members = np.stack([f.predict(new).cat.codes.to_numpy() for f in binary.values()])
    expected = np.where(members.sum(axis=0) >= 2, "R", "M")
    assert e.predict(new).astype(str).tolist() == expected.tolist()
    np.testing.assert_allclose(e.predict_proba(new)["R"], members.mean(axis=0))


# -- stacking -------------------------------------------------------------------------------
def test_stack_equals_glmnet_on_the_hand_built_matrix(binary, sonar):
    """The default (shared folds): the meta-model is glmnet tuned by train() on the inner folds
    themselves, and the ensemble's inner-fold metrics are its held-out predictions there."""
    e = lf.ensemble(binary, "stack", inner=5, seed=1)
    P, y = _stack(binary)
    X = pd.DataFrame(P[:, :, 0].T, columns=list(binary))  # each member's P(M)
    target = pd.Series(pd.Categorical.from_codes(y, categories=["M", "R"]))
    rs = e.meta_model.resamples
    tests = [np.sort(np.asarray(t)) for t in rs.test]
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(y)))  # a partition
    assert len(tests) == 5
    ctl = lf.Control(
        index=[np.setdiff1d(np.arange(len(y)), t) for t in tests],
        index_out=tests,
        class_probs=True,
        save_predictions="final",
    )
    hand = lf.train(X, target, method="glmnet", control=ctl, seed=1, task="classification")
    assert e.meta_model.best_params == hand.best_params
    new = sonar.iloc[::5]
    Xn = pd.DataFrame({k: f.predict_proba(new)["M"].to_numpy() for k, f in binary.items()})
    np.testing.assert_allclose(
        e.predict_proba(new).to_numpy(), hand.predict_proba(Xn).to_numpy(), atol=1e-10
    )
    # each inner fold's ensemble Accuracy: the hand meta-model's held-out classes on that fold
    pr = hand.predictions
    ens = e.resample[e.resample["model"] == "ensemble"]["Accuracy"].to_numpy()
    want = [
        float(
            np.mean(
                pr.set_index("rowIndex").loc[t, "pred"].astype(str).to_numpy()
                == np.array(["M", "R"])[y[t]]
            )
        )
        for t in tests
    ]
    np.testing.assert_allclose(np.sort(ens), np.sort(want))
    assert "tuned by train() on these folds" in e.estimate


def test_nested_stack_retunes_the_meta_model_inside_every_inner_fold(binary):
    """nested=True: the meta-model is tuned by its own 5-fold CV (on all rows for the final
    combiner, and again inside every inner fold for the estimate)."""
    e = lf.ensemble(binary, "stack", inner=3, seed=1, nested=True)
    P, y = _stack(binary)
    X = pd.DataFrame(P[:, :, 0].T, columns=list(binary))
    target = pd.Series(pd.Categorical.from_codes(y, categories=["M", "R"]))
    ctl = lf.Control(method="cv", number=5, class_probs=True, seed=1)
    hand = lf.train(X, target, method="glmnet", control=ctl, seed=1, task="classification")
    assert e.meta_model.best_params == hand.best_params
    assert "re-tuned and refitted on k-1 folds" in e.estimate
    with pytest.raises(ValueError, match="nested='yes' must be True or False"):
        lf.ensemble(binary, "stack", nested="yes")


def test_failing_meta_model_names_the_member_columns(binary):
    with pytest.raises(
        ValueError,
        match=r"meta-model 'lm' failed on the member columns "
        r"\['lda', 'knn', 'rpart'\]",
    ):
        lf.ensemble(binary, "stack", meta="lm", inner=5)


def test_blend_trains_on_its_share_and_scores_the_rest(binary):
    e = lf.ensemble(binary, "blend", blend_p=0.5, inner=4)
    n = len(e.heldout.rows)
    fitted = e.meta_model.dataset.X.shape[0]
    assert fitted == pytest.approx(n / 2, abs=2)
    assert e.resample["Resample"].nunique() == 4
    assert "trained on" in e.estimate


# -- the honest estimate ----------------------------------------------------------------------
def test_honest_estimate_is_a_hand_written_inner_cv(binary):
    e = lf.ensemble(binary, "caruana", iterations=6, inner=5, seed=7)
    P, y = _stack(binary)
    folds = lf.kfold(y, k=5, seed=7)
    hand = []
    for tr, te in zip(folds.train, folds.test, strict=True):
        w = _caruana(P[:, tr], y[tr], 6)
        q = np.tensordot(w, P[:, te], axes=1)
        hand.append(np.mean(np.argmax(q, axis=1) == y[te]))
    got = e.resample[e.resample["model"] == "ensemble"]["Accuracy"].to_numpy()
    np.testing.assert_allclose(got, hand)
    # the members are scored on the same folds
    lda = e.resample[e.resample["model"] == "lda"]["Accuracy"].to_numpy()
    np.testing.assert_allclose(
        lda, [np.mean(np.argmax(P[0, te], axis=1) == y[te]) for te in folds.test]
    )
    w_all = _caruana(P, y, 6)
    optimistic = np.mean(np.argmax(np.tensordot(w_all, P, axes=1), axis=1) == y)
    assert e.optimistic["Accuracy"] == pytest.approx(optimistic)
    assert e.results.loc["ensemble", "Accuracy"] != pytest.approx(optimistic)
    # the paired test against the best member, as scipy computes it
    best = e.results.loc[list(binary), "Accuracy"].idxmax()
    assert e.best_member == best
    mine = e.resample.pivot(index="Resample", columns="model", values="Accuracy")
    t = stats.ttest_rel(mine["ensemble"], mine[best])
    assert e.test["p_value"] == pytest.approx(t.pvalue)
    assert e.test["estimate"] == pytest.approx(np.mean(mine["ensemble"] - mine[best]))
    assert "5-fold CV over the 208 held-out rows" in repr(e)


# -- predict ----------------------------------------------------------------------------------
def test_predict_combines_the_members_by_hand(binary, sonar):
    e = lf.ensemble(binary, "caruana", iterations=10, inner=5)
    new = sonar.iloc[::3]
    probs = np.stack([f.predict_proba(new).to_numpy() for f in binary.values()])
    expected = np.tensordot(e.weights.to_numpy(), probs, axes=1)
    np.testing.assert_allclose(e.predict_proba(new).to_numpy(), expected)
    classes = np.array(["M", "R"])[np.argmax(expected, axis=1)]
    assert e.predict(new).astype(str).tolist() == classes.tolist()
    assert e.predict(new).index.equals(new.index)


def test_regression(boston):
    df, fits = boston
    e = lf.ensemble(fits, "caruana", iterations=8, inner=5)
    P, y = _stack(fits)
    np.testing.assert_allclose(e.weights.to_numpy(), _caruana(P, y, 8))
    new = df.iloc[::9]
    members = np.stack([f.predict(new).to_numpy() for f in fits.values()])
    np.testing.assert_allclose(e.predict(new).to_numpy(), e.weights.to_numpy() @ members)
    assert e.metric == "RMSE" and e.optimistic["RMSE"] == pytest.approx(
        np.sqrt(np.mean((e.weights.to_numpy() @ P - y) ** 2))
    )
    with pytest.raises(ValueError, match="needs a classification target"):
        lf.ensemble(fits, "vote")
    with pytest.raises(ValueError, match="predict_proba is for classification"):
        e.predict_proba(new)


def test_multiclass(glass):
    df, fits = glass
    e = lf.ensemble(fits, "caruana", iterations=6, inner=3)
    P, y = _stack(fits)
    np.testing.assert_allclose(e.weights.to_numpy(), _caruana(P, y, 6))
    s = lf.ensemble(fits, "stack", inner=3, meta="knn", meta_args={"grid": {"k": [9]}})
    levels = list(fits["knn"].dataset.levels)
    assert s.meta_model.dataset.X.shape[1] == 2 * len(levels)  # member x class columns
    proba = s.predict_proba(df.head(10))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(proba.columns) == levels


# -- refusals ---------------------------------------------------------------------------------
def test_refuses_different_resamples(binary, sonar):
    other = lf.train(
        sonar,
        "Class",
        method="lda",
        control=lf.Control(
            method="cv", number=5, save_predictions="final", seed=SEED + 1, class_probs=True
        ),
    )
    a, b = binary["lda"].resamples.hash[:16], other.resamples.hash[:16]
    with pytest.raises(ValueError, match=rf"different rows \(resample hashes {a}\.\.\. and {b}"):
        lf.ensemble({"lda": binary["lda"], "other": other})


def test_refuses_unsaved_predictions_and_too_few_models(binary, sonar):
    plain = lf.train(
        sonar, "Class", method="lda", control=lf.Control(method="cv", number=5, seed=SEED)
    )
    with pytest.raises(
        ValueError,
        match=r"'plain' kept no held-out predictions: .*"
        r"save_predictions='final'",
    ):
        lf.ensemble({"lda": binary["lda"], "plain": plain})
    with pytest.raises(ValueError, match="at least two models, got 1"):
        lf.ensemble([binary["lda"]])
    with pytest.raises(ValueError, match="method='mean' is not one of"):
        lf.ensemble(binary, "mean")
    with pytest.raises(ValueError, match="iterations=0 must be a whole number >= 1"):
        lf.ensemble(binary, iterations=0)


def test_refuses_mixed_tasks_and_levels(binary, boston, glass):
    with pytest.raises(ValueError, match="different tasks"):
        lf.ensemble({"lda": binary["lda"], "lm": boston[1]["lm"]})
    with pytest.raises(ValueError, match="different class levels"):
        lf.ensemble({"lda": binary["lda"], "knn": glass[1]["knn"]})


@pytest.mark.filterwarnings("ignore::leanfit.IncompleteResamplesWarning")
def test_rows_a_member_failed_on_are_left_out_with_a_warning(binary, sonar):
    from conftest import Centroid

    res = binary["lda"].resamples
    size = len(res.train[0])
    failed = [i for i, tr in enumerate(res.train) if len(tr) == size]
    assert 0 < len(failed) < len(res.train)
    cent = lf.train(
        sonar,
        "Class",
        method=Centroid(fail_on=(0.5,), fail_rows=size),
        grid={"shrink": [0.5]},
        control=_ctl(class_probs=True),
    )
    lost = sum(len(res.test[i]) for i in failed)
    with pytest.warns(UserWarning, match=rf"'centroid' has no held-out prediction for {lost} rows"):
        e = lf.ensemble({"lda": binary["lda"], "centroid": cent}, "average", inner=3)
    assert len(e.heldout.rows) == len(sonar) - lost
