"""What a monitoring run found, as tables, JSON for machines and an exit code for cron and CI."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class MonitorResult:
    """Drift per column and of the predictions, violations and performance of one comparison.

    ``exit_code`` is 0 when nothing drifted and 1 when the data set drifted (the share of
    drifted columns reached ``drift_share``) or the predictions drifted. Violations and
    performance are reported but do not change the exit code.
    """

    columns: pd.DataFrame
    drift_share: float
    prediction: pd.DataFrame
    violations: pd.DataFrame
    missing: pd.DataFrame
    performance: pd.DataFrame | None
    labels: dict[str, int] | None
    reference_rows: int
    current_rows: int
    ignored_columns: list[str]
    mode: str | None
    reference_data: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    current_data: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def n_drifted(self) -> int:
        """How many monitored columns drifted."""
        return int(self.columns["drifted"].sum())

    @property
    def share_drifted(self) -> float:
        """Share of monitored columns that drifted."""
        return self.n_drifted / len(self.columns) if len(self.columns) else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when the share of drifted columns is at least ``drift_share`` (Evidently's rule)."""
        return len(self.columns) > 0 and self.share_drifted >= self.drift_share

    @property
    def prediction_drift(self) -> bool:
        """True when the prediction column or any class probability drifted."""
        return bool(len(self.prediction) and self.prediction["drifted"].any())

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns, in table order."""
        return [str(c) for c in self.columns.loc[self.columns["drifted"], "column"]]

    @property
    def exit_code(self) -> int:
        """0: no drift; 1: data-set drift or prediction drift."""
        return 1 if (self.dataset_drift or self.prediction_drift) else 0

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready types."""
        return {
            "dataset_drift": self.dataset_drift,
            "prediction_drift": self.prediction_drift,
            "exit_code": self.exit_code,
            "n_columns": len(self.columns),
            "n_drifted": self.n_drifted,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "mode": self.mode,
            "ignored_columns": self.ignored_columns,
            "columns": _records(self.columns),
            "prediction": _records(self.prediction),
            "violations": _records(self.violations),
            "missing": _records(self.missing),
            "performance": None if self.performance is None else _records(self.performance),
            "labels": self.labels,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The result as JSON (NaN as null); also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML monitoring report (plots embedded) to ``path``."""
        from .html import render

        out = Path(path)
        out.write_text(render(self), encoding="utf-8")
        return out


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
