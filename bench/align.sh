#!/usr/bin/env bash
# ADR alignment benchmark: `dubstage dialogue align` on known warps of real
# speech (Debian alsa-utils' voice recordings, warped by Rubber Band with a
# time map, then put in another "room": EQ, level and noise), measured by
# local cross-correlation against the guide in 200 ms windows (bench/align.py).
# Goals (issue 15): median error <= 10 ms, 95th percentile <= 25 ms; a dub
# equal to the guide is copied byte for byte. Exits 1 when a goal is missed.
#
#   nice bash bench/align.sh
#
# Env: OUT (scratch, default /tmp/dubstage-align-bench), PY (python3),
# BIN (dubstage binary, default: build target/release/dubstage).
set -eu -o pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-python3}
OUT=${OUT:-/tmp/dubstage-align-bench}
mkdir -p "$OUT"
need=()
[ -e /usr/share/sounds/alsa/Front_Center.wav ] || need+=(alsa-utils)
command -v rubberband >/dev/null || need+=(rubberband-cli)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
$PY -c "import soundfile, scipy, numpy" 2>/dev/null || $PY -m pip install -q soundfile scipy numpy
if [ -z "${BIN:-}" ]; then
  (cd "$HERE" && cargo build --release -q -p dubstage) >&2
  BIN=$HERE/target/release/dubstage
fi
$PY "$HERE/bench/align.py" --bin "$BIN" --out "$OUT" --json "$OUT/results.json"
