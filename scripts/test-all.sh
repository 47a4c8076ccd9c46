#!/usr/bin/env bash
# Every test of dubstage: unit and end-to-end Rust tests (CPU and, on lavapipe or a
# real GPU, the wgpu backend), then the browser tests. First installs what the
# tests need when it is missing (scripts/test-deps.sh: apt packages, rustup
# target and components, wasm-bindgen-cli, npm packages); quick when all is there.
# DUBSTAGE_NO_INSTALL=1 installs nothing and fails, listing what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DUBSTAGE_NO_INSTALL:-}" ]; then
  bash scripts/test-deps.sh --check
else
  bash scripts/test-deps.sh
fi
# The Python reference readers' virtual environment, where test-deps.sh had to make one.
pyref="${DUBSTAGE_PYREF:-$HOME/.cache/dubstage/pyref}"
if [ -z "${DUBSTAGE_PYTHON:-}" ] && ! python3 -c "import pycmx, opentimelineio" >/dev/null 2>&1 &&
  [ -x "$pyref/bin/python3" ]; then
  export DUBSTAGE_PYTHON="$pyref/bin/python3"
fi
mkdir -m700 -p /tmp/xdg-dubstage 2>/dev/null || true
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/xdg-dubstage}
cargo test --workspace --release
bash tests/e2e/run.sh
# A feature through a throwaway single-node Slurm: same bytes as on one machine.
bash scripts/slurm-local.sh test
