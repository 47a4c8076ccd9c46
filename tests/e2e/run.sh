#!/usr/bin/env bash
# End-to-end tests of the preview page: builds the CLI, writes the demo reel and the
# timeline demo (`demo --timeline`) and their preview packages, serves each on loopback,
# and runs specs/ with node's test runner against Debian's Chromium through
# playwright-core. Exits non-zero on failure.
#
#   tests/e2e/run.sh            (SHOTS=DIR keeps the screenshots there)
#
# First it runs the wasm API tests (wasm/tests/web.rs) in headless Chromium with
# wasm-bindgen-test (SKIP_WASM_TESTS=1 skips them).
# Needs: node >= 18, npm, /usr/bin/chromium (or CHROMIUM=path), /usr/bin/chromedriver,
# wasm-bindgen-cli 0.2.130, rustup target wasm32-unknown-unknown.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/dubstage-e2e.XXXXXX")"
shots="${SHOTS:-$work/shots}"
mkdir -p "$shots"
servers=()
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }
cleanup() {
  for s in "${servers[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  if [ -z "${KEEP:-}" ]; then rm -rf "$work/demo" "$work/pkg" "$work/timeline" "$work/tlpkg"; fi
}
trap cleanup EXIT

if [ -z "${SKIP_WASM_TESTS:-}" ]; then
  step "wasm API tests (headless Chromium)"
  # Same flags as www/build.sh, so the release dependencies it built are reused.
  (
    cd "$root/wasm"
    export RUSTFLAGS="--remap-path-prefix=$root=/dubstage --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
    CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    WASM_BINDGEN_TEST_TIMEOUT=120 \
      cargo test --release -p dubstage-wasm --target wasm32-unknown-unknown
  )
fi

step "build"
cargo build --quiet --release --bin dubstage
bin="$root/target/release/dubstage"

step "demo reel + preview package ($work)"
"$bin" demo --out "$work/demo" --minutes 1 --quiet
video=()
if command -v ffmpeg >/dev/null; then
  # a picture proxy with a burnt-in running clock, from the reel's first frame
  ffmpeg -hide_banner -loglevel error -y -f lavfi \
    -i "testsrc2=size=160x90:rate=24000/1001:duration=60" \
    -c:v libvpx -deadline realtime -cpu-used 8 -b:v 200k -g 24 "$work/proxy.webm"
  video=(--video "$work/proxy.webm" --video-offset 0)
else
  echo "   (no ffmpeg: the picture test is skipped)"
fi
"$bin" preview "$work/demo/session.toml" --out "$work/pkg" "${video[@]}"

step "timeline demo + preview package"
"$bin" demo --timeline --out "$work/timeline" --quiet
"$bin" preview "$work/timeline/session.toml" --out "$work/tlpkg"

# serve SESSION PKG NAME: serves PKG on loopback (a random free port, a random token in the
# URL: the default) and sets $url to its address
serve() {
  local log="$work/serve-$3.log"
  "$bin" preview "$1" --out "$2" --no-write --serve >"$log" 2>&1 &
  servers+=($!)
  url=""
  for _ in $(seq 1 100); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/[0-9a-f]*/' "$log" || true)"
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
  echo "   $url"
}
step "serve"
serve "$work/timeline/session.toml" "$work/tlpkg" timeline
tl_url="$url"
serve "$work/demo/session.toml" "$work/pkg" demo

step "npm"
cd "$root/tests/e2e"
if [ ! -d node_modules/playwright-core ]; then npm ci --no-audit --no-fund; fi

step "specs"
DUBSTAGE_URL="$url" DUBSTAGE_PKG="$work/pkg" DUBSTAGE_BIN="$bin" DUBSTAGE_SHOTS="$shots" \
  DUBSTAGE_SESSION="$work/demo/session.toml" \
  DUBSTAGE_TL_URL="$tl_url" DUBSTAGE_TL_PKG="$work/tlpkg" DUBSTAGE_TL_SESSION="$work/timeline/session.toml" \
  node --test --test-concurrency=1 specs/
step "done; screenshots: $shots"
