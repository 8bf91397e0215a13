"""`leanfit distill CONFIG`: a teacher tuned from the config or taken from a stored run (refitting
nothing), the report printed, the student written as ONNX; bad settings refused before fitting."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

pytest.importorskip("torch")

from leanfit.cli import main  # noqa: E402

LGB = """
  method: lightgbm
  control: {method: none}
  grid: {n_estimators: 30, num_leaves: 7, min_child_samples: 10}
"""


def _config(tmp_path, teacher: str, extra: str = "") -> str:
    path = tmp_path / "distill.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: sonar-distill
            data: sonar
            target: Class
            split: {{p: 0.75, seed: 998}}
            seed: 3
            student: {{kind: mlp, hidden: [8], epochs: 5}}
            T: 2
            alpha: 0.2
            augment: {{kind: mixup, multiple: 1}}
            latency: {{single: 100}}
            output: {tmp_path / "out"}
            """
        )
        + "teacher:"
        + teacher
        + extra
    )
    return str(path)


def test_distill_from_a_config_prints_the_report_and_writes_the_student(tmp_path, capsys):
    from leanfit.export import onnx_predict

    assert main(["distill", _config(tmp_path, LGB)]) == 0
    out = capsys.readouterr().out
    assert "Distilled mlp student from lightgbm (T=2, alpha=0.2, mixup × 1" in out
    for row in ("teacher (lightgbm)", "student (mlp, distilled)", "student (mlp, hard labels)"):
        assert row in out
    graph = (tmp_path / "out" / "student.onnx").read_bytes()
    assert onnx_predict(graph, np.zeros((2, 60))).shape == (2, 2)
    report = (tmp_path / "out" / "report.csv").read_text()
    assert "single_p50_us" in report and "fidelity" in report


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("T: 0\n", "temperature T must be > 0"),
        ("alpha: 2\n", "alpha must be in"),
        ("student: {kind: forest}\n", "student must be one of"),
        ("augment: {kind: noise}\n", "augment_with must be one of"),
        ("student: {kind: mlp, widht: 3}\n", r"student: unknown key\(s\) \['widht'\]"),
        ("augment: {kind: munge, multiple: 1.0e+12}\n", "choose a multiple of at most"),
    ],
)
def test_bad_settings_are_refused_before_the_teacher_is_tuned(
    tmp_path, capsys, monkeypatch, extra, message
):
    def boom(*a, **k):
        raise AssertionError("the teacher was tuned before the settings were checked")

    monkeypatch.setattr("leanfit.train", boom)
    path = tmp_path / "bad.yaml"
    with open(_config(tmp_path, LGB)) as f:
        text = f.read()
    key = extra.split(":")[0]
    text = "\n".join(line for line in text.splitlines() if not line.startswith(key + ":"))
    path.write_text(text + "\n" + extra)
    assert main(["distill", str(path)]) == 2
    assert message.replace("\\", "") in capsys.readouterr().err


def test_teacher_from_a_stored_run_is_not_refitted(tmp_path, capsys, monkeypatch):
    exp = tmp_path / "teacher.yaml"
    exp.write_text(
        textwrap.dedent(
            """\
            name: sonar-teacher
            data: sonar
            formula: Class ~ .
            partition: {p: 0.75, seed: 998}
            controls:
              cv3: {method: cv, number: 3}
            fits:
              lgbFit:
                method: lightgbm
                control: cv3
                tune_length: 1
                seed: 5
            """
        )
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["run", str(exp), "--store", url, "-q"]) == 0
    capsys.readouterr()

    def no_fit(*a, **k):
        raise AssertionError("a stored teacher must not be refitted")

    monkeypatch.setattr("leanfit.models.boosting.LightGBM.fit", no_fit)
    cfg = _config(tmp_path, " {run: sonar-teacher}\n")
    assert main(["distill", cfg, "--store", url]) == 0
    out = capsys.readouterr().out
    assert "teacher: stored run" in out and "(not refitted)" in out
    assert "student (mlp, distilled)" in out
