"""``leanfit distill CONFIG``: a distillation described in YAML, checked before anything runs.

```yaml
name: letter-distill
data: letter                     # a bundled data set or a CSV path (relative to this file)
target: lettr
split: {train: 16000}            # first N rows train, the rest test; or {p: 0.75, seed: 998}
seed: 1
teacher:                         # a model tuned here (lf.train's arguments) ...
  method: lightgbm
  control: {method: cv, number: 3}
  grid: {n_estimators: [200, 400], num_leaves: 31}
# teacher: {run: 12}             # ... or a stored run (leanfit runs list), loaded without refitting
# teacher: [{method: lightgbm}, {method: rf}]   # ... or several, averaged
teacher_weights: metric          # for several teachers: equal (omit), a list, or "metric"
student: {kind: mlp, hidden: [128, 128], epochs: 30, lr: 0.002, batch_size: 256}
T: 4
alpha: 0.1
augment: {kind: munge, multiple: 4}
latency: {single: 10000}         # or false
output: leanfit-out/letter-distill
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from leanfit.distillation.api import Distilled
    from leanfit.tuning.result import TrainResult

_KEYS = {
    "name",
    "data",
    "target",
    "split",
    "seed",
    "teacher",
    "teacher_weights",
    "student",
    "T",
    "alpha",
    "augment",
    "latency",
    "output",
    "n_jobs",
}
_STUDENT_KEYS = {
    "kind",
    "hidden",
    "activation",
    "dropout",
    "epochs",
    "lr",
    "batch_size",
    "optimizer",
    "schedule",
    "l2",
    "early_stopping",
    "tree_depth",
}
_AUGMENT_KEYS = {"kind", "multiple", "p", "s", "alpha"}
_TEACHER_KEYS = {"method", "control", "grid", "tune_length", "metric", "preprocess", "seed", "run"}


def _split(data: pd.DataFrame, target: str, spec: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    from leanfit.splits import partition

    if not isinstance(spec, dict) or not spec:
        raise ValueError("split: give {train: N} (first N rows) or {p: 0.75, seed: 998}")
    if "train" in spec:
        n = int(spec["train"])
        if not 0 < n < len(data):
            raise ValueError(f"split: train={n} must be between 1 and {len(data) - 1}")
        return data.iloc[:n], data.iloc[n:]
    rows = partition(data[target], p=float(spec.get("p", 0.75)), seed=spec.get("seed"))
    return data.iloc[rows], data.drop(data.index[rows])


def _check_keys(what: str, spec: Any, valid: set[str]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError(f"{what}: expected a mapping with keys from {sorted(valid)}")
    bad = set(spec) - valid
    if bad:
        raise ValueError(f"{what}: unknown key(s) {sorted(bad)}; valid: {sorted(valid)}")
    return dict(spec)


def _teacher(
    spec: dict[str, Any],
    training: pd.DataFrame,
    target: str,
    seed: int,
    n_jobs: int,
    store: str | None,
    echo: Callable[[str], None],
) -> TrainResult:
    """Tune the teacher here, or load a stored run's fit without refitting."""
    import leanfit as lf

    if "run" in spec:
        from leanfit.restore import resolve_runs, restore_fit
        from leanfit.store import Store

        with Store.open(store) as st:  # the URL given, else $LEANFIT_STORE or ./leanfit.db
            ids = resolve_runs(st, spec["run"])
            if len(ids) != 1:
                raise ValueError(f"teacher run {spec['run']!r} names {len(ids)} runs; give one")
            echo(f"teacher: stored run {ids[0]} (not refitted)")
            return restore_fit(st, ids[0])
    if "method" not in spec:
        raise ValueError("teacher: give method (a model tuned here) or run (a stored run)")
    ctl = dict(spec.get("control") or {"method": "cv", "number": 5})
    control = lf.Control(**{**ctl, "n_jobs": n_jobs})
    kwargs = {k: spec[k] for k in ("grid", "tune_length", "metric", "preprocess") if k in spec}
    echo(f"teacher: tuning {spec['method']} ({control.method})")
    return lf.train(
        training,
        target,
        method=spec["method"],
        control=control,
        seed=int(spec.get("seed", seed)),
        **kwargs,
    )


def run_distill_config(
    path: str | Path, store: str | None = None, echo: Callable[[str], None] = print
) -> Distilled:
    """Read, check and run a distillation config; print and write the report."""
    from leanfit.configfile import parse_yaml_mapping, read_text
    from leanfit.experiment import load_data

    path = Path(path)
    cfg = _check_keys(str(path), parse_yaml_mapping(read_text(path), path), _KEYS)
    for key in ("data", "target", "split", "teacher"):
        if key not in cfg:
            raise ValueError(f"config {str(path)!r} lacks {key!r}")
    data = load_data(str(cfg["data"]), path.parent)
    target = str(cfg["target"])
    if target not in data.columns:
        raise ValueError(f"target {target!r} is not a column of {cfg['data']!r}")
    training, testing = _split(data, target, cfg["split"])
    student = _check_keys("student", cfg.get("student") or {"kind": "mlp"}, _STUDENT_KEYS)
    aug = _check_keys("augment", cfg.get("augment") or {"kind": "munge"}, _AUGMENT_KEYS)
    teachers = cfg["teacher"] if isinstance(cfg["teacher"], list) else [cfg["teacher"]]
    teachers = [_check_keys("teacher", t, _TEACHER_KEYS) for t in teachers]
    latency = cfg.get("latency", {"single": 10_000})
    seed = int(cfg.get("seed", 0))
    kwargs = {
        "student": student.pop("kind", "mlp"),
        "T": float(cfg.get("T", 4.0)),
        "alpha": float(cfg.get("alpha", 0.1)),
        "augment_with": aug.get("kind", "munge"),
        "multiple": float(aug.get("multiple", 4.0)),
        "munge_p": float(aug.get("p", 0.5)),
        "munge_s": float(aug.get("s", 10.0)),
        "mixup_alpha": float(aug.get("alpha", 0.4)),
        "latency": bool(latency),
        "n_single": int((latency or {}).get("single", 10_000)),
        "seed": seed,
        **student,
    }
    if "hidden" in kwargs:
        kwargs["hidden"] = tuple(int(h) for h in kwargs["hidden"])
    _precheck(kwargs)
    from leanfit.distillation.transfer import check_transfer_size

    n_out = training[target].nunique() if not pd.api.types.is_float_dtype(training[target]) else 1
    check_transfer_size(len(training), training.shape[1] - 1, n_out, kwargs["multiple"])
    out = None
    if cfg.get("output"):
        from leanfit.paths import check_writable

        out = Path(cfg["output"])
        out = out if out.is_absolute() else Path.cwd() / out
        check_writable(out)  # before the teacher is tuned, not after
    fits = [
        _teacher(t, training, target, seed, int(cfg.get("n_jobs", 2)), store, echo)
        for t in teachers
    ]
    from leanfit.distillation.api import distill

    result = distill(
        fits if len(fits) > 1 else fits[0],
        test=testing,
        teacher_weights=cfg.get("teacher_weights"),
        **kwargs,
    )
    echo(repr(result))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if result.report is not None:
            result.report.to_csv(out / "report.csv")
        (out / "student.onnx").write_bytes(result.to_onnx())
        echo(f"wrote {out / 'report.csv'} and {out / 'student.onnx'}")
    return result


def _precheck(kwargs: dict[str, Any]) -> None:
    """distill()'s own checks, run before the teacher is tuned (which takes long)."""
    from leanfit.distillation.api import check_settings
    from leanfit.nn.training import TrainOptions

    names = ("lr", "batch_size", "epochs", "optimizer", "schedule", "l2", "early_stopping")
    check_settings(
        student=kwargs["student"],
        augment_with=kwargs["augment_with"],
        T=kwargs["T"],
        alpha=kwargs["alpha"],
        options=TrainOptions(**{k: kwargs[k] for k in names if k in kwargs}),
    )
