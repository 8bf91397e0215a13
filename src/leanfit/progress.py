"""Progress reports that suit where they go: a live tqdm bar on a terminal (or in a notebook),
and plain lines now and then when the stream is a log file or a pipe, where tqdm's
carriage-return redraws would fill the log with half-lines."""

from __future__ import annotations

import sys
from typing import IO, Any

__all__ = ["Progress"]

# A plain-line report is written each time another tenth of the work is done, and at the end.
_STEPS = 10


class Progress:
    """Counts work done; shows it as a tqdm bar, as occasional plain lines, or not at all."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        *,
        initial: int = 0,
        file: IO[str] | None = None,
        enabled: bool = True,
        leave: bool = True,
    ) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n = int(initial)
        self._postfix = ""
        self._bar: Any = None
        self._file: IO[str] | None = None
        self._shown = self._step(self.n)
        if not enabled:
            return
        stream = file if file is not None else sys.stderr
        if _is_terminal(stream) or (file is None and _in_notebook()):
            if file is None:
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=file
            )
        else:
            self._file = stream

    def _step(self, n: int) -> int:
        return n * _STEPS // self.total if self.total > 0 else 0

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done (a plain line when another tenth is complete)."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._file is not None and self._step(self.n) > self._shown:
            self._shown = self._step(self.n)
            self._line()

    def set_postfix(self, **values: Any) -> None:
        """Figures shown after the count (e.g. the latest loss)."""
        self._postfix = " ".join(f"{k}={v}" for k, v in values.items())
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def _line(self) -> None:
        assert self._file is not None
        pct = f" ({100 * self.n // self.total}%)" if self.total > 0 else ""
        tail = f" {self._postfix}" if self._postfix else ""
        self._file.write(f"{self.desc}: {self.n}/{self.total} {self.unit}{pct}{tail}\n")
        self._file.flush()

    def close(self) -> None:
        """End the report: close the bar (a plain report already ended with its last line)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._file = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed or detached stream
        return False


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (tqdm.auto shows a widget there)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return shell is not None and hasattr(shell, "kernel")
