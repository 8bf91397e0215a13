#!/usr/bin/env bash
# The test command: installs leanfit with its dev extras into .venv, lints, runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
# The report tests render pages in a real headless Chromium (Debian's; playwright drives it).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/python -m pytest -q "$@"
