"""lf.compress: measurement against hand computations, int8 / fp16 graphs, static calibration on
training rows, the Pareto front and selection on hand-built tables, the CLI end to end, errors."""

from __future__ import annotations

import itertools
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

import leanfit as lf
from leanfit.compression import Candidate, Source
from leanfit.compression.front import pareto_front, parse_tolerance, select
from leanfit.compression.measure import quality
from leanfit.compression.onnx_candidate import onnx_predictor
from leanfit.compression.quantize import fp16, int8_dynamic, int8_static, is_network_graph

# -- measurement against hand computations --------------------------------------------------


def test_quality_classification_by_hand() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p1 = np.array([0.1, 0.4, 0.7, 0.8, 0.6, 0.3, 0.9, 0.2])  # P(class 1)
    prob = np.column_stack([1 - p1, p1])
    ref = np.column_stack([1 - p1, p1])
    ref[2] = [0.9, 0.1]  # the original predicts class 0 on row 2: one disagreement
    ref[5] = [0.2, 0.8]  # and class 1 on row 5
    got = quality(prob, y, ref, classification=True)
    pred = [0, 0, 1, 1, 1, 0, 1, 0]
    # by hand: 6 of 8 right; confusion [[3,1],[1,3]] -> p_e = (4*4 + 4*4) / 64 = 0.5
    assert got["Accuracy"] == pytest.approx(6 / 8)
    assert got["Kappa"] == pytest.approx((0.75 - 0.5) / (1 - 0.5))
    # ROC: pairs (positive, negative) where the positive scores higher; 16 pairs
    pos, neg = p1[y == 1], p1[y == 0]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    assert wins == 13  # by hand: 0.8 beats 4 negatives, 0.6 three, 0.3 two, 0.9 four
    assert got["ROC"] == pytest.approx(13 / 16)
    # fidelity: rows 2 and 5 differ from the original's classes
    assert pred[2] != 0 and pred[5] != 1
    assert got["fidelity"] == pytest.approx(6 / 8)


def test_quality_regression_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    out = np.array([1.5, 2.0, 2.0, 5.0])
    ref = np.array([1.0, 2.0, 3.0, 5.0])
    got = quality(out, y, ref, classification=False)
    assert got["RMSE"] == pytest.approx(np.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert got["fidelity"] == pytest.approx(np.sqrt((0.25 + 0 + 1 + 0) / 4))
    # squared Pearson correlation, computed from its definition
    dx, dy = out - out.mean(), y - y.mean()
    r = (dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy))
    assert got["Rsquared"] == pytest.approx(r**2)


# -- int8 and fp16 --------------------------------------------------------------------------


def _network(n_in: int = 20, hidden: int = 128, k: int = 3, seed: int = 0) -> tuple[bytes, object]:
    import torch

    from leanfit.export import to_onnx

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, k),
    )
    net.eval()
    return to_onnx(net, n_features=n_in, mode="classification"), net


def _base(graph: bytes) -> Candidate:
    return Candidate("net", "original", onnx_predictor(graph), len(graph), onnx=graph)


def test_int8_dynamic_is_smaller_and_predicts_close() -> None:
    graph, net = _network()
    X = np.random.default_rng(1).normal(size=(500, 20)).astype(np.float32)
    base = _base(graph)
    q = int8_dynamic(base)
    assert q.technique == "int8_dynamic" and q.onnx is not None
    # int8 weights: the graph's bytes shrink (weights dominate a 20-128-128-3 network)
    assert len(q.onnx) < 0.4 * len(graph)
    p_fp32, p_int8 = base.predict(X), q.predict(X)
    assert p_int8.shape == p_fp32.shape == (500, 3)
    assert np.max(np.abs(p_int8 - p_fp32)) < 0.05
    # an untrained network's three probabilities are near ties (median top-two margin 0.02):
    # a class may flip only where the margin is within int8's error, never on a clear row
    top2 = np.sort(p_fp32, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.03
    assert clear.sum() > 100
    assert np.array_equal(p_int8.argmax(1)[clear], p_fp32.argmax(1)[clear])
    assert np.mean(p_int8.argmax(1) == p_fp32.argmax(1)) >= 0.9
    # fp16: about half the bytes, float32 in and out, close predictions
    h = fp16(base)
    assert h.onnx is not None and len(h.onnx) < 0.6 * len(graph)
    assert np.max(np.abs(h.predict(X) - p_fp32)) < 1e-2
    assert is_network_graph(graph) and not is_network_graph(None)


def test_static_calibration_uses_training_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime.quantization as oq

    graph, _ = _network(hidden=32)
    rng = np.random.default_rng(2)
    X_train = rng.normal(size=(300, 20)).astype(np.float32)
    seen: list[np.ndarray] = []
    real = oq.quantize_static

    def spy(model_input, model_output, reader, **kw):  # type: ignore[no-untyped-def]
        out = real(model_input, model_output, reader, **kw)
        seen.extend(reader.fed)
        return out

    monkeypatch.setattr(oq, "quantize_static", spy)
    q = int8_static(_base(graph), X_train, rows=120, seed=0)
    fed = np.vstack(seen)
    # every row fed to the calibrator is a training row, and 120 distinct ones were used
    train_rows = {r.tobytes() for r in X_train}
    assert all(r.tobytes() in train_rows for r in fed)
    assert len({r.tobytes() for r in fed}) == 120
    assert q.settings["calibration_rows"] == 120
    X_test = rng.normal(size=(200, 20)).astype(np.float32)
    base = _base(graph).predict(X_test)
    assert np.mean(q.predict(X_test).argmax(1) == base.argmax(1)) >= 0.9


# -- the front and the selection -------------------------------------------------------------


def _table(rows: list[tuple[str, float, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["name", "Accuracy", "size_bytes", "p50_us"])


def test_pareto_front_by_hand() -> None:
    t = _table(
        [
            ("original", 0.90, 1000, 50.0),
            ("a", 0.89, 100, 10.0),  # smaller and faster than the original, a bit worse
            ("b", 0.88, 120, 12.0),  # dominated by a (worse on all three)
            ("c", 0.85, 50, 20.0),  # smallest
            ("d", 0.89, 100, 10.0),  # ties a exactly: neither dominates the other
            ("e", 0.80, 60, 30.0),  # dominated by c
        ]
    )
    on = pareto_front(t["Accuracy"], t["size_bytes"], t["p50_us"], maximize=True)
    assert on.tolist() == [True, True, False, True, True, False]
    # brute force over the definition, as a second computation
    for i, j in itertools.permutations(range(len(t)), 2):
        a, b = t.iloc[i], t.iloc[j]
        if (
            b.Accuracy >= a.Accuracy
            and b.size_bytes <= a.size_bytes
            and b.p50_us <= a.p50_us
            and (b.Accuracy > a.Accuracy or b.size_bytes < a.size_bytes or b.p50_us < a.p50_us)
        ):
            assert not on[i]
    # RMSE: lower is better
    on = pareto_front([1.0, 1.2, 0.9], [10, 5, 20], [1, 1, 1], maximize=False)
    assert on.tolist() == [True, True, True]
    on = pareto_front([1.0, 1.2], [10, 20], [1, 2], maximize=False)
    assert on.tolist() == [True, False]


def test_select_smallest_and_fastest_within_tolerance() -> None:
    t = _table(
        [
            ("original", 0.90, 1000, 50.0),
            ("a", 0.895, 400, 8.0),
            ("b", 0.892, 200, 20.0),
            ("c", 0.86, 50, 5.0),
        ]
    )
    # within 0.01 of 0.90: a and b; smallest is b, fastest is a
    assert select(t, "Accuracy", True, 0.01, "size").index == 2
    assert select(t, "Accuracy", True, 0.01, "latency").index == 1
    # within 0.05: c too, smallest and fastest
    assert select(t, "Accuracy", True, 0.05, "size").index == 3
    # relative: 2 % of 0.90 = 0.018: a and b
    assert select(t, "Accuracy", True, "2%", "size").index == 2
    # RMSE (minimised)
    r = pd.DataFrame(
        {"RMSE": [3.0, 3.05, 3.5], "size_bytes": [100, 40, 10], "p50_us": [9.0, 3.0, 1.0]}
    )
    assert select(r, "RMSE", False, 0.1, "size").index == 1
    assert parse_tolerance("2%") == (2.0, True) and parse_tolerance(0.5) == (0.5, False)


def test_tolerance_nobody_meets_chooses_nothing() -> None:
    t = _table([("original", 0.90, 1000, 50.0), ("a", 0.80, 100, 10.0), ("b", 0.70, 10, 5.0)])
    sel = select(t, "Accuracy", True, 0.05, "size")
    assert sel.index is None
    assert "no compressed candidate is within tolerance 0.05" in sel.message


def test_slower_than_original_never_chosen_for_speed() -> None:
    t = _table(
        [
            ("original", 0.90, 1000, 10.0),
            ("int8", 0.90, 250, 14.0),  # smaller but slower than the original
            ("student", 0.80, 50, 2.0),  # fast but out of tolerance
        ]
    )
    # for size, the slower int8 is fine
    assert select(t, "Accuracy", True, 0.01, "size").index == 1
    # for speed, it is never chosen: nothing qualifies, and the message says why
    sel = select(t, "Accuracy", True, 0.01, "latency")
    assert sel.index is None
    assert "slower than the original" in sel.message
    t.loc[3] = ("fp16", 0.895, 500, 9.0)
    assert select(t, "Accuracy", True, 0.01, "latency").index == 3


def test_larger_than_original_never_chosen_for_size() -> None:
    t = _table(
        [
            ("original", 0.90, 1000, 10.0),
            ("compiled", 0.90, 1500, 4.0),  # faster, but a bigger file than the original
        ]
    )
    assert select(t, "Accuracy", True, 0.01, "latency").index == 1
    sel = select(t, "Accuracy", True, 0.01, "size")
    assert sel.index is None
    assert "1 candidate(s) within it are no smaller than the original" in sel.message
    t.loc[2] = ("first 50 trees", 0.899, 600, 9.0)
    assert select(t, "Accuracy", True, 0.01, "size").index == 2


# -- lf.compress end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sonar_mlp() -> tuple[object, pd.DataFrame, pd.DataFrame]:
    sonar = lf.datasets.load("sonar")
    rows = lf.partition(sonar["Class"], p=0.75, seed=998)
    train, test = sonar.iloc[rows], sonar.drop(sonar.index[rows])
    grid = lf.expand_grid(units=32, l2=0.0, epochs=15)
    fit = lf.train(
        train, "Class", method="mlp", grid=grid, control=lf.Control(method="none"), seed=1
    )
    return fit, train, test


FAST = {"student_sizes": [[4]], "student_epochs": 3, "calibration_rows": 64}


def test_compress_table_and_chosen(sonar_mlp) -> None:  # type: ignore[no-untyped-def]
    fit, _, test = sonar_mlp
    res = lf.compress(fit, test, tolerance=1.0, options=FAST, n_single=50, batch_repeats=3)
    t = res.table
    techniques = set(t["technique"])
    assert {"original", "student", "int8_dynamic", "int8_static", "fp16"} <= techniques
    # the original's fidelity is 1, its ratios 1; every row's accuracy recomputed here
    assert t.loc[0, "fidelity"] == 1.0 and t.loc[0, "size_ratio"] == 1.0
    y = pd.Categorical(test["Class"], categories=fit.dataset.levels).codes
    X = fit.dataset.encoder.transform(test).astype(np.float32)
    ref = res.candidates[0].predict(X).argmax(1)
    expected = np.mean(fit.predict(test).to_numpy() == test["Class"].to_numpy())
    assert t.loc[0, "Accuracy"] == pytest.approx(expected)
    for i, cand in enumerate(res.candidates):
        pred = cand.predict(X).argmax(1)
        assert t.loc[i, "Accuracy"] == pytest.approx(np.mean(pred == y))
        assert t.loc[i, "fidelity"] == pytest.approx(np.mean(pred == ref))
        assert t.loc[i, "size_bytes"] == len(cand.onnx)
    # with a tolerance of 1, every compressed candidate qualifies: the smallest is chosen
    assert res.chosen is not None and res.chosen.technique != "original"
    assert res.chosen.size_bytes == t.loc[1:, "size_bytes"].min()
    assert t["chosen"].sum() == 1 and bool(t.loc[t["chosen"], "on_front"].iloc[0])
    assert "chosen:" in repr(res)
    fig = res.front_plot()
    assert len(fig.axes) == 1


def test_compress_nothing_chosen_warns_and_saves_nothing(sonar_mlp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fit, _, test = sonar_mlp
    # a student of 4 units trained 1 epoch is far from the original: tolerance 0 excludes it
    with pytest.warns(UserWarning, match="no compressed candidate is within tolerance"):
        res = lf.compress(
            fit,
            test,
            tolerance=0.0,
            techniques=["student"],
            options={"student_sizes": [[1]], "student_epochs": 1},
            n_single=20,
            batch_repeats=2,
        )
    if res.chosen is None:
        assert "chosen: nothing" in repr(res)
        with pytest.raises(ValueError, match="nothing to save"):
            res.save(tmp_path / "x.onnx")
    else:  # the tiny student happened to match the original exactly
        assert res.table.loc[res.table["chosen"], "Accuracy"].iloc[0] >= res.table["Accuracy"].max()


def test_compress_saves_onnx_and_bundle(sonar_mlp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from leanfit.bundle import load_bundle
    from leanfit.export import onnx_predict

    fit, _, test = sonar_mlp
    res = lf.compress(
        fit, test, tolerance=1.0, techniques=["int8_dynamic"], n_single=20, batch_repeats=2
    )
    assert res.chosen is not None and res.chosen.technique == "int8_dynamic"
    onnx_path = res.save(tmp_path / "m.onnx")
    X = fit.dataset.encoder.transform(test).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(onnx_path.read_bytes(), X), res.chosen.predict(X))
    bundle = load_bundle(res.save(tmp_path / "m.lfb"))
    scored = bundle.predict(test.drop(columns="Class"))
    want = np.asarray(fit.dataset.levels)[res.chosen.predict(X).argmax(1)]
    assert (scored["prediction"].to_numpy() == want).all()


def test_compress_warns_on_test_rows_in_training(sonar_mlp) -> None:  # type: ignore[no-untyped-def]
    fit, train, test = sonar_mlp
    mixed = pd.concat([test, train.iloc[:7]])
    n = len(mixed)
    with pytest.warns(UserWarning, match=f"7 of {n} test rows are identical to training rows"):
        lf.compress(fit, mixed, tolerance=1.0, techniques=["fp16"], n_single=10, batch_repeats=2)


# -- errors ----------------------------------------------------------------------------------


def test_errors(sonar_mlp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fit, _, test = sonar_mlp
    with pytest.raises(ValueError, match=r"unknown compression technique 'zip'; valid: .*fp16"):
        lf.compress(fit, test, techniques=["zip"])
    with pytest.raises(ValueError, match="tolerance must be >= 0, got -0.1"):
        lf.compress(fit, test, tolerance=-0.1)
    with pytest.raises(ValueError, match="'2 percent'"):
        lf.compress(fit, test, tolerance="2 percent")
    with pytest.raises(ValueError, match=r"test lacks column\(s\) \['V3'\]"):
        lf.compress(fit, test.drop(columns="V3"))
    with pytest.raises(ValueError, match="objective must be one of"):
        lf.compress(fit, test, objective="cost")
    with pytest.raises(ValueError, match="options student_sizes"):
        lf.compress(fit, test, options={"student_sizes": [[0]]})
    with pytest.raises(
        ValueError,
        match=r"unknown compress option\(s\) \['student_size'\]; valid: .*'student_sizes'",
    ):
        lf.compress(fit, test, options={"student_size": [[8]]})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'leanfit\[onnx\]'"):
        lf.compress(fit, test)


def test_no_applicable_technique_lists_which_apply(sonar_mlp) -> None:  # type: ignore[no-untyped-def]
    _, train, test = sonar_mlp
    lgb = lf.train(
        train,
        "Class",
        method="lightgbm",
        grid=lf.expand_grid(n_estimators=20, num_leaves=4, learning_rate=0.1),
        control=lf.Control(method="none"),
    )
    # int8 / fp16 need a network: a LightGBM fit has none unless students are made
    with pytest.raises(ValueError, match="no compression applies to this model") as e:
        lf.compress(lgb, test, techniques=["int8_dynamic", "fp16"])
    assert "a lightgbm fit (classification)" in str(e.value)
    assert "int8_dynamic, int8_static, fp16 -> network graphs" in str(e.value)
    assert "student -> classification fits with class probabilities" in str(e.value)


def test_source_holds_training_rows(sonar_mlp) -> None:  # type: ignore[no-untyped-def]
    from leanfit.compression.api import _source

    fit, train, _ = sonar_mlp
    src, _ = _source(fit, None, seed=3)
    assert isinstance(src, Source) and src.classification and src.seed == 3
    want = fit.dataset.encoder.transform(train).astype(np.float32)  # float32, as graphs take
    np.testing.assert_array_equal(src.X_train, want)
    codes = pd.Categorical(train["Class"], categories=src.levels).codes
    np.testing.assert_array_equal(src.y_train, codes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src2, _ = _source(fit, train, seed=0)  # data= given: encoded by the fit's recipe
    np.testing.assert_array_equal(src2.X_train, src.X_train)


# -- the command line ------------------------------------------------------------------------


def test_cli_compress_end_to_end(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from leanfit.bundle import load_bundle
    from leanfit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "name: sonar-small\n"
        "data: sonar\n"
        "target: Class\n"
        "split: {p: 0.75, seed: 998}\n"
        "seed: 1\n"
        "model: {method: mlp, control: {method: none}, grid: {units: 16, l2: 0.0, epochs: 8}}\n"
        "tolerance: 1.0\n"
        "techniques: [student, int8_dynamic]\n"
        "options: {student_sizes: [[4]], student_epochs: 2}\n"
        "latency: {single: 20, repeats: 2}\n"
        f"output: {tmp_path / 'out'}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["compress", str(cfg), "-o", str(tmp_path / "chosen.lfb")]) == 0
    printed = capsys.readouterr().out
    assert "Compressed: " in printed and "chosen: " in printed
    table = pd.read_csv(tmp_path / "out" / "compression.csv")
    assert set(table["technique"]) == {"original", "student", "int8_dynamic"}
    assert table["chosen"].sum() == 1
    report = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Compression</h2>" in report and "Compression front" in report
    bundle = load_bundle(tmp_path / "chosen.lfb")
    sonar = lf.datasets.load("sonar")
    assert len(bundle.predict(sonar.drop(columns="Class").head(5))) == 5
    # a bad setting is refused before any fit, with exit code 2
    cfg.write_text(cfg.read_text().replace("tolerance: 1.0", "tolerance: -1"))
    assert main(["compress", str(cfg)]) == 2
    assert "tolerance must be >= 0" in capsys.readouterr().err


def test_compress_regression_rmse_and_fidelity() -> None:
    boston = lf.datasets.load("bostonhousing").drop(columns="chas")  # to_onnx: numbers only
    train, test = boston.iloc[:400], boston.iloc[400:]
    grid = lf.expand_grid(units=16, l2=0.0, epochs=10)
    fit = lf.train(train, "medv", method="mlp", grid=grid, control=lf.Control(method="none"))
    res = lf.compress(fit, test, tolerance=5.0, techniques=["fp16"], n_single=20, batch_repeats=2)
    t = res.table
    assert res.metric == "RMSE" and not res.maximize
    assert list(t["technique"]) == ["original", "fp16"]
    y = test["medv"].to_numpy(float)
    orig = np.asarray(fit.predict(test), dtype=float)
    # the original's ONNX graph predicts as the fit does (float32), so its RMSE is the fit's
    assert t.loc[0, "RMSE"] == pytest.approx(np.sqrt(np.mean((orig - y) ** 2)), rel=1e-4)
    X = fit.dataset.encoder.transform(test).astype(np.float32)
    half = res.candidates[1].predict(X)
    assert t.loc[1, "RMSE"] == pytest.approx(np.sqrt(np.mean((half - y) ** 2)))
    ref = res.candidates[0].predict(X)
    assert t.loc[1, "fidelity"] == pytest.approx(np.sqrt(np.mean((half - ref) ** 2)))
    assert 0 < t.loc[1, "fidelity"] < 0.05  # fp16 rounding only
    assert res.chosen is not None and res.chosen.technique == "fp16"


def test_compress_a_distilled_student(sonar_mlp) -> None:  # type: ignore[no-untyped-def]
    fit, _, test = sonar_mlp
    st = lf.distill(fit, hidden=(8,), epochs=2, multiple=1, hard_baseline=False, latency=False)
    res = lf.compress(st, test, tolerance=1.0, techniques=["int8_dynamic"], n_single=20)
    assert list(res.table["technique"]) == ["original", "int8_dynamic"]
    # the original is the student's own graph
    assert res.candidates[0].onnx == st.to_onnx()
    assert res.table.loc[0, "size_bytes"] == len(st.to_onnx())
