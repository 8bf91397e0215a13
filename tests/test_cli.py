"""The ``leanfit`` command: help, the model library, and ``run`` on a small experiment config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit import Control
from leanfit.cli import main

CONFIG = """\
name: tiny-sonar
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
n_jobs: 1

controls:
  cv3: {method: cv, number: 3, class_probs: true, summary: two_class}
  noneControl: {method: none, class_probs: true}

grids:
  small:
    interaction_depth: [1, 2]
    n_trees: {from: 10, to: 30, by: 10}
    shrinkage: 0.1
    n_minobsinnode: 10

fits:
  gbmFit:
    method: gbm
    control: cv3
    grid: small
    metric: ROC
    seed: 825
    tolerance: {metric: ROC, tol: 2}
  rdaFit: {method: rda, control: cv3, tune_length: 2, metric: ROC, seed: 825}
  gbmNone:
    method: gbm
    control: noneControl
    grid: {interaction_depth: 2, n_trees: 20, shrinkage: 0.1, n_minobsinnode: 10}
    seed: 825
    predict: {head: 3}
"""


def test_help_in_process(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: leanfit" in out
    assert "run" in out and "run an experiment config (YAML) end to end" in out
    assert "models" in out and "list models, or show one model's parameters" in out
    assert "leanfit run examples/sonar.yaml -j 2" in out
    # no command: the help, exit 0
    assert main([]) == 0
    assert "usage: leanfit" in capsys.readouterr().out


def test_help_of_run(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--n-jobs" in out and "--output" in out and "--quiet" in out


def test_help_as_a_program():
    exe = Path(sys.executable).parent / "leanfit"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: leanfit" in proc.stdout
    assert "leanfit models gbm" in proc.stdout


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == lf.__version__


def test_models_lists_the_library(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [ln.split()[0] for ln in lines]
    assert {"gbm", "glmnet", "rda", "svm_radial"} <= set(names)
    gbm = next(ln for ln in lines if ln.startswith("gbm "))
    assert "lightgbm" in gbm and "Stochastic Gradient Boosting" in gbm
    assert main(["models", "--mode", "regression"]) == 0
    reg = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()]
    assert "rda" not in reg and "gbm" in reg
    assert main(["models", "--engine", "lightgbm"]) == 0
    on_lightgbm = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()]
    assert "gbm" in on_lightgbm and "glmnet" not in on_lightgbm and "rda" not in on_lightgbm
    assert main(["models", "--tag", "discriminant"]) == 0
    tagged = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()]
    assert "rda" in tagged and "lda" in tagged and "gbm" not in tagged
    # the labels line up however long an engine's name is
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    qrf = next(ln for ln in lines if ln.startswith("qrf "))
    assert qrf.index("Quantile Random Forest") == lines[0].index("label")
    assert main(["models", "--engine", "sklearnx"]) == 1
    err = capsys.readouterr().err
    assert "no model matches" in err and "lightgbm" in err and "discriminant" in err


def test_models_shows_one_model(capsys):
    assert main(["models", "gbm"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gbm: Stochastic Gradient Boosting  [engine: lightgbm")
    assert "sub-model parameters (scored from one fit): n_trees" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("n_trees"))
    assert "int" in line and "1 .. 10000" in line and "(alias n.trees)" in line
    assert "interaction_depth" in out and "(alias interaction.depth)" in out
    assert "shrinkage" in out and "log scale" in out
    assert "simplest first by: n_trees ascending, interaction_depth ascending" in out
    assert "options (engine settings outside the grid): bag_fraction, num_threads" in out
    assert main(["models", "lda"]) == 0
    assert "options" not in capsys.readouterr().out  # lda takes none


def test_models_unknown_name(capsys):
    assert main(["models", "gmb"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("leanfit: error: unknown method 'gmb'")
    assert "Did you mean" in err and "'gbm'" in err.split("Known methods")[0]


def test_run_missing_config(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "-q"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_signal_dropped_inside_a_finalizer_still_ends_the_run_as_interrupted(
    tmp_path, capsys, monkeypatch
):
    """Python prints and drops an exception raised while a ``__del__`` runs (seen in CI when
    Ctrl-C landed as LightGBM freed a booster: the run then ended with status 0)."""
    import gc
    import signal

    import leanfit.experiment

    class FreedWhileRunning:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the finalizer

    def run_experiment(exp, store=None):
        FreedWhileRunning()
        gc.collect()

    monkeypatch.setattr(leanfit.experiment, "run_experiment", run_experiment)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    assert main(["run", str(cfg), "-o", str(tmp_path / "out"), "-q", "--no-store"]) == 130
    err = capsys.readouterr().err
    assert "leanfit: interrupted: nothing was kept (--no-store)" in err


def _api(training, control, **kw):
    return lf.train("Class ~ .", data=training, control=control, **kw)


def test_run_small_config(tmp_path, capsys, training, testing):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    out_dir = tmp_path / "out"
    assert main(["run", str(cfg), "-o", str(out_dir), "-q"]) == 0
    out = capsys.readouterr().out

    # caret-like printed tables
    assert "== tiny-sonar: 157 training rows, 51 held out" in out
    for fit in ("gbmFit", "rdaFit", "gbmNone"):
        assert f"\n== {fit}\n" in out
    assert "Stochastic Gradient Boosting" in out
    assert "Regularized Discriminant Analysis" in out
    assert "Resampling: Cross-Validated (3 fold)" in out
    assert "Resampling results across tuning parameters:" in out
    assert "n.trees  interaction.depth" in out
    assert "Tuning parameter 'shrinkage' was held constant at a value of 0.1" in out
    assert "ROC was used to select the optimal model using the largest value." in out
    assert "gbmFit: simplest candidate within 2% of the best ROC" in out
    assert "gbmNone: predictions on the first 3 held-out rows" in out
    assert "Tuning parameters were fixed: n.trees = 20, interaction.depth = 2" in out
    assert "== timings (seconds)" in out
    assert f"results written to {out_dir}/" in out

    files = sorted(p.name for p in out_dir.iterdir())
    assert files == [
        "gbmFit_resample.csv",
        "gbmFit_results.csv",
        "rdaFit_resample.csv",
        "rdaFit_results.csv",
        "report.html",
        "summary.json",
    ]
    assert f"report written to {out_dir / 'report.html'}" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["name"] == "tiny-sonar"
    assert list(summary["fits"]) == ["gbmFit", "rdaFit", "gbmNone"]

    # the same fits through the Python API give the same numbers
    cv3 = Control(method="cv", number=3, class_probs=True, summary="two_class")
    grid = lf.expand_grid(
        interaction_depth=[1, 2], n_trees=[10, 20, 30], shrinkage=0.1, n_minobsinnode=10
    )
    gbm = _api(training, cv3, method="gbm", grid=grid, metric="ROC", seed=825)
    rda = _api(training, cv3, method="rda", tune_length=2, metric="ROC", seed=825)
    for name, res in (("gbmFit", gbm), ("rdaFit", rda)):
        entry = summary["fits"][name]
        assert entry["method"] == res.method and entry["metric"] == "ROC"
        assert entry["best_params"] == res.best_params
        best = res.results.iloc[res.best_index]
        assert entry["best_metrics"] == {m: float(best[m]) for m in ("ROC", "Sens", "Spec")}
        assert entry["resample_hash"] == res.resamples.hash
        assert entry["failed_fits"] == 0 and entry["warned_fits"] == 0
        assert not (out_dir / f"{name}_fit_warnings.csv").exists()
        csv = pd.read_csv(out_dir / f"{name}_results.csv")
        pd.testing.assert_frame_equal(csv, res.results, check_exact=False, rtol=1e-15)
        rs = pd.read_csv(out_dir / f"{name}_resample.csv")
        pd.testing.assert_frame_equal(rs, res.resample, check_exact=False, rtol=1e-15)
    assert summary["fits"]["gbmFit"]["resample_hash"] == summary["fits"]["rdaFit"]["resample_hash"]

    pick = lf.tolerance(gbm.results, metric="ROC", tol=2, maximize=True)
    tol = summary["fits"]["gbmFit"]["tolerance_pick"]
    assert tol["n_trees"] == gbm.results["n_trees"].iloc[pick]
    assert tol["interaction_depth"] == gbm.results["interaction_depth"].iloc[pick]
    assert tol["ROC"] == pytest.approx(gbm.results["ROC"].iloc[pick], rel=1e-15)

    none = _api(
        training,
        Control(method="none", class_probs=True),
        method="gbm",
        grid={
            "interaction_depth": [2],
            "n_trees": [20],
            "shrinkage": [0.1],
            "n_minobsinnode": [10],
        },
        seed=825,
    )
    entry = summary["fits"]["gbmNone"]
    assert entry["best_params"] == none.best_params
    assert "best_metrics" not in entry
    head = testing.head(3)
    assert entry["predictions"] == [str(v) for v in none.predict(head)]
    prob = none.predict_proba(head).round(6)
    assert entry["probabilities"] == {"M": list(prob["M"]), "R": list(prob["R"])}
    np.testing.assert_allclose(np.add(entry["probabilities"]["M"], entry["probabilities"]["R"]), 1)


def test_run_with_an_error_in_the_last_fit_fits_nothing(tmp_path, capsys, fits):
    bad = CONFIG + (
        "  badFit:\n"
        "    method: gbm\n"
        "    control: cv3\n"
        "    grid: {depth: [1], n_trees: [10], shrinkage: 0.1, n_minobsinnode: 10}\n"
    )
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(bad)
    out_dir = tmp_path / "out"
    assert main(["run", str(cfg), "-o", str(out_dir), "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("leanfit: error: fit 'badFit':")
    assert "['depth']" in captured.err and "not parameters of 'gbm'" in captured.err
    assert captured.out == ""
    assert not out_dir.exists()
    assert fits == []


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"control": "nope"},
            "fit 'rdaFit': names control 'nope'; defined: ['cv3', 'noneControl']",
        ),
        ({"grid": "nope"}, "fit 'rdaFit': names grid 'nope'; defined: ['small']"),
        ({"colour": "red"}, "fit 'rdaFit': unknown key(s) ['colour']"),
        (
            {"options": {"gamma": 1}},
            "fit 'rdaFit': rda: unknown option(s) ['gamma']; its options: none",
        ),
        ({"options": [1, 2]}, "fit 'rdaFit': options must be a mapping, got [1, 2]"),
        ({"metric": "Accuracy"}, "fit 'rdaFit': metric 'Accuracy' is not produced"),
    ],
)
def test_run_config_errors_name_the_fit(tmp_path, capsys, fits, patch, message):
    import yaml

    cfg = yaml.safe_load(CONFIG)
    cfg["fits"]["rdaFit"].update(patch)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert message in capsys.readouterr().err
    assert fits == []
    assert not (tmp_path / "out").exists()


def test_run_config_options_reach_the_model(tmp_path):
    import yaml

    from leanfit.experiment import parse_experiment

    cfg = yaml.safe_load(CONFIG)
    cfg["fits"]["rfFit"] = {"method": "rf", "control": "cv3", "options": {"n_trees": 20}}
    exp = parse_experiment(yaml.safe_dump(cfg), tmp_path / "c.yaml", verbose=False)
    model = exp.fits["rfFit"]["plan"].model
    assert model.name == "rf" and model.options == {"n_trees": 20}
    assert exp.fits["rdaFit"]["plan"].model.options == {}
    cfg["fits"]["rfFit"]["options"] = {"ntrees": 20}
    with pytest.raises(
        ValueError, match=r"rf: unknown option\(s\) \['ntrees'\] \(did you mean 'n_trees'\?\)"
    ):
        parse_experiment(yaml.safe_dump(cfg), tmp_path / "c.yaml", verbose=False)


def _run_patched(tmp_path, patch, fit="rdaFit"):
    import yaml

    cfg = yaml.safe_load(CONFIG)
    cfg["fits"][fit].update(patch)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return main(["run", str(path), "-o", str(tmp_path / "out"), "-q"])


@pytest.mark.parametrize("patch", [{"method": "rdaa"}, {"control": {"method": "bogus"}}])
def test_run_method_and_inline_control_errors_name_the_fit(tmp_path, capsys, fits, patch):
    assert _run_patched(tmp_path, patch) == 2
    assert "fit 'rdaFit'" in capsys.readouterr().err
    assert fits == []


def test_run_checks_the_tolerance_metric_before_fitting(tmp_path, capsys, fits):
    assert _run_patched(tmp_path, {"tolerance": {"metric": "AUC", "tol": 2}}) == 2
    assert "AUC" in capsys.readouterr().err
    assert fits == []
    assert not (tmp_path / "out").exists()


def test_run_predict_true_is_handled(tmp_path, capsys, fits):
    code = _run_patched(tmp_path, {"predict": True})
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # predict: true means every held-out row (51 of Sonar's 208 with p = 0.75)
    assert "rdaFit: predictions on the first 51 held-out rows" in captured.out


def test_run_with_two_workers_writes_the_same_results(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    tables = []
    for jobs in ("1", "2"):
        out_dir = tmp_path / f"out{jobs}"
        assert main(["run", str(cfg), "-o", str(out_dir), "-q", "-j", jobs]) == 0
        tables.append(pd.read_csv(out_dir / "gbmFit_results.csv"))
        summary = json.loads((out_dir / "summary.json").read_text())
        tables.append(summary["fits"]["gbmFit"]["best_params"])
    capsys.readouterr()
    pd.testing.assert_frame_equal(tables[0], tables[2], check_exact=True)
    assert tables[1] == tables[3]


def test_models_shows_parameter_defaults(capsys):
    assert main(["models", "lightgbm"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(ln for ln in lines if ln.strip().startswith("learning_rate"))
    assert line.endswith("[default 0.1]")
    assert "[default" not in next(ln for ln in lines if ln.strip().startswith("num_leaves"))
