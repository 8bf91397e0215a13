#!/usr/bin/env bash
# The test command: installs leanfit with its dev extras into .venv, lints, type-checks, runs
# the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
# Real services for the tests: Chromium renders the HTML report (playwright drives it) and a
# throwaway PostgreSQL server (started by the tests on loopback) backs the experiment store.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
  else
    echo "tests need Debian's ${need[*]}: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
.venv/bin/ruff check src tests benchmarks
# The layers (pyproject.toml [tool.importlinter]): no upward imports, no import circles.
.venv/bin/lint-imports
# Types: the [tool.mypy] configuration in pyproject.toml (files, strictness, what is relaxed).
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
