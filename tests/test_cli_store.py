"""`leanfit report --run`, `runs compare` and `runs show` on stored runs: nothing is refitted."""

from __future__ import annotations

import pytest

from leanfit.cli import main
from leanfit.compare import resamples
from leanfit.experiment import load_experiment, run_experiment
from leanfit.store import Store

CONFIG = """\
name: stored-sonar
data: sonar
formula: Class ~ .
partition: {p: 0.75, seed: 998}
controls:
  cv3: {method: cv, number: 3, class_probs: true, summary: two_class}
fits:
  gbmFit:
    method: gbm
    control: cv3
    grid: {interaction_depth: [1, 2], n_trees: [10, 20], shrinkage: 0.1, n_minobsinnode: 10}
    metric: ROC
    seed: 825
  rdaFit: {method: rda, control: cv3, tune_length: 2, metric: ROC, seed: 825}
  rdaOther: {method: rda, control: cv3, tune_length: 2, metric: ROC, seed: 826}
  gbmNone:
    method: gbm
    control: {method: none}
    grid: {interaction_depth: 2, n_trees: 20, shrinkage: 0.1, n_minobsinnode: 10}
    seed: 825
compare: {GBM: gbmFit, RDA: rdaFit}
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    """The config above run once into its own store; its results kept for comparison."""
    tmp = tmp_path_factory.mktemp("stored")
    cfg = tmp / "c.yaml"
    cfg.write_text(CONFIG)
    url = f"sqlite:///{tmp / 'store.db'}"
    exp = load_experiment(cfg, verbose=False)
    exp.output = exp.report = None
    with Store.open(url) as store:
        summary = run_experiment(exp, echo=lambda *a: None, store=store)
    ids = {f: e["run_id"] for f, e in summary["fits"].items()}
    return {"url": url, "ids": ids, "results": exp.results, "tmp": tmp}


def test_report_of_an_experiment_from_the_store_fits_nothing(stored, fits, tmp_path, capsys):
    out = tmp_path / "rep.html"
    args = ["report", "--run", "stored-sonar", "--store", stored["url"], "-o", str(out)]
    assert main(args) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    text = out.read_text()
    for fit in ("gbmFit", "rdaFit", "rdaOther", "gbmNone"):
        assert f'id="fit-{fit}"' in text
    assert "Resampled performance" in text and "Comparison: GBM, RDA" in text
    assert "without refitting anything" in text and "Sections that would need new fits" in text
    gbm = stored["results"]["gbmFit"]
    assert f"{gbm.results['ROC'].iloc[gbm.best_index]:.4f}" in text  # the metric table
    assert '<th class="">ROCSD</th>' in text
    single = tmp_path / "one.html"
    run_id = str(stored["ids"]["rdaFit"])
    assert main(["report", "--run", run_id, "--store", stored["url"], "-o", str(single)]) == 0
    text = single.read_text()
    assert 'id="fit-rdaFit"' in text and 'id="fit-gbmFit"' not in text
    assert "comparison (GBM, RDA) is left out" in text
    assert fits == []


def test_report_arguments_are_checked(stored, capsys):
    assert main(["report"]) == 2
    assert "needs an experiment CONFIG or --run" in capsys.readouterr().err
    assert main(["report", "--run", "nope", "--store", stored["url"]]) == 2
    err = capsys.readouterr().err
    assert "no run id or experiment named 'nope'" in err and "stored-sonar" in err


def test_runs_compare_on_shared_resamples_prints_caret_summary_and_diff(stored, fits, capsys):
    ids = stored["ids"]
    assert (
        main(["runs", "compare", str(ids["gbmFit"]), str(ids["rdaFit"]), "--store", stored["url"]])
        == 0
    )
    out = capsys.readouterr().out
    assert "best_params" in out  # the side-by-side table is still there
    res = stored["results"]
    comp = resamples({"gbmFit": res["gbmFit"], "rdaFit": res["rdaFit"]})
    assert f"== resamples (hash {comp.resample_hash[:16]}" in out
    assert repr(comp.summary()) in out  # the same numbers as from the fitted results
    assert repr(comp.diff()) in out
    assert repr(comp.diff(test="corrected_t", adjustment="holm")) in out
    assert fits == []


def test_runs_compare_on_different_resamples_names_both_hashes(stored, capsys):
    ids, res = stored["ids"], stored["results"]
    assert (
        main(
            ["runs", "compare", str(ids["rdaFit"]), str(ids["rdaOther"]), "--store", stored["url"]]
        )
        == 0
    )
    out = capsys.readouterr().out
    h1, h2 = res["rdaFit"].resamples.hash, res["rdaOther"].resamples.hash
    assert h1 != h2
    assert f"resampled on different rows (resample hashes {h1} and {h2})" in out
    assert "only the table above is shown" in out
    assert "Call:" not in out and "Min." not in out
    assert "rdaOther" in out and "rdaFit" in out
    assert (
        main(["runs", "compare", str(ids["gbmFit"]), str(ids["gbmNone"]), "--store", stored["url"]])
        == 0
    )
    assert "was not resampled" in capsys.readouterr().out


def test_runs_show_lists_artifacts(stored, capsys):
    url, ids = stored["url"], stored["ids"]
    assert main(["runs", "show", str(ids["gbmFit"]), "--store", url]) == 0
    out = capsys.readouterr().out
    assert '"fit": "gbmFit"' in out and "artifacts (4):" in out
    with Store.open(url) as store:
        arts = store.run(ids["gbmFit"])["artifacts"]
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("final_model"))
    a = arts["final_model"]
    assert line.split() == ["final_model", "lightgbm-text", str(a["size"]), a["sha256"][:16]]
    for name in ("resamples", "spec", "invocations"):
        assert any(ln.strip().startswith(name) for ln in out.splitlines())
    assert main(["runs", "show", str(ids["gbmNone"]), "--store", url]) == 0
    out = capsys.readouterr().out
    assert "artifacts (3):" in out and "lightgbm-text" in out  # no resamples for method none


def test_a_stored_report_on_a_full_disk_is_one_line(stored, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    args = ["report", "--run", "stored-sonar", "--store", stored["url"], "-o", "/dev/full"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "No space left on device: '/dev/full'" in err
