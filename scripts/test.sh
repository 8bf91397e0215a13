#!/usr/bin/env bash
# The test command: installs leanfit with its dev extras into .venv, lints, runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/python -m pytest -q "$@"
