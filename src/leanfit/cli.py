"""The ``leanfit`` command: thin over the API, and quick to answer ``--help`` (nothing heavy is
imported until a sub-command runs)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

DESCRIPTION = """\
leanfit trains and tunes models with honest resampling (caret's train / trainControl workflow,
faster), then compares, compresses and ships them.

Examples:
  leanfit run examples/sonar.yaml          run the seed's Sonar workflow end to end
  leanfit run examples/sonar.yaml -j 2     ... with 2 worker processes
  leanfit report examples/sonar.yaml       ... and write only its HTML report
  leanfit report --run sonar-seed          the report of stored runs, refitting nothing
  leanfit distill examples/distill_letter.yaml
                                           distil a tuned LightGBM into a small network
  leanfit compress examples/compress_sonar.yaml
                                           the smallest model within 1 point of the best
  leanfit leaderboard examples/leaderboard_sonar.yaml
                                           rank many methods on the same resamples
  leanfit models                           list the models and their engines
  leanfit models gbm                       parameters and defaults of one model
  leanfit bundle --run 3 -o model.lfb      ship a stored run as one bundle file
  leanfit predict model.lfb new.parquet -o scored.parquet
                                           score a file in chunks, rejects kept aside
  leanfit serve model.lfb --port 8000      serve it over HTTP (POST /predict, /metrics)
  leanfit retrain examples/sonar.yaml --data new.csv --bundle model.lfb
                                           retrain the champion on new data; promote it
                                           only if it is not worse (old bundle kept)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="leanfit",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run an experiment config (YAML) end to end",
        description="Run every fit of an experiment config in order, print "
        "caret-like tables, and write results (CSV, JSON) to the output folder.",
    )
    run.add_argument("config", help="path to the experiment YAML, e.g. examples/sonar.yaml")
    run.add_argument(
        "-j",
        "--n-jobs",
        type=int,
        default=None,
        help="worker processes (default: the config's n_jobs, else 1; -1 = all "
        "cores). Results are identical for any value.",
    )
    run.add_argument(
        "-o", "--output", default=None, help="folder for results (default: the config's output)"
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--store",
        default=None,
        help="experiment store URL: every task result is kept there and a re-run (after a "
        "crash) resumes; default $LEANFIT_STORE or sqlite:///leanfit.db here; a team's "
        "server: postgresql://user@host/db",
    )
    run.add_argument("--no-store", action="store_true", help="keep nothing; always recompute")
    run.add_argument(
        "--allow-large",
        action="store_true",
        default=None,
        help="run plans above the size limits (100 000 candidates, 1 000 000 fits, 4 GB)",
    )
    rep = sub.add_parser(
        "report",
        help="write the self-contained HTML report of an experiment config or of stored runs",
        description="Run an experiment config (like `run`, quietly) and write one "
        "self-contained HTML report: design, tuning tables and profiles, the between-model "
        "comparison with its tests, the chosen models, seeds, versions and timings. With --run, "
        "render stored runs from the experiment store instead, refitting nothing.",
    )
    rep.add_argument("config", nargs="?", help="path to the experiment YAML (or use --run)")
    rep.add_argument(
        "--run",
        default=None,
        help="report stored runs without refitting: a run id, ids (3,4,5) or an experiment "
        "name, meaning all of its runs (one per fit; see `leanfit runs list`)",
    )
    rep.add_argument("--store", default=None, help="store URL for --run (default as for `run`)")
    rep.add_argument(
        "-o",
        "--output",
        default=None,
        help="report file (default: <config output>/report.html; with --run "
        "leanfit-out/report-<run>.html)",
    )
    rep.add_argument("-j", "--n-jobs", type=int, default=None, help="worker processes")
    runs = sub.add_parser(
        "runs",
        help="list, show or compare runs kept in the experiment store (nothing is refitted)",
        description="Read the experiment store: `runs list`, `runs show ID` (the run and its "
        "artifacts), `runs compare ID ID ...` (each fit's chosen parameters and resampled "
        "metric, and for runs on the same resamples caret's resamples summary and diff).",
    )
    runs.add_argument("action", choices=["list", "show", "compare"])
    runs.add_argument("ids", nargs="*", type=int, help="run ids (show: one; compare: several)")
    runs.add_argument("--store", default=None, help="store URL (default as for `run`)")
    dist = sub.add_parser(
        "distill",
        help="distil a teacher (tuned here or a stored run) into a small student",
        description="Read a distillation config (YAML: data, split, teacher — a model tuned "
        "here, a stored run, or several averaged — student, T, alpha, augmentation), check "
        "every setting, then tune the teacher, build the transfer set, train the student and "
        "the same student on hard labels, and print the report: accuracy (or RMSE), fidelity "
        "to the teacher, log-loss, parameters, ONNX size and one-thread ONNX Runtime latency. "
        "See examples/distill_letter.yaml.",
    )
    dist.add_argument("config", help="path to the distillation YAML")
    dist.add_argument("--store", default=None, help="store URL for a teacher given as a stored run")
    comp = sub.add_parser(
        "compress",
        help="compress a model (tuned here or a stored run): the smallest or fastest within a "
        "tolerance",
        description="Read a compression config (YAML: data, split, model — tuned here or a "
        "stored run — tolerance, objective, techniques, options), check every setting, then "
        "tune or restore the model, make its compressed candidates (students of several sizes, "
        "int8 dynamic / static and fp16 forms of network graphs, and any other technique that "
        "applies), measure every one the same way on the test rows (metric, fidelity to the "
        "original, ONNX size, one-thread single-row p50/p99 latency and batch rows/s), print "
        "the table with the Pareto front and the chosen candidate (the smallest, or fastest, "
        "within the tolerance of the best metric), and write compression.csv, front.png and "
        "report.html to the config's output folder and the chosen model to -o. "
        "See examples/compress_sonar.yaml.",
    )
    comp.add_argument("config", help="path to the compression YAML")
    comp.add_argument(
        "-o",
        "--output",
        default=None,
        help="file for the chosen model: .onnx (the graph) or .lfb (a bundle, raw columns in); "
        "default <config output>/chosen.onnx",
    )
    comp.add_argument("--store", default=None, help="store URL for a model given as a stored run")
    board = sub.add_parser(
        "leaderboard",
        help="tune many methods on the same resamples and rank them (within a time budget)",
        description="Read a leaderboard config (YAML: data, target or formula, methods — fast, "
        "all or a list — control, metric, tune_length, budget in seconds, n_jobs, seed, output), "
        "check it, then tune every method on the same resamples, print the ranked table (metric, "
        "SD, fit and predict seconds, chosen parameters; failed and skipped methods with why) and "
        "write leaderboard.csv, leaderboard.png and report.html to the output folder. "
        "See examples/leaderboard_sonar.yaml.",
    )
    board.add_argument("config", help="path to the leaderboard YAML")
    board.add_argument("-j", "--n-jobs", type=int, default=None, help="worker processes")
    board.add_argument("-o", "--output", default=None, help="output folder (default: the config's)")
    models = sub.add_parser(
        "models",
        help="list models, or show one model's parameters",
        description="List the model library (filter by tag, mode or "
        "engine), or show one model's parameters and defaults.",
    )
    models.add_argument("name", nargs="?", help="a model name, e.g. gbm")
    models.add_argument("--tag", help="only models with this tag (substring match)")
    models.add_argument("--mode", choices=["classification", "regression"])
    models.add_argument("--engine", help="only models on this engine, e.g. lightgbm")
    _monitor_parser(sub)
    _ship_parsers(sub)
    _serve_parser(sub)
    _retrain_parser(sub)
    return p


def _models(args: argparse.Namespace) -> int:
    from .models.base import get_model, registry

    if args.name:
        m = get_model(args.name)
        print(f"{m.name}: {m.label}  [engine: {m.engine}; modes: {', '.join(m.modes)}]")
        print(f"tags: {', '.join(m.tags)}")
        print(f"sub-model parameters (scored from one fit): {', '.join(m.submodel) or 'none'}")
        print("parameters:")
        for p in m.params:
            high = "inf" if p.high is None else p.high
            rng = ", ".join(map(str, p.choices)) if p.kind == "cat" else f"{p.low} .. {high}"
            alias = f" (alias {', '.join(p.aliases)})" if p.aliases else ""
            scale = ", log scale" if p.log else ""
            default = "" if p.default is None else f"  [default {p.default}]"
            limit = f", at most the {' and '.join(p.at_most)}" if p.at_most else ""
            print(f"  {p.name:<20} {p.kind:<6} {rng}{scale}{limit}  {p.label}{alias}{default}")
        print(
            "simplest first by: "
            + ", ".join(f"{k} {'ascending' if a else 'descending'}" for k, a in m.complexity_order)
        )
        if m.option_names:
            print(f"options (engine settings outside the grid): {', '.join(m.option_names)}")
        return 0
    rows = []
    for name, cls in registry().items():
        if args.mode and args.mode not in cls.modes:
            continue
        if args.engine and args.engine != cls.engine:
            continue
        if args.tag and not any(args.tag.lower() in t.lower() for t in cls.tags):
            continue
        short = {"classification": "class", "regression": "reg"}
        rows.append((name, cls.engine, "+".join(short[m] for m in cls.modes), cls.label))
    if not rows:
        engines = sorted({c.engine for c in registry().values()})
        tags = sorted({t for c in registry().values() for t in c.tags})
        print(
            f"no model matches these filters; engines: {', '.join(engines)}; "
            f"tags: {', '.join(tags)}",
            file=sys.stderr,
        )
        return 1
    wide = [max(len(r[i]) for r in [("name", "engine", "modes")] + rows) + 2 for i in range(3)]
    for name, engine, modes, label in [("name", "engine", "modes", "label")] + rows:
        print(f"{name:<{wide[0]}}{engine:<{wide[1]}}{modes:<{wide[2]}}{label}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from .store import Store

    store = Store.open(args.store)
    if args.action == "list":
        table = store.runs()
        print(table.to_string(index=False) if len(table) else f"no runs in {store.url}")
        return 0
    if not args.ids or (args.action == "show" and len(args.ids) != 1):
        raise ValueError(
            f"runs {args.action} needs {'one run id' if args.action == 'show' else 'run ids'}"
        )
    if args.action == "show":
        info = store.run(args.ids[0])
        print(json.dumps(info, indent=2, default=str))
        arts = info["artifacts"]
        print(f"\nartifacts ({len(arts)}):")
        if arts:
            table = pd.DataFrame(
                [
                    {"name": k, "format": a["fmt"], "bytes": a["size"], "sha256": a["sha256"][:16]}
                    for k, a in arts.items()
                ]
            )
            print(table.to_string(index=False))
        return 0
    rows = []
    infos = {i: store.run(i) for i in args.ids}
    for i, r in infos.items():
        summary = r.get("summary") or {}
        rows.append(
            {
                "run": i,
                "experiment": r.get("experiment"),
                "fit": r.get("fit"),
                "status": r.get("status"),
                "metric": summary.get("metric"),
                "value": summary.get("value"),
                "best_params": summary.get("best_params"),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    if len(args.ids) > 1:
        from .restore import stored_comparison
        from .store import StoreError

        try:
            comp = stored_comparison(store, args.ids, infos=infos)
        except StoreError as e:
            print(f"\n{e}; only the table above is shown")
            return 0
        print(f"\n== resamples (hash {comp.resample_hash[:16]}; from the stored metrics)")
        print(repr(comp))
        print()
        print(repr(comp.summary()))
        for d in (comp.diff(), comp.diff(test="corrected_t", adjustment="holm")):
            print(repr(d))
    return 0


def _stored_report(args: argparse.Namespace) -> int:
    """``leanfit report --run ID``: the report of stored runs, refitting nothing."""
    from pathlib import Path

    from .paths import safe_filename
    from .restore import write_stored_report
    from .store import Store

    with Store.open(args.store) as store:
        try:
            slug = safe_filename(args.run)  # the one mapping of names to file names
        except ValueError:
            slug = "runs"
        path = Path(args.output) if args.output else Path("leanfit-out") / f"report-{slug}.html"
        write_stored_report(store, args.run, path)
    print(f"report written to {path}")
    return 0


# -- shipping: `leanfit bundle` and `leanfit predict` ------------------------------------------


def _ship_parsers(sub: Any) -> None:
    """The ``bundle`` and ``predict`` sub-commands."""
    bun = sub.add_parser(
        "bundle",
        help="save a stored run's fit as one bundle file (.lfb) to ship",
        description="Rebuild a finished run from the experiment store (refitting nothing) and "
        "save it as one bundle file: the model (ONNX where it reproduces the fit, else the "
        "store's pickle-free formats), the input schema, training metrics, versions, a "
        "reference sample for drift monitoring and the SHA-256 of every part.",
    )
    bun.add_argument(
        "--run",
        required=True,
        help="a run id, or an experiment name (then --fit picks its fit when it has several)",
    )
    bun.add_argument("--fit", default=None, help="the fit's name within the experiment")
    bun.add_argument("-o", "--output", required=True, help="bundle file to write, e.g. model.lfb")
    bun.add_argument("--store", default=None, help="store URL (default as for `run`)")
    bun.add_argument(
        "--explain",
        action="store_true",
        help="also keep the fit's own model (engine format or skops) beside its ONNX graph, so "
        "`leanfit serve` answers POST /predict?explain=true with attributions",
    )
    pre = sub.add_parser(
        "predict",
        help="score a CSV or Parquet file with a bundle, in chunks",
        description="Stream INPUT (.csv or .parquet) through a bundle in chunks, with constant "
        "memory: each chunk is checked against the bundle's schema, predicted, and appended to "
        "OUTPUT (.parquet or .csv: `row`, the input row number from 0, `prediction` and, for "
        "classes, `prob_<class>`). Rows that fail the schema (a missing or extra field, a wrong "
        "type, an unseen factor level, a missing value the model cannot take) are written with "
        "their reason to the rejects file, never dropped. Prints the counts.",
    )
    pre.add_argument("bundle", help="bundle file (.lfb) from `leanfit bundle` or lf.save_bundle")
    pre.add_argument("input", help="rows to score: .csv or .parquet")
    pre.add_argument("-o", "--output", required=True, help="predictions: .parquet or .csv")
    pre.add_argument(
        "--chunk-rows", type=int, default=50_000, help="rows per chunk (default 50000)"
    )
    pre.add_argument(
        "--rejects",
        default=None,
        help="where rejected rows go, with their reason (.csv or .parquet; default "
        "<output stem>.rejects.csv, written only when a row is rejected)",
    )
    pre.add_argument(
        "--ignore-extra",
        action="store_true",
        help="let input columns the model does not use (ids, the target) pass instead of "
        "rejecting their rows",
    )
    pre.add_argument(
        "--threads", type=int, default=1, help="ONNX Runtime threads (default 1: one core)"
    )
    pre.add_argument("-q", "--quiet", action="store_true", help="no progress report")


def _bundle(args: argparse.Namespace) -> int:
    """``leanfit bundle --run ID -o model.lfb``: a stored run's fit as one bundle file."""
    from .bundle import load_bundle, save_bundle
    from .restore import resolve_runs, restore_fit
    from .store import Store, StoreError

    with Store.open(args.store) as store:
        ids = resolve_runs(store, args.run)
        infos = {i: store.run(i) for i in ids}
        if args.fit is not None:
            ids = [i for i in ids if infos[i]["fit"] == args.fit]
            if not ids:
                fits = sorted({str(v["fit"]) for v in infos.values()})
                raise StoreError(f"--run {args.run} has no fit named {args.fit!r}; fits: {fits}")
        if len(ids) != 1:
            listed = ", ".join(f"{i} ({infos[i]['fit']})" for i in ids)
            raise StoreError(
                f"--run {args.run} names {len(ids)} runs ({listed}); pick one with --fit NAME or a "
                "run id"
            )
        fit = restore_fit(store, ids[0])
    path = save_bundle(fit, args.output, explain=bool(getattr(args, "explain", False)))
    size = path.stat().st_size
    b = load_bundle(path)  # read back: the file written is verified before it is announced
    print(
        f"bundle of run {ids[0]} ({fit.method}, runtime {b.runtime}) written to {path} "
        f"({size:,} bytes)"
    )
    if b.info.get("onnx_note"):
        print(f"note: {b.info['onnx_note']}")
    return 0


def _predict(args: argparse.Namespace, state: dict[str, Any]) -> int:
    """``leanfit predict BUNDLE INPUT -o OUTPUT``: chunked batch scoring with rejects."""
    import time

    from .bundle import load_bundle
    from .bundle.batch import predict_file

    b = load_bundle(args.bundle, threads=args.threads)
    t0 = time.perf_counter()
    state["running"] = True
    counts = predict_file(
        b,
        args.input,
        args.output,
        chunk_rows=args.chunk_rows,
        rejects=args.rejects,
        extra="ignore" if args.ignore_extra else "reject",
        progress=not args.quiet,
    )
    secs = time.perf_counter() - t0
    print(
        f"{counts.rows:,} rows read, {counts.predicted:,} predicted -> {counts.output}, "
        f"{counts.rejected:,} rejected"
        + (f" -> {counts.rejects}" if counts.rejects else "")
        + f" ({secs:.1f} s)"
    )
    return 0


# -- serving: `leanfit serve` ------------------------------------------------------------------


def _serve_parser(sub: Any) -> None:
    """The ``serve`` sub-command."""
    srv = sub.add_parser(
        "serve",
        help="serve a bundle over HTTP (POST /predict, /livez, /readyz, /metrics)",
        description="Serve a bundle (or a stored run, bundled first) over HTTP: POST /predict "
        'takes one JSON object (a row), a list of them or {"rows": [...]}, and answers the '
        "prediction and, for classes, the probabilities. Rows are checked against the bundle's "
        "schema: bad input gets a 4xx answer naming the field and what was expected. /livez, "
        "/readyz and /metrics (Prometheus) beside it. SIGTERM stops it gracefully.",
    )
    srv.add_argument("bundle", nargs="?", help="bundle file (.lfb) to serve")
    srv.add_argument("--run", default=None, help="serve a stored run instead (bundled first)")
    srv.add_argument("--fit", default=None, help="with --run: the fit's name in the experiment")
    srv.add_argument("--store", default=None, help="with --run: store URL (default as for `run`)")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    srv.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1); metrics summed"
    )
    srv.add_argument(
        "--token-file",
        default=None,
        help="file holding a bearer token required on /predict and /metrics (not /livez, /readyz)",
    )
    srv.add_argument(
        "--max-body",
        type=int,
        default=1_000_000,
        help="largest request body in bytes (default 1000000); larger ones get 413",
    )
    srv.add_argument(
        "--log-dir", default=None, help="write a sample of requests and predictions as Parquet"
    )
    srv.add_argument(
        "--log-sample", type=float, default=0.1, help="share of rows logged (default 0.1)"
    )
    srv.add_argument(
        "--log-rows", type=int, default=10_000, help="rows per log file (default 10000)"
    )
    srv.add_argument(
        "--log-files", type=int, default=100, help="log files kept, oldest removed (default 100)"
    )
    srv.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")


def _serve(args: argparse.Namespace) -> int:
    """``leanfit serve BUNDLE`` / ``--run ID``."""
    import tempfile
    from pathlib import Path

    from .serve import ServeOptions
    from .serve.run import serve

    if (args.bundle is None) == (args.run is None):
        raise ValueError("serve needs a BUNDLE file or --run ID (not both)")
    opts = ServeOptions(
        max_body=args.max_body,
        log_dir=None if args.log_dir is None else Path(args.log_dir),
        log_sample=args.log_sample,
        log_rows=args.log_rows,
        log_files=args.log_files,
    )
    kw: dict[str, Any] = dict(
        host=args.host,
        port=args.port,
        workers=args.workers,
        options=opts,
        token_file=args.token_file,
        log_level=args.log_level,
    )
    if args.bundle is not None:
        return serve(args.bundle, **kw)
    with tempfile.TemporaryDirectory(prefix="leanfit-serve-") as tmp:
        path = Path(tmp) / "run.lfb"
        # a stored run's fit is in the store's formats already: keep it, so ?explain=true works
        ns = argparse.Namespace(
            run=args.run, fit=args.fit, output=str(path), store=args.store, explain=True
        )
        _bundle(ns)
        return serve(path, **kw)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM during a run: unwinds like Ctrl-C (workers stopped on the way),
    remembering which signal it was for the exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupting(received: list[int]) -> Callable[[int, Any], None]:
    """A signal handler turning SIGINT / SIGTERM into ``Interrupted`` in the main thread, and
    noting the signal in ``received``: an exception raised while a finalizer runs (a
    ``__del__``) is printed and dropped by Python, so the run checks the note as well."""

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        raise Interrupted(signum)

    return handler


def _interrupted(err: KeyboardInterrupt, store: Store | None, experiment: str | None) -> int:
    """Say in one line what an interrupted run kept and how to resume it; the exit status is
    128 + the signal's number, as a shell reports a process ended by it."""
    signum = err.signum if isinstance(err, Interrupted) else signal.SIGINT
    if store is None:
        line = "nothing was kept (--no-store); running the same command again starts over"
    elif experiment is None:
        line = "stopped while planning, before any fit ran; nothing to resume"
    else:
        from .store import _display

        try:
            runs = store.runs()
            n = str(int(runs.loc[runs["experiment"] == experiment, "n_tasks"].sum()))
        except Exception:  # the count is a courtesy; the saved results are what matter
            n = "the finished"
        line = (
            f"{n} task results of experiment {experiment!r} saved in {_display(store.url)}; "
            "run the same command again to resume"
        )
    print(f"leanfit: interrupted: {line}", file=sys.stderr)
    return 128 + int(signum)


def _run(args: argparse.Namespace, state: dict[str, Any]) -> int:
    """``leanfit run``: plan every fit, then run them into the store; SIGINT and SIGTERM stop
    it cleanly (workers ended, one line saying what was saved). ``state`` tells the caller
    where results go and whether the run started, for a refused write's message."""
    import threading

    from .experiment import check_outputs, load_experiment, run_experiment

    store, name = None, None
    handlers = {}
    received: list[int] = []
    if threading.current_thread() is threading.main_thread():
        on_signal = _interrupting(received)
        handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from .store import Store, store_exists

        # A store that exists already is opened first: a seedless config reuses the seed it
        # keeps. A new one is created only once the config passed every check, so a config
        # error leaves no empty leanfit.db; an unreachable server still fails before any fit.
        if not args.no_store and store_exists(args.store):
            store = Store.open(args.store)
        exp = load_experiment(
            args.config,
            n_jobs=args.n_jobs,
            output=args.output,
            verbose=not args.quiet,
            allow_large=args.allow_large,
            store=store,
        )
        check_outputs(exp)
        if not args.no_store and store is None:
            store = Store.open(args.store)
        name = exp.name
        state.update(dest=exp.output or exp.report, running=True)
        run_experiment(exp, store=store)
        if received:  # the signal's exception was dropped inside a finalizer
            raise Interrupted(received[0])
        return 0
    except KeyboardInterrupt as err:
        for s in handlers:  # a second signal must not cut the message short
            signal.signal(s, signal.SIG_IGN)
        return _interrupted(err, store, name)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
        if store is not None:
            store.close()


def _os_error(e: OSError, dest: object, running: bool) -> str:
    """One line for a file the system refused (full disk, read-only, a file where a folder
    should be): the path (else ``dest``, the output being written) and the reason."""
    reason = e.strerror or str(e) or type(e).__name__
    if e.filename is not None:
        target = f"{e.filename!s}" + (f" -> {e.filename2!s}" if e.filename2 else "")
    elif dest is not None:
        target = str(dest)
    else:
        target = None
    line = reason if target is None else f"{reason}: {target!r}"
    return line + ("; output written before this is kept" if running else "")


def _run_failure(e: Exception, args: argparse.Namespace) -> str | None:
    """One line for the experiment store or the Dask cluster failing mid-command, or None when
    ``e`` is neither (then it is a bug and its traceback is shown)."""
    import os

    from .execute.dask import ClusterError

    if isinstance(e, ClusterError):
        return str(e)
    module = type(e).__module__.split(".")[0]
    if module not in ("sqlalchemy", "psycopg", "psycopg2", "sqlite3"):
        return None
    from .store import DEFAULT_URL, _display

    url = _display(getattr(args, "store", None) or os.environ.get("LEANFIT_STORE") or DEFAULT_URL)
    lines = str(getattr(e, "orig", None) or e).strip().splitlines()
    reason = lines[0] if lines else type(e).__name__
    if args.command in ("run", "report", "distill", "compress", "retrain"):
        return (
            f"lost the experiment store {url} mid-run ({reason}); the task results stored so far "
            "are kept: run the same command again to resume"
        )
    return f"the experiment store {url} failed: {reason}"


# --- leanfit retrain ------------------------------------------------------------------------


def _retrain_parser(sub: Any) -> None:
    """The ``retrain`` sub-command."""
    ret = sub.add_parser(
        "retrain",
        help="retrain a stored experiment's champion on new data; promote it if not worse",
        description="Re-run the stored experiment's champion (its best fit, or --fit NAME, or "
        "the challenger a previous retrain promoted) on new data, with the champion's "
        "parameters (or tuned again with --tune); score the champion as it stands and the "
        "challenger refitted per resample on the same resamples of the new data, with paired "
        "t-tests; promote the challenger's bundle only if its mean metric is not worse by "
        "--margin (the replaced bundle is kept as <stem>.v1.lfb, .v2.lfb, ...). New data whose "
        "columns do not match the champion's schema is refused before any fit. The decision "
        "and its numbers go into the store (`renewal` artifact of the challenger's run).",
    )
    ret.add_argument("config", help="the experiment YAML the champion was run from")
    ret.add_argument("--data", required=True, help="the new rows: a CSV file")
    ret.add_argument("--fit", default=None, help="the champion's fit name (default: the best)")
    ret.add_argument(
        "--tune", action="store_true", help="tune again (default: the champion's parameters)"
    )
    ret.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="how much worse (in the metric's units) the challenger may be and still be "
        "promoted (default 0)",
    )
    ret.add_argument(
        "--bundle",
        default=None,
        help="the bundle file holding the current model (default <output or .>/<name>.lfb)",
    )
    ret.add_argument("--report", default=None, help="write an HTML report of the decision")
    ret.add_argument("--store", default=None, help="store URL (default as for `run`)")
    ret.add_argument("-j", "--n-jobs", type=int, default=None, help="worker processes")


def _retrain(args: argparse.Namespace) -> int:
    """``leanfit retrain CONFIG --data new.csv``: the renewal's decision, printed."""
    from .renewal import retrain

    retrain(
        args.config,
        args.data,
        store=args.store,
        fit=args.fit,
        tune=args.tune,
        margin=args.margin,
        bundle=args.bundle,
        report=args.report,
        n_jobs=args.n_jobs,
    )
    return 0


# --- leanfit monitor ------------------------------------------------------------------------


def _monitor_parser(sub: Any) -> None:
    mon = sub.add_parser(
        "monitor",
        help="drift, violations and performance of new data against a bundle's reference",
        description="Compare current rows with the reference rows of a bundle (.lfb) or of a "
        "CSV/Parquet file: per-column drift (Evidently's default tests), prediction drift, "
        "missing-value and range violations, and performance once labels arrive. The current "
        "rows come from a file (--current) or from a server's request logs (--logs DIR, with "
        "--since / --until). Exit code 0: no drift; 1: data-set or prediction drift; 2: bad input.",
    )
    mon.add_argument("reference", help="a bundle file (.lfb) or a CSV/Parquet of reference rows")
    cur = mon.add_mutually_exclusive_group(required=True)
    cur.add_argument("--current", help="current rows (CSV or Parquet)")
    cur.add_argument(
        "--logs",
        metavar="DIR",
        help="the request logs of `leanfit serve --log-dir DIR` as current rows, with their "
        "logged predictions",
    )
    mon.add_argument(
        "--since",
        metavar="TIME",
        help="with --logs: rows logged at or after TIME (ISO 8601, e.g. 2026-12-01T00:00; UTC "
        "unless an offset is given)",
    )
    mon.add_argument(
        "--until", metavar="TIME", help="with --logs: rows logged before TIME (ISO 8601)"
    )
    mon.add_argument(
        "--labels", help="labels for current rows (CSV or Parquet), joined on --id-column"
    )
    mon.add_argument("--id-column", help="the column joining labels to current rows")
    mon.add_argument("--target", help="the outcome column (in labels and the reference rows)")
    mon.add_argument("--html", help="write the HTML monitoring report here")
    mon.add_argument("--json", help="write the JSON result here")
    mon.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        help="share of drifted columns that means data-set drift (default 0.5)",
    )


def _read_table(path: str, what: str) -> Any:
    import pandas as pd

    low = path.lower()
    if low.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if low.endswith((".csv", ".csv.gz", ".txt")):
        return pd.read_csv(path)
    raise ValueError(f"{what} {path!r}: expected a .csv or .parquet file")


def _monitor(args: argparse.Namespace) -> int:
    from .monitoring import monitor, read_request_logs
    from .monitoring.logs import parse_time

    if args.logs is None and (args.since or args.until):
        raise ValueError("--since and --until select request logs: give them with --logs DIR")
    parse_time(args.since, "--since")  # a malformed time fails before the bundle is read
    parse_time(args.until, "--until")

    reference: Any
    if args.reference.lower().endswith(".lfb"):
        try:
            from .bundle import load_bundle  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError as e:
            raise ValueError(f"reading bundle {args.reference!r} needs leanfit.bundle: {e}") from e
        reference = load_bundle(args.reference)
    else:
        reference = _read_table(args.reference, "reference")
    if args.logs is not None:
        current = read_request_logs(args.logs, since=args.since, until=args.until)
    else:
        current = _read_table(args.current, "--current")
    labels = _read_table(args.labels, "--labels") if args.labels else None
    res = monitor(
        reference,
        current,
        labels=labels,
        id_column=args.id_column,
        target=args.target,
        drift_share=args.drift_share,
    )
    if args.json:
        res.to_json(args.json)
    if args.html:
        res.to_html(args.html)
    verdict = "drift detected" if res.exit_code else "no drift"
    moved = "yes" if res.prediction_drift else "no"
    print(
        f"{verdict}: {res.n_drifted} of {len(res.columns)} columns drifted "
        f"({res.share_drifted:.0%}), prediction drift: {moved}, {len(res.violations)} violation(s)"
    )
    return res.exit_code


# --- end of leanfit monitor -----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `leanfit models | head`: the reader left; not an error
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    # dest: where results are being written, named when the system refuses a write; running:
    # past every check, so a failure now is the system's, not the input's (exit 1)
    state: dict[str, Any] = {"dest": None, "running": False}
    try:
        if args.command == "run":
            return _run(args, state)
        if args.command == "report":
            from pathlib import Path

            from .experiment import load_experiment, run_experiment

            if (args.config is None) == (args.run is None):
                raise ValueError("report needs an experiment CONFIG or --run ID (not both)")
            if args.run is not None:
                state.update(dest=args.output or "leanfit-out", running=True)
                return _stored_report(args)

            exp = load_experiment(args.config, n_jobs=args.n_jobs, verbose=False)
            exp.output = None
            exp.report = (
                Path(args.output)
                if args.output
                else (exp.report or Path("leanfit-out") / "report.html")
            )
            state.update(dest=exp.report, running=True)
            run_experiment(exp, echo=lambda *a: None)
            print(f"report written to {exp.report}")
            return 0
        if args.command == "distill":
            from .distill_config import run_distill_config

            run_distill_config(args.config, store=args.store)
            return 0
        if args.command == "compress":
            from .compress_config import run_compress_config

            state.update(dest=args.output, running=True)
            run_compress_config(args.config, store=args.store, model_path=args.output)
            return 0
        if args.command == "leaderboard":
            from .leaderboard_config import run_leaderboard_config

            state.update(dest=args.output, running=False)
            run_leaderboard_config(args.config, n_jobs=args.n_jobs, output=args.output)
            return 0
        if args.command == "runs":
            return _runs(args)
        if args.command == "models":
            return _models(args)
        if args.command == "serve":
            state.update(dest=args.log_dir)
            return _serve(args)
        if args.command == "monitor":
            return _monitor(args)
        if args.command == "retrain":
            state.update(dest=args.bundle or args.report, running=False)
            return _retrain(args)
        if args.command in ("bundle", "predict"):
            state.update(dest=args.output)
            return _bundle(args) if args.command == "bundle" else _predict(args, state)
    except OSError as e:
        if e.errno is None:  # ours: a config file that does not exist
            print(f"leanfit: error: {e}", file=sys.stderr)
            return 2
        print(f"leanfit: error: {_os_error(e, state['dest'], state['running'])}", file=sys.stderr)
        return 1 if state["running"] else 2
    except (ValueError, TypeError, MemoryError) as e:
        print(f"leanfit: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        line = _run_failure(e, args)
        if line is None:
            raise  # not a known failure of the disk, store or cluster: a bug, show it all
        print(f"leanfit: error: {line}", file=sys.stderr)
        return 1
    _parser().print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
