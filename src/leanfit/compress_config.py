"""``leanfit compress CONFIG``: a compression described in YAML, checked before anything runs.

```yaml
name: sonar-compress
data: sonar                      # a bundled data set or a CSV path (relative to this file)
target: Class
split: {p: 0.75, seed: 998}      # or {train: N}: first N rows train, the rest test
seed: 1
model:                           # a model tuned here (lf.train's arguments) ...
  method: mlp
  control: {method: cv, number: 3}
  grid: {units: [16, 32], l2: 0.0, epochs: 40}
# model: {run: 12}               # ... or a stored run (leanfit runs list), loaded without refitting
tolerance: 0.01                  # absolute metric difference, or "2%" of the best
objective: size                  # or latency
techniques: [student, int8_dynamic, int8_static, fp16]   # default: all that apply
options: {student_sizes: [[8], [32]], student_epochs: 20}
latency: {single: 2000, batch_size: 1024, repeats: 20}
output: leanfit-out/sonar-compress   # compression.csv, front.png, report.html, chosen.onnx
```
The data loading, split and model (tuned here or restored from the store) are the distillation
config's (``distill_config``), so both read the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .distill_config import _TEACHER_KEYS, _check_keys, _split, _teacher

if TYPE_CHECKING:
    from leanfit.compression import Compressed

_KEYS = {
    "name",
    "data",
    "target",
    "split",
    "seed",
    "model",
    "tolerance",
    "objective",
    "techniques",
    "options",
    "latency",
    "output",
    "n_jobs",
}
_LATENCY_KEYS = {"single", "batch_size", "repeats"}


def run_compress_config(
    path: str | Path,
    *,
    store: str | None = None,
    model_path: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> Compressed:
    """Read, check and run a compression config: print the table, write the table (CSV), the
    front (PNG), the HTML report and the chosen model (``model_path``: ``.onnx`` or a ``.lfb``
    bundle; default ``<output>/chosen.onnx``)."""
    from leanfit.compression.api import _check_options, compress
    from leanfit.compression.front import OBJECTIVES, parse_tolerance
    from leanfit.configfile import parse_yaml_mapping, read_text
    from leanfit.experiment import load_data

    path = Path(path)
    cfg = _check_keys(str(path), parse_yaml_mapping(read_text(path), path), _KEYS)
    for key in ("data", "target", "split", "model"):
        if key not in cfg:
            raise ValueError(f"config {str(path)!r} lacks {key!r}")
    model_spec = _check_keys("model", cfg["model"], _TEACHER_KEYS)
    tolerance = cfg.get("tolerance", 0.01)
    parse_tolerance(tolerance)
    objective = str(cfg.get("objective", "size"))
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    options = _check_options(cfg.get("options") or {})
    latency = _check_keys("latency", cfg.get("latency") or {}, _LATENCY_KEYS)
    techniques = cfg.get("techniques")
    if techniques is not None and not isinstance(techniques, (list, str)):
        raise ValueError(f"techniques: give a list of technique names, got {techniques!r}")
    data = load_data(str(cfg["data"]), path.parent)
    target = str(cfg["target"])
    if target not in data.columns:
        raise ValueError(f"target {target!r} is not a column of {cfg['data']!r}")
    training, testing = _split(data, target, cfg["split"])
    seed = int(cfg.get("seed", 0))
    out = None
    if cfg.get("output"):
        from leanfit.paths import check_writable

        out = Path(cfg["output"])
        out = out if out.is_absolute() else Path.cwd() / out
        check_writable(out)  # before the model is tuned, not after
    fit = _teacher(model_spec, training, target, seed, int(cfg.get("n_jobs", 2)), store, echo)
    echo("compressing: every candidate measured on the test rows, on one thread")
    result = compress(
        fit,
        testing,
        tolerance=tolerance,
        objective=objective,
        techniques=techniques,
        options=options,
        seed=seed,
        n_single=int(latency.get("single", 2_000)),
        batch_size=int(latency.get("batch_size", 1_024)),
        batch_repeats=int(latency.get("repeats", 20)),
    )
    echo(repr(result))
    written = []
    if out is not None:
        from leanfit.report import write_report

        out.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(out / "compression.csv", index=False)
        result.front_plot().savefig(out / "front.png", dpi=100)
        name = str(cfg.get("name", path.stem))
        written += [out / "compression.csv", out / "front.png"]
        written.append(
            write_report(
                out / "report.html", f"Compression: {name}", {"model": fit}, compression=result
            )
        )
    target_path = Path(model_path) if model_path else (out / "chosen.onnx" if out else None)
    if target_path is not None:
        if result.chosen is None:
            echo(f"no model saved: {result.message}")
        elif result.chosen.onnx is None:
            echo(f"no model saved: the chosen {result.chosen.name!r} has no ONNX graph")
        else:
            written.append(result.save(target_path))
    if written:
        echo("wrote " + ", ".join(str(w) for w in written))
    return result
