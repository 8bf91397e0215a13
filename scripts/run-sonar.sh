#!/usr/bin/env bash
# The main job: the seed's caret workflow on Sonar, end to end, on the bundled data.
# Installs what it needs into .venv, then runs examples/sonar.yaml (results in leanfit-out/sonar).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/leanfit run examples/sonar.yaml "$@"
