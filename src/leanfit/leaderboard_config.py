"""``leanfit leaderboard CONFIG``: a leaderboard described in YAML, checked before any fit.

```yaml
name: sonar-leaderboard
data: sonar                      # a bundled data set or a CSV path (relative to this file)
target: Class                    # or formula: "Class ~ . - id"
methods: fast                    # fast, all, or a list: [lda, knn, gbm]
control: {method: cv, number: 10}   # Control's settings (default: CV sized to the data)
metric: Accuracy                 # optional: what ranks them (default Accuracy / RMSE)
tune_length: 3                   # optional: default sized to the data
budget: 60                       # optional: wall seconds; methods not started by then are skipped
n_jobs: 2
seed: 1
task: classification             # optional
output: leanfit-out/sonar-leaderboard   # leaderboard.csv, leaderboard.png, report.html
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ranking import Leaderboard

_KEYS = {
    "name",
    "data",
    "target",
    "formula",
    "methods",
    "control",
    "metric",
    "tune_length",
    "preprocess",
    "budget",
    "n_jobs",
    "seed",
    "task",
    "output",
}


def run_leaderboard_config(
    path: str | Path,
    n_jobs: int | None = None,
    output: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> Leaderboard:
    """Read and check a leaderboard config, run it, print the table and write its outputs."""
    from .configfile import parse_yaml_mapping, read_text
    from .control import Control
    from .experiment import load_data
    from .frame import parse_formula
    from .ranking import leaderboard

    path = Path(path)
    cfg = parse_yaml_mapping(read_text(path), path)
    unknown = set(cfg) - _KEYS
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; valid: {sorted(_KEYS)}")
    if "data" not in cfg:
        raise ValueError(f"config {str(path)!r} lacks 'data'")
    if ("target" in cfg) == ("formula" in cfg):
        raise ValueError(f"config {str(path)!r}: give target (a column) or formula, not both")
    data = load_data(str(cfg["data"]), path.parent)
    if "formula" in cfg:
        x, y, frame = str(cfg["formula"]), None, data
        parse_formula(x, list(map(str, data.columns)))  # an unknown column: named now
    else:
        target = str(cfg["target"])
        if target not in data.columns:
            raise ValueError(
                f"target {target!r} is not a column of {cfg['data']!r}; columns: "
                f"{', '.join(map(str, data.columns))}"
            )
        x, y, frame = data, target, None
    ctl = cfg.get("control")
    control = None
    if ctl is not None:
        if not isinstance(ctl, dict):
            raise ValueError("control: give a mapping of Control settings, e.g. {method: cv}")
        try:
            control = Control(**ctl)
        except (TypeError, ValueError) as e:
            raise ValueError(f"control: {e}") from None
    methods = cfg.get("methods", "fast")
    jobs = n_jobs if n_jobs is not None else cfg.get("n_jobs")
    out = Path(output) if output else (Path(cfg["output"]) if cfg.get("output") else None)
    if out is not None:
        from .paths import check_writable

        out = out if out.is_absolute() else Path.cwd() / out
        check_writable(out)  # before the methods are tuned, not after
    board = leaderboard(
        x,
        y,
        data=frame,
        methods=methods,
        control=control,
        budget=cfg.get("budget"),
        metric=cfg.get("metric"),
        tune_length=cfg.get("tune_length"),
        preprocess=cfg.get("preprocess"),
        task=cfg.get("task"),
        n_jobs=jobs,
        seed=cfg.get("seed"),
        echo=echo,
    )
    echo(repr(board))
    if out is not None:
        _write(board, out, str(cfg.get("name", path.stem)), echo)
    return board


def _write(board: Leaderboard, out: Path, name: str, echo: Callable[[str], None]) -> None:
    """The table as CSV, the plot as PNG and the HTML report, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    board.table.to_csv(out / "leaderboard.csv", index=False)
    written = [out / "leaderboard.csv"]
    if board.ranked:
        fig: Any = board.plot()
        fig.savefig(out / "leaderboard.png", dpi=100)
        written.append(board.write_report(out / "report.html", title=f"Leaderboard: {name}"))
        written.insert(1, out / "leaderboard.png")
    echo("wrote " + ", ".join(str(p) for p in written))
