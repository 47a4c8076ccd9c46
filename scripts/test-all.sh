#!/usr/bin/env bash
# Every test of dubstage: unit and end-to-end Rust tests (CPU and, on lavapipe or a
# real GPU, the wgpu backend), then the browser tests when their parts exist.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -m700 -p /tmp/xdg-dubstage 2>/dev/null || true
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/xdg-dubstage}
cargo test --workspace --release
if [ -x tests/e2e/run.sh ]; then
  bash tests/e2e/run.sh
fi
