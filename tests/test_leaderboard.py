"""The leaderboard: methods on the same resamples, ranked by their own resampled scores, within a
budget (skipped methods listed), failures recorded, plot, report section and CLI config."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit import ranking
from leanfit.cli import main
from leanfit.encodings import DuplicateRowsWarning

METHODS = ["lda", "knn", "rpart"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return lf.datasets.load("sonar")


@pytest.fixture(scope="module")
def ctrl() -> lf.Control:
    return lf.Control(method="cv", number=4)


@pytest.fixture(scope="module")
def board(data, ctrl) -> lf.Leaderboard:
    return lf.leaderboard(data, "Class", methods=METHODS, control=ctrl, seed=7)


def test_every_method_on_the_same_resamples(board, data, ctrl):
    hashes = {n: f.resamples.hash for n, f in board.fits.items()}
    assert sorted(hashes) == sorted(METHODS)
    assert len(set(hashes.values())) == 1
    assert board.resample_hash == next(iter(hashes.values()))
    # the same design trained directly, outside the leaderboard, gives the same held-out rows
    direct = lf.train(data, "Class", method="lda", control=ctrl, seed=7)
    assert direct.resamples.hash == board.resample_hash
    for f in board.fits.values():
        for a, b in zip(f.resamples.test, direct.resamples.test, strict=True):
            np.testing.assert_array_equal(a, b)
    # held-out predictions of the chosen candidate are kept, every row once per CV pass
    pred = board.fits["knn"].predictions
    assert sorted(pred["rowIndex"]) == list(range(len(data)))


def test_ranking_follows_the_fits_own_scores(board):
    means = {n: f.resample["Accuracy"].mean() for n, f in board.fits.items()}
    expected = sorted(means, key=lambda n: -means[n])
    assert board.ranked == expected
    table = board.table.set_index("method")
    for n, f in board.fits.items():
        assert table.loc[n, "Accuracy"] == pytest.approx(means[n])
        assert table.loc[n, "AccuracySD"] == pytest.approx(f.resample["Accuracy"].std(ddof=1))
        assert table.loc[n, "resamples"] == 4
        assert table.loc[n, "fit_s"] > 0
    assert list(board.table["rank"]) == [1, 2, 3]
    assert board.best() is board.fits[expected[0]]
    # chosen parameters shown as the fit chose them
    assert f"k={board.fits['knn'].best_params['k']}" == table.loc["knn", "params"]


def test_compare_uses_the_paired_tests(board):
    d = board.compare(top=2)
    frame = d.to_frame()
    assert list(frame[["model1", "model2"]].iloc[0]) == board.ranked[:2]
    a, b = (board.per_resample()[n].to_numpy() for n in board.ranked[:2])
    from scipy import stats

    t = stats.ttest_rel(a, b)
    assert frame["estimate"].iloc[0] == pytest.approx(np.mean(a - b))
    assert frame["p_value"].iloc[0] == pytest.approx(t.pvalue)


def test_plot_is_a_figure(board):
    from matplotlib.figure import Figure

    fig = board.plot()
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [f"{i + 1}. {n}" for i, n in enumerate(board.ranked)]


def test_tiny_budget_runs_the_first_and_lists_the_rest_as_skipped(data, ctrl):
    b = lf.leaderboard(data, "Class", methods=METHODS, control=ctrl, seed=7, budget=1e-6)
    assert b.ranked == ["lda"]
    skipped = b.skipped
    assert list(skipped["method"]) == ["knn", "rpart"]
    assert all("budget of 1e-06 s was spent" in s for s in skipped["note"])
    assert len(b.table) == 3  # nothing dropped


def test_a_failing_method_is_recorded_with_its_error(data, ctrl, monkeypatch):
    cls = lf.registry()["rpart"]

    def broken(self, *args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(cls, "fit", broken)
    b = lf.leaderboard(data, "Class", methods=METHODS, control=ctrl, seed=7)
    assert b.ranked == [n for n in b.ranked if n != "rpart"] and len(b.ranked) == 2
    failed = b.failed
    assert list(failed["method"]) == ["rpart"]
    assert "engine exploded" in failed["note"].iloc[0]
    assert "rpart" not in b.fits


def test_report_section_renders(board, tmp_path):
    from leanfit.report import leaderboard_section

    html = leaderboard_section(board)
    assert "<h2>Leaderboard</h2>" in html
    assert board.resample_hash[:16] in html
    assert all(n in html for n in METHODS)
    assert "data:image/png;base64," in html
    assert "paired t-tests" in html
    path = board.write_report(tmp_path / "r.html")
    text = path.read_text()
    assert text.index("<h2>Leaderboard</h2>") < text.index('id="fit-')


def test_regression_and_formula_form():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = 2 * df["a"] - df["b"] + rng.normal(scale=0.1, size=120)
    b = lf.leaderboard("y ~ a + b + c", data=df, methods=["lm", "knn"], seed=1)
    assert b.mode == "regression" and b.metric == "RMSE" and not b.maximize
    assert b.ranked == ["lm", "knn"]  # the truth is linear: lm's RMSE is lower
    assert b.control.method == "cv" and b.control.folds == 10


def test_bad_input_is_refused_before_fitting(data):
    with pytest.raises(ValueError, match="do not support classification"):
        lf.leaderboard(data, "Class", methods=["lda", "lm"])
    with pytest.raises(ValueError, match="unknown method 'nosuch'"):
        lf.leaderboard(data, "Class", methods=["nosuch"])
    with pytest.raises(ValueError, match="named more than once"):
        lf.leaderboard(data, "Class", methods=["knn", "knn"])
    with pytest.raises(ValueError, match="'fast', 'all'"):
        lf.leaderboard(data, "Class", methods="quick")
    with pytest.raises(ValueError, match="no shared resamples"):
        lf.leaderboard(data, "Class", methods=["knn"], control=lf.Control(method="none"))
    with pytest.raises(ValueError, match="budget"):
        lf.leaderboard(data, "Class", methods=["knn"], budget=-1)


def test_all_and_fast_lists(monkeypatch):
    names, left = ranking.methods_for("all", "classification", 100)
    reg = lf.registry()
    assert all("classification" in reg[n].modes for n in names)
    assert "lm" not in names and "lda" in names
    assert "distill_mlp" in left and "teacher" in left["distill_mlp"]
    assert set(names) | set(left) == {n for n, c in reg.items() if "classification" in c.modes}
    monkeypatch.setitem(ranking._ENGINE_MODULES, "xgboost", ("no_such_module_xyz", "xgboost"))
    names, left = ranking.methods_for("all", "regression", 50_000)
    assert "xgb_tree" not in names and "pip install xgboost" in left["xgb_tree"]
    assert "gaussprocess" in left and "rows squared" in left["gaussprocess"]
    with pytest.raises(ValueError, match="not installed"):
        ranking.methods_for(["xgb_tree"], "regression")
    fast, _ = ranking.methods_for("fast", "regression")
    assert all("regression" in reg[n].modes for n in fast)


def test_cli_config(tmp_path, capsys):
    cfg = tmp_path / "lb.yaml"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            name: sonar-lb
            data: sonar
            target: Class
            methods: [lda, knn]
            control: {{method: cv, number: 3}}
            seed: 5
            output: {tmp_path / "out"}
            """
        )
    )
    assert main(["leaderboard", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "Leaderboard of 2 methods" in out
    table = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    direct = {
        m: lf.train(
            lf.datasets.load("sonar"), "Class", method=m, control=lf.Control("cv", 3), seed=5
        )
        .resample["Accuracy"]
        .mean()
        for m in ("lda", "knn")
    }
    assert list(table["method"]) == sorted(direct, key=lambda m: -direct[m])
    assert table["Accuracy"].to_numpy() == pytest.approx(sorted(direct.values(), reverse=True))
    assert (tmp_path / "out" / "leaderboard.png").exists()
    assert "<h2>Leaderboard</h2>" in (tmp_path / "out" / "report.html").read_text()


def test_cli_config_errors(tmp_path, capsys):
    cfg = tmp_path / "lb.yaml"
    cfg.write_text("data: sonar\ntarget: Klass\n")
    assert main(["leaderboard", str(cfg)]) == 2
    assert "target 'Klass' is not a column" in capsys.readouterr().err
    cfg.write_text("data: sonar\ntarget: Class\nbudgett: 3\n")
    assert main(["leaderboard", str(cfg)]) == 2
    assert "unknown config key(s) ['budgett']" in capsys.readouterr().err
    cfg.write_text("data: sonar\ntarget: Class\ncontrol: {method: cv, number: 1}\n")
    assert main(["leaderboard", str(cfg)]) == 2
    assert "control: Control(number=1)" in capsys.readouterr().err


def test_report_of_a_method_tuned_only_over_a_bool(data, tmp_path):
    # nb varies only usekernel (True/False): the fit section once asked plot_tuning for it
    b = lf.leaderboard(data, "Class", methods=["nb", "lda"], control=lf.Control("cv", 3), seed=1)
    assert b.fits["nb"].candidates["usekernel"].nunique() == 2
    text = b.write_report(tmp_path / "r.html").read_text()
    assert 'id="fit-nb"' in text


def test_default_grids_capped_at_tune_length_fits_and_forests_of_100_trees(data):
    """xgb_tree's caret grid at tune_length 2 (2 depths x 2 nrounds x 2 eta x 2 colsample x 2
    subsample = 32 candidates in 16 fit groups) becomes 2 fit groups drawn from it, each with
    both nrounds (a free sub-model): 4 candidates; rf keeps its 2 mtry values, on 100 trees."""
    import itertools

    small = data.iloc[::3]
    board = lf.leaderboard(
        small,
        "Class",
        methods=["xgb_tree", "rf"],
        control=lf.Control(method="cv", number=3),
        tune_length=2,
        seed=5,
    )
    xgb = board.fits["xgb_tree"].candidates
    assert len(xgb) == 4
    caret = set(
        itertools.product([1, 2], [50, 100], [0.3, 0.4], [0.6, 0.8], [0.5, 1.0])
    )  # caret's xgbTree grid: max_depth, nrounds, eta, colsample_bytree, subsample
    got = {
        (int(r.max_depth), int(r.nrounds), r.eta, r.colsample_bytree, r.subsample)
        for r in xgb.itertuples()
    }
    assert got <= caret and len(got) == 4
    fixed = xgb.drop(columns="nrounds").drop_duplicates()
    assert len(fixed) == 2  # two fits per resample
    for _, row in fixed.iterrows():  # each group keeps both nrounds
        same = (xgb.drop(columns="nrounds") == row).all(axis=1)
        assert sorted(xgb.loc[same, "nrounds"]) == [50, 100]
    assert board.table.set_index("method").loc["xgb_tree", "candidates"] == 4
    rf = board.fits["rf"]
    assert len(rf.candidates) == 2
    assert len(rf.final_model.est.estimators_) == 100
    # the same seed draws the same subset; options restore caret's 500 trees
    again = lf.leaderboard(
        small,
        "Class",
        methods=["rf"],
        control=lf.Control(method="cv", number=3),
        tune_length=1,
        options={"rf": {"n_trees": 500}},
        seed=5,
    )
    assert len(again.fits["rf"].final_model.est.estimators_) == 500
    with pytest.raises(ValueError, match=r"options: \['gbm'\] are not among the methods run"):
        lf.leaderboard(small, "Class", methods=["rf"], options={"gbm": {}})
    with pytest.raises(ValueError, match="max_fits=0 must be a positive integer"):
        lf.leaderboard(small, "Class", methods=["rf"], max_fits=0)


def test_missing_values_get_median_impute_for_methods_that_cannot_take_them(data, ctrl):
    holes = data.copy()
    rng = np.random.default_rng(3)
    for col in ["V1", "V11", "V12"]:
        holes.loc[rng.choice(len(holes), 15, replace=False), col] = np.nan
    b = lf.leaderboard(holes, "Class", methods=["lda", "gbm"], control=ctrl, seed=7)
    assert sorted(b.ranked) == ["gbm", "lda"]  # lda would fail without imputation
    notes = dict(zip(b.table["method"], b.table["note"], strict=True))
    assert "median_impute" in notes["lda"] and notes["gbm"] == ""  # LightGBM takes NAs
    # lda's score is exactly that of training it with median_impute on the same resamples
    direct = lf.train(
        holes, "Class", method="lda", control=ctrl, seed=7, preprocess=["median_impute"]
    )
    got = b.table.set_index("method").loc["lda", "Accuracy"]
    assert got == pytest.approx(direct.results["Accuracy"].iloc[direct.best_index], abs=1e-12)
    # the user's own steps are used as given: no step is added, and lda cannot run
    with pytest.raises(ValueError, match="no method could be planned.*missing values"):
        lf.leaderboard(holes, "Class", methods=["lda"], control=ctrl, seed=7, preprocess=["center"])


def test_duplicate_rows_are_reported_once_with_the_shared_control(data):
    twice = pd.concat([data, data.iloc[:20]], ignore_index=True)
    ctl = lf.Control(method="cv", number=3, duplicates="drop")
    with pytest.warns(DuplicateRowsWarning) as caught:
        lf.leaderboard(twice, "Class", methods=["lda", "rpart", "knn"], control=ctl, seed=1)
    dup = [w for w in caught if issubclass(w.category, DuplicateRowsWarning)]
    assert len(dup) == 1  # not once per method, nor once more for the data check
    assert "20 of 228 rows repeat" in str(dup[0].message)
    assert "are dropped from" in str(dup[0].message)  # the leaderboard's Control, not a default
