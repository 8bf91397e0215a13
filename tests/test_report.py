"""The HTML report, rendered in a real headless Chromium: no console errors, every image loads,
the key numbers are on the page, and the file is self-contained (no network)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

import leanfit as lf
from leanfit.compare import resamples
from leanfit.report import Comparison, write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory, training):
    ctl = lf.Control(method="cv", number=4, class_probs=True, summary="two_class", seed=7)
    fits = {
        "GBM": lf.train(
            "Class ~ .",
            data=training,
            method="gbm",
            control=ctl,
            metric="ROC",
            grid=lf.expand_grid(
                interaction_depth=[1, 3], n_trees=[20, 40], shrinkage=0.1, n_minobsinnode=10
            ),
        ),
        "RDA": lf.train(
            "Class ~ .", data=training, method="rda", control=ctl, metric="ROC", tune_length=2
        ),
        "GLMNET": lf.train(
            "Class ~ .",
            data=training,
            method="glmnet",
            control=ctl,
            metric="ROC",
            tune_length=2,
            preprocess=["center", "scale"],
        ),
    }
    comp = resamples(fits)
    diffs = [comp.diff(), comp.diff(test="corrected_t", adjustment="holm")]
    t0 = time.perf_counter()
    path = write_report(
        tmp_path_factory.mktemp("rep") / "report.html",
        "Sonar test report",
        fits,
        [Comparison("three models", comp, diffs)],
    )
    return {
        "path": path,
        "fits": fits,
        "comp": comp,
        "diffs": diffs,
        "seconds": time.perf_counter() - t0,
    }


def test_report_is_self_contained(report):
    text = report["path"].read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched from a network
    assert re.search(r"<script", text) is None
    n_img = text.count("<img ")
    assert n_img == text.count('src="data:image/png;base64,')
    # 3 fits x (profile + per-resample distribution) + box + dot + 2 diff plots
    assert n_img == 3 * 2 + 2 + 2
    assert report["path"].stat().st_size < 5 * 1024 * 1024


def test_report_differences_tables_show_the_statistics_not_the_labels(report):
    """Each differences table: the pair, the estimate and interval, the statistic and the raw
    and adjusted p-values; the test and adjustment are in its heading, not in columns."""
    text = report["path"].read_text()
    heads = re.findall(r"<h3>Differences: [^<]*</h3><table><thead><tr>(.*?)</tr>", text)
    assert len(heads) == 2
    for head in heads:
        assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == [
            "metric",
            "model1",
            "model2",
            "estimate",
            "lower",
            "upper",
            "statistic",
            "p_value",
            "p_adjusted",
        ]


def test_report_renders_in_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, env={"HOME": str(tmp_path)}
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(report["path"].as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
        )
        body = page.inner_text("body")
        page.screenshot(path=str(Path("/tmp") / "leanfit-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) == 10
    assert all(done and w > 100 and h > 100 for done, w, h in images)
    # key numbers: each fit's chosen resampled ROC, and the first paired difference
    for name, res in report["fits"].items():
        assert name in body
        assert f"{res.results['ROC'].iloc[res.best_index]:.4f}" in body
    first = report["diffs"][0].to_frame().iloc[0]
    assert f"{first['estimate']:.4f}" in body
    assert "Nadeau–Bengio corrected resampled t-test" in body
