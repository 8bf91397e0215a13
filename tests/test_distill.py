"""Knowledge distillation: the loss against hand computations, transfer sets, teachers, the
distill() API with its report, students, and distillation tuned inside train()."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import leanfit as lf  # noqa: E402
from leanfit.distillation import Teacher, distillation_loss, mixup, munge  # noqa: E402
from leanfit.distillation.model import DistilledMLP  # noqa: E402
from leanfit.distillation.teacher import member_outputs  # noqa: E402
from leanfit.distillation.transfer import check_transfer_size, nominal_spans  # noqa: E402
from leanfit.models.base import CLASSIFICATION, Model  # noqa: E402
from leanfit.models.boosting import LightGBM  # noqa: E402


def _np_softmax(z, T=1.0):
    z = np.asarray(z, float) / T
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# -- the loss ----------------------------------------------------------------------------------


def test_classification_loss_matches_hand_computation():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(6, 4))
    t = rng.normal(size=(6, 4)) * 3
    y = np.array([0, 3, -1, 2, -1, 1])  # -1: synthetic rows without a label
    T, alpha = 3.0, 0.3
    ps, pt = _np_softmax(s, T), _np_softmax(t, T)
    kl = np.sum(pt * (np.log(pt) - np.log(ps))) / len(s)  # batch-mean: sum classes, mean rows
    p1 = _np_softmax(s)
    seen = y >= 0
    ce = -np.mean(np.log(p1[seen, y[seen]]))
    expected = alpha * ce + (1 - alpha) * T * T * kl
    loss = distillation_loss(CLASSIFICATION, T, alpha)
    got = loss(torch.tensor(s), (torch.tensor(y), torch.tensor(t))).item()
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kl_term_is_batchmean_not_torch_default_mean():
    """The seed's KLDivLoss() default divides by rows × classes: K times too small."""
    rng = np.random.default_rng(1)
    s, t = torch.tensor(rng.normal(size=(5, 7))), torch.tensor(rng.normal(size=(5, 7)))
    ours = distillation_loss(CLASSIFICATION, 1.0, 0.0)(s, (torch.full((5,), -1), t)).item()
    default = torch.nn.KLDivLoss()(torch.log_softmax(s, 1), torch.softmax(t, 1)).item()
    assert ours == pytest.approx(7 * default, rel=1e-10)


def test_regression_loss_and_bad_settings():
    out = torch.tensor([[1.0], [2.0], [0.0]])
    labels = torch.tensor([1.5, float("nan"), 1.0])
    teacher = torch.tensor([1.0, 1.0, 1.0])
    got = distillation_loss("regression", 2.0, 0.25)(out, (labels, teacher)).item()
    mse_y = ((1 - 1.5) ** 2 + (0 - 1) ** 2) / 2
    mse_t = (0 + 1 + 1) / 3
    assert got == pytest.approx(0.25 * mse_y + 0.75 * mse_t)
    with pytest.raises(ValueError, match="temperature T must be > 0"):
        distillation_loss(CLASSIFICATION, 0.0, 0.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\].*1.5"):
        distillation_loss(CLASSIFICATION, 2.0, 1.5)


# -- transfer sets -----------------------------------------------------------------------------


def test_munge_rows_stay_between_neighbours_and_swap_factors_whole():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=40), rng.normal(size=40), np.zeros((40, 2))])
    X[:10, 2] = 1  # a 3-level factor as two dummies: level b, c, or a (both 0)
    X[10:20, 3] = 1
    out = munge(X, 2.5, seed=3, p=0.5, s=10.0, nominal=[(2, 4)])
    assert out.shape == (100, 4)
    dummies = out[:, 2:4]
    assert set(map(tuple, dummies)) <= {(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)}
    np.testing.assert_array_equal(out, munge(X, 2.5, seed=3, p=0.5, s=10.0, nominal=[(2, 4)]))
    # p = 0: nothing swapped, every synthetic row is a copy of a training row.
    same = munge(X, 1, seed=4, p=0.0)
    np.testing.assert_array_equal(same, X)
    # p = 1: every continuous value is drawn around the neighbour's value.
    drawn = munge(X[:, :2], 1, seed=5, p=1.0, s=1e6)
    assert not np.any(np.isin(drawn[:, 0], X[:, 0]))
    assert np.all(np.abs(drawn - X[:, :2]).max(axis=1) > 0)


def test_mixup_is_a_convex_combination():
    rng = np.random.default_rng(6)
    X = rng.uniform(size=(30, 3))
    out = mixup(X, 2, seed=7)
    assert out.shape == (60, 3)
    assert out.min() >= X.min() - 1e-12 and out.max() <= X.max() + 1e-12


def test_transfer_size_refused_before_allocating():
    with pytest.raises(MemoryError, match="choose a multiple of at most"):
        check_transfer_size(1_000_000, 100, 10, 1e6)
    with pytest.raises(ValueError, match="multiple must be a number >= 0"):
        check_transfer_size(100, 3, 2, -1)


def test_nominal_spans_follow_the_encoder():
    df = pd.DataFrame(
        {"a": [1.0, 2, 3, 4], "f": list("xyzx"), "b": [0.0, 1, 0, 1], "y": list("PQPQ")}
    )
    fit = lf.train("y ~ .", data=df, method="glm", control=lf.Control(method="none"))
    assert nominal_spans(fit.dataset.encoder) == [(1, 3)]


# -- teachers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lgb_teacher(training):
    grid = {"n_estimators": [40], "num_leaves": [7], "min_child_samples": [10]}
    ctrl = lf.Control(method="cv", number=3)
    return lf.train("Class ~ .", data=training, method="lightgbm", grid=grid, control=ctrl, seed=3)


@pytest.fixture(scope="module")
def rf_teacher(training):
    ctrl = lf.Control(method="cv", number=3)
    return lf.train("Class ~ .", data=training, method="rf", tune_length=1, control=ctrl, seed=3)


def test_teacher_uses_raw_margins_and_mixes_members(lgb_teacher, rf_teacher, testing):
    X = lgb_teacher.dataset.encoder.transform(testing)
    logits = member_outputs(lgb_teacher, X)
    proba = lgb_teacher.predict_proba(testing).to_numpy()
    # binary margin m as logits [0, m]: softmax gives the engine's own probabilities
    np.testing.assert_allclose(_np_softmax(logits), proba, atol=1e-12)
    assert np.ptp(logits[:, 0]) == 0
    both = Teacher.of([lgb_teacher, rf_teacher], [3, 1])
    np.testing.assert_allclose(both.weights, [0.75, 0.25])
    mixed = 0.75 * proba + 0.25 * rf_teacher.predict_proba(testing).to_numpy()
    np.testing.assert_allclose(both.predict_proba(X), mixed, atol=1e-6)
    by_metric = Teacher.of([lgb_teacher, rf_teacher], "metric")
    acc = [m.results.loc[m.best_index, m.metric] for m in (lgb_teacher, rf_teacher)]
    np.testing.assert_allclose(by_metric.weights, np.array(acc) / sum(acc))


def test_teacher_refusals(lgb_teacher, training):
    fewer = lf.train(
        training.iloc[:, [0, 1, 2, -1]],
        "Class",
        method="lightgbm",
        grid=lgb_teacher.best_params,
        control=lf.Control(method="none"),
    )
    with pytest.raises(ValueError, match="different features"):
        Teacher.of([lgb_teacher, fewer])
    with pytest.raises(TypeError, match="give a fitted leanfit model"):
        Teacher.of("lightgbm")
    with pytest.raises(ValueError, match="2 members need 2 weights"):
        Teacher.of([lgb_teacher, lgb_teacher], [1.0])

    @dataclass
    class Voter(Model):
        name: ClassVar[str] = "voter"
        modes: ClassVar[tuple[str, ...]] = (CLASSIFICATION,)
        probabilities: ClassVar[bool] = False
        calls: list = field(default_factory=list)

        def fit(self, data, params, subs, seed):
            return int(np.bincount(data.y).argmax())

        def predict(self, fitted, X, subs):
            return np.full((len(subs), len(X)), fitted)

    voter = lf.train(
        "Class ~ .",
        data=training,
        method=Voter(),
        grid=pd.DataFrame(index=[0]),
        control=lf.Control(method="none"),
    )
    with pytest.raises(ValueError, match="models that qualify: .*lightgbm"):
        Teacher.of(voter)


# -- distill() ---------------------------------------------------------------------------------


def test_distill_report_figures_are_what_they_say(lgb_teacher, testing):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the Sonar test rows are not training rows
        d = lf.distill(
            lgb_teacher,
            test=testing,
            hidden=(16,),
            epochs=15,
            multiple=2,
            latency=False,
            seed=4,
            num_threads=1,
        )
    X = lgb_teacher.dataset.encoder.transform(testing)
    y = pd.Categorical(testing["Class"], categories=lgb_teacher.dataset.levels).codes
    s_pred = d.student.predict(X)
    t_pred = lgb_teacher.predict(testing).cat.codes.to_numpy()
    rep = d.report
    assert list(rep.index) == [
        "teacher (lightgbm)",
        "student (mlp, distilled)",
        "student (mlp, hard labels)",
    ]
    row = rep.loc["student (mlp, distilled)"]
    assert row["accuracy"] == pytest.approx(np.mean(s_pred == y))
    assert row["fidelity"] == pytest.approx(np.mean(s_pred == t_pred))
    p = d.student.predict_proba(X)
    assert row["log_loss"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])))
    assert rep.loc["teacher (lightgbm)", "fidelity"] == 1.0
    assert row["parameters"] == 60 * 16 + 16 + 16 * 2 + 2
    assert d.n_transfer == len(lgb_teacher.dataset.y) * 3
    hard = rep.loc["student (mlp, hard labels)", "accuracy"]
    teacher_acc = rep.loc["teacher (lightgbm)", "accuracy"]
    assert d.figures["retention"] == pytest.approx(row["accuracy"] / teacher_acc)
    if teacher_acc != hard:
        assert d.figures["gap_closure"] == pytest.approx(
            (row["accuracy"] - hard) / (teacher_acc - hard)
        )
    pd.testing.assert_index_equal(d.predict_proba(testing).index, testing.index)
    assert list(d.predict(testing).cat.categories) == ["M", "R"]
    assert "Distilled mlp student from lightgbm (T=4" in repr(d)


def test_distill_is_seed_deterministic(lgb_teacher):
    kw = {"hidden": (8,), "epochs": 3, "multiple": 1, "hard_baseline": False, "num_threads": 1}
    a = lf.distill(lgb_teacher, seed=5, **kw).student.state
    b = lf.distill(lgb_teacher, seed=5, **kw).student.state
    c = lf.distill(lgb_teacher, seed=6, **kw).student.state
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_distill_refuses_bad_settings_before_fitting(lgb_teacher, testing, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("fitted before checking")

    monkeypatch.setattr("leanfit.distillation.api.fit_mlp_students", boom)
    monkeypatch.setattr("leanfit.distillation.api.augment", boom)
    with pytest.raises(ValueError, match="temperature T must be > 0"):
        lf.distill(lgb_teacher, T=0)
    with pytest.raises(ValueError, match="alpha must be in"):
        lf.distill(lgb_teacher, alpha=-0.1)
    with pytest.raises(ValueError, match="student must be one of"):
        lf.distill(lgb_teacher, student="forest")
    with pytest.raises(ValueError, match="augment_with must be one of"):
        lf.distill(lgb_teacher, augment_with="smote")
    with pytest.raises(ValueError, match="TrainOptions.lr"):
        lf.distill(lgb_teacher, lr=-1)
    with pytest.raises(MemoryError, match="augmentation multiple 1e\\+09"):
        lf.distill(lgb_teacher, multiple=1e9)
    other = testing.assign(Class=testing["Class"].astype(str).replace({"R": "Q"}))
    with pytest.raises(ValueError, match=r"class\(es\) \['Q'\] the teacher was not trained on"):
        lf.distill(lgb_teacher, test=other)
    with pytest.raises(ValueError, match=r"lacks the teacher's predictor column\(s\) \['V1'\]"):
        lf.distill(lgb_teacher, data=testing.drop(columns="V1"))


def test_distill_warns_when_test_rows_were_training_rows(lgb_teacher, training):
    with pytest.warns(UserWarning, match=f"{len(training)} of {len(training)} test rows"):
        lf.distill(
            lgb_teacher,
            test=training,
            hidden=(4,),
            epochs=1,
            multiple=0,
            hard_baseline=False,
            latency=False,
            num_threads=1,
        )


@pytest.mark.parametrize("kind", ["tree", "linear"])
def test_mimic_students(lgb_teacher, testing, kind):
    d = lf.distill(lgb_teacher, test=testing, student=kind, multiple=2, latency=False, seed=1)
    rep = d.report
    assert rep.loc[f"student ({kind}, distilled)", "fidelity"] > 0.6
    if kind == "tree":
        assert d.student.n_parameters == d.student.estimator.tree_.node_count
    X = lgb_teacher.dataset.encoder.transform(testing)
    np.testing.assert_allclose(d.student.predict_proba(X).sum(axis=1), 1.0)


def test_nan_loss_stops_with_the_epoch_named(lgb_teacher):
    from leanfit.nn.training import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="epoch"):
        lf.distill(
            lgb_teacher,
            optimizer="sgd",
            lr=1e6,
            epochs=3,
            multiple=0,
            hard_baseline=False,
            num_threads=1,
        )


# -- distillation inside train(): the teacher is refitted in every resample -------------------


@dataclass
class CountingLightGBM(LightGBM):
    calls: list = field(default_factory=list)

    def fit(self, data, params, subs, seed):
        self.calls.append(len(data.y))
        return super().fit(data, params, subs, seed)


def test_train_refits_the_teacher_in_every_resample(training):
    teacher = CountingLightGBM()
    model = DistilledMLP(
        options={
            "teacher": teacher,
            "teacher_params": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 10},
        }
    )
    grid = {"T": [1.0, 4.0], "units": [8], "layers": [1], "multiple": [1.0], "epochs": [2, 4]}
    ctrl = lf.Control(method="cv", number=3)
    fit = lf.train("Class ~ .", data=training, method=model, grid=grid, control=ctrl, seed=2)
    # 2 fit groups (T) × 3 resamples + the final fit; epochs is a sub-model (one run each)
    n = len(training)
    assert len(teacher.calls) == 2 * 3 + 1
    assert all(c < n for c in teacher.calls[:-1]) and teacher.calls[-1] == n
    assert len(fit.results) == 4
    assert fit.results["Accuracy"].between(0.4, 1.0).all()
    assert fit.predict_proba(training).shape == (n, 2)


def test_distill_model_option_checks(training):
    def check(options):
        lf.train(
            "Class ~ .",
            data=training,
            method=DistilledMLP(options=options),
            control=lf.Control(method="none"),
        )

    with pytest.raises(ValueError, match="needs options=\\{'teacher'"):
        check({})
    with pytest.raises(ValueError, match="unknown method 'lightgbn'.*Did you mean 'lightgbm'"):
        check({"teacher": "lightgbn"})
    with pytest.raises(ValueError, match="teacher 'lm' cannot teach classification.*qualify"):
        check({"teacher": "lm"})
    with pytest.raises(ValueError, match="augment must be one of"):
        check({"teacher": "rf", "augment": "noise"})
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) \['droput'\] .did you mean 'dropout'"
    ):
        check({"teacher": "rf", "droput": 0.2})
    # the teacher's own options are checked against the teacher
    with pytest.raises(ValueError, match=r"rf: unknown option\(s\) \['ntrees'\]"):
        check({"teacher": "rf", "teacher_options": {"ntrees": 50}})


# -- the same-runtime measurements and regression ----------------------------------------------


def test_report_measures_teacher_and_student_in_onnx_runtime(lgb_teacher, testing):
    from leanfit.export import onnx_predict

    d = lf.distill(
        lgb_teacher,
        test=testing,
        hidden=(8,),
        epochs=3,
        multiple=1,
        n_single=200,
        hard_baseline=False,
        num_threads=1,
    )
    rep = d.report
    student = rep.loc["student (mlp, distilled)"]
    graph = d.to_onnx()
    assert student["onnx_bytes"] == len(graph)
    X = lgb_teacher.dataset.encoder.transform(testing)
    np.testing.assert_allclose(onnx_predict(graph, X), d.student.predict_proba(X), atol=1e-5)
    assert student["parity_max_diff"] < 1e-5
    for name in rep.index:
        assert 0 < rep.loc[name, "single_p50_us"] <= rep.loc[name, "single_p99_us"]
        assert rep.loc[name, "batch_rows_per_s"] > 0
    assert d.figures["size_ratio"] == pytest.approx(rep.iloc[0]["onnx_bytes"] / len(graph))


@pytest.mark.parametrize("kind", ["mlp", "tree", "linear"])
def test_regression_students_match_the_teacher_outputs(kind):
    boston = lf.datasets.load("bostonhousing").select_dtypes("number")
    train, test = boston.iloc[:400], boston.iloc[400:]
    grid = {"n_estimators": [60], "num_leaves": [7], "min_child_samples": [10]}
    teacher = lf.train(
        train, "medv", method="lightgbm", grid=grid, control=lf.Control(method="none"), seed=2
    )
    d = lf.distill(
        teacher,
        test=test,
        student=kind,
        hidden=(16,),
        epochs=20,
        multiple=2,
        alpha=0.0,
        n_single=100,
        num_threads=1,
    )
    rep = d.report
    row = rep.loc[f"student ({kind}, distilled)"]
    pred = d.predict(test).to_numpy()
    t_pred = teacher.predict(test).to_numpy()
    assert row["RMSE"] == pytest.approx(np.sqrt(np.mean((pred - test["medv"].to_numpy()) ** 2)))
    assert row["fidelity_RMSE"] == pytest.approx(np.sqrt(np.mean((pred - t_pred) ** 2)))
    # the student follows the teacher better than it would by predicting the mean
    assert row["fidelity_RMSE"] < np.std(t_pred)
    assert row["parity_max_diff"] < 1e-3 * np.abs(pred).max()


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_epoch_sub_model_equals_a_separate_fit(training, schedule):
    from leanfit.models.base import TrainingData

    model = DistilledMLP(
        options={
            "teacher": "lightgbm",
            "schedule": schedule,
            "teacher_params": {"n_estimators": 10, "num_leaves": 3, "min_child_samples": 10},
        }
    )
    X = training.drop(columns="Class").to_numpy(float)
    y = (training["Class"] == "R").to_numpy().astype(int)
    data = TrainingData(X, y, CLASSIFICATION, levels=("M", "R"))
    params = {p.name: p.default for p in DistilledMLP.params}
    params.update(units=4, layers=1, multiple=0.5)
    both = model.fit(data, params, [{"epochs": 3}, {"epochs": 6}], seed=8)
    alone = model.fit(data, params, [{"epochs": 3}], seed=8)
    for k in alone[0].state:
        np.testing.assert_array_equal(both[0].state[k], alone[0].state[k])
    assert any(not np.array_equal(both[0].state[k], both[1].state[k]) for k in alone[0].state)


def test_a_network_teaches_with_its_logits(training, testing):
    net = lf.train(
        "Class ~ .",
        data=training,
        method="mlp",
        grid={"units": [8], "l2": [0.0], "epochs": [20]},
        control=lf.Control(method="none"),
        seed=1,
    )
    X = net.dataset.encoder.transform(testing)
    logits = member_outputs(net, X)
    np.testing.assert_allclose(_np_softmax(logits), net.predict_proba(testing), atol=1e-12)
    # raw logits, not log-probabilities (whose rows would log-sum-exp to 0)
    assert not np.allclose(np.log(np.exp(logits).sum(axis=1)), 0.0)
    d = lf.distill(net, test=testing, hidden=(4,), epochs=3, multiple=1, latency=False)
    assert d.report.loc["teacher (mlp)", "fidelity"] == 1.0


def test_a_teacher_onnx_cannot_hold_is_noted_and_the_student_still_measured(training, testing):
    svm = lf.train(
        "Class ~ .",
        data=training,
        method="svm_radial",
        preprocess=["center", "scale"],
        grid={"sigma": [0.01], "C": [1.0]},
        control=lf.Control(method="none"),
        seed=1,
    )
    d = lf.distill(
        svm, test=testing, hidden=(4,), epochs=2, multiple=1, n_single=50, hard_baseline=False
    )
    assert np.isnan(d.report.loc["teacher (svm_radial)", "single_p50_us"])
    assert d.report.loc["student (mlp, distilled)", "single_p50_us"] > 0
    assert "pre-processing step" in d.report.attrs["notes"][0]
    assert "note: teacher not measured in ONNX Runtime" in repr(d)


@pytest.mark.parametrize(
    ("method", "grid"),
    [
        (
            "xgb_tree",
            {
                "nrounds": [20],
                "max_depth": [2],
                "eta": [0.3],
                "gamma": [0],
                "colsample_bytree": [1.0],
                "min_child_weight": [1],
                "subsample": [1.0],
            },
        ),
        (
            "catboost",
            {"iterations": [20], "depth": [3], "learning_rate": [0.1], "l2_leaf_reg": [3.0]},
        ),
    ],
)
@pytest.mark.parametrize("classes", [2, 3])
def test_boosting_engines_teach_with_their_margins(method, grid, classes):
    pytest.importorskip("xgboost" if method == "xgb_tree" else "catboost")
    glass = lf.datasets.load("glass")
    keep = glass["Type"].astype(str).isin(sorted(glass["Type"].astype(str).unique())[:classes])
    data = glass[keep].assign(Type=lambda d: d["Type"].astype(str))
    fit = lf.train(
        "Type ~ .", data=data, method=method, grid=grid, control=lf.Control(method="none"), seed=1
    )
    X = fit.dataset.encoder.transform(data)
    logits = member_outputs(fit, X)
    np.testing.assert_allclose(_np_softmax(logits), fit.predict_proba(data), atol=1e-6)
    assert not np.allclose(np.log(np.exp(logits).sum(axis=1)), 0.0)  # margins, not log-probs


def test_test_rows_step_counts_training_rows_and_blames_distills_caller(
    lgb_teacher, training, testing
):
    """The test-row step: None without test rows; 5 training rows + 3 held-out ones give a
    warning about exactly 5, attributed to the line that called distill() (here, this file)."""
    from leanfit.distillation.api import _test_rows

    teach = Teacher.of(lgb_teacher)
    assert _test_rows(teach, None) == (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these are training rows: no warning
        X_held, _ = _test_rows(teach, testing.iloc[:3])
    assert X_held.shape == (3, 60)
    mixed = pd.concat([training.iloc[:5], testing.iloc[:3]])
    with pytest.warns(UserWarning, match="^5 of 8 test rows") as rec:
        lf.distill(lgb_teacher, test=mixed, hidden=(4,), epochs=1, multiple=0,
                   hard_baseline=False, latency=False)  # fmt: skip
    assert rec[0].filename == __file__


def test_transfer_set_step_keeps_real_rows_first_and_marks_synthetic_labels(lgb_teacher):
    """10 real rows with mixup x 2: the real rows come first, unchanged, with their own class
    codes; every synthetic row has label -1 (the teacher alone labels it); one output per row."""
    from leanfit.distillation.api import _transfer_set

    teach = Teacher.of(lgb_teacher)
    X, y = np.asarray(teach.dataset.X[:10], dtype=float), np.asarray(teach.dataset.y[:10])
    Xa, t_out, labels = _transfer_set(teach, X, y, "mixup", 2.0, 0, mixup_alpha=0.4)
    assert len(Xa) == 30 and t_out.shape == (30, 2) and len(labels) == 30
    np.testing.assert_array_equal(Xa[:10], X)
    np.testing.assert_array_equal(labels, np.r_[y, np.full(20, -1)])
