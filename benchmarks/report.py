"""Report generation for the whole seed workflow (issue 4 figures): time and file size.

Runs examples/sonar.yaml once (fits are not what is timed), then renders its HTML report
--repeats times and prints the median render time and the file size against the targets
(under 5 s, under 5 MB).

    python benchmarks/report.py [--repeats 5] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()

    from leanfit.experiment import load_experiment, run_experiment
    from leanfit.report import write_report

    out = Path(tempfile.mkdtemp(prefix="leanfit-report-bench-"))
    exp = load_experiment(
        ROOT / "examples" / "sonar.yaml", n_jobs=args.n_jobs, output=out, verbose=False
    )
    run_experiment(exp, echo=lambda *a: None)  # fits, the comparison and a first report
    from leanfit.compare import resamples
    from leanfit.report import Comparison

    comp = resamples({k: exp.results[v] for k, v in exp.compare.items()})
    cmp = Comparison(
        "seed models", comp, [comp.diff(), comp.diff(test="corrected_t", adjustment="holm")]
    )
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        path = write_report(out / "report.html", exp.name, exp.results, [cmp])
        times.append(time.perf_counter() - t0)
    size = path.stat().st_size / 1024 / 1024
    print(
        f"report of the seed workflow ({len(exp.results)} fits, 1 comparison): "
        f"median {statistics.median(times):.2f} s over {args.repeats} renders "
        f"(target < 5 s), {size:.2f} MB (target < 5 MB) -> {path}"
    )


if __name__ == "__main__":
    main()
