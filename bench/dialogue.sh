#!/usr/bin/env bash
# Dialogue noise-reduction benchmark: dubstage's spectral and RNNoise engines
# against ffmpeg afftdn and PyPI noisereduce on real speech (Debian alsa-utils'
# voice recordings) mixed with pink, brown, HVAC, traffic and alsa's Noise.wav
# at 0, 5 and 10 dB SNR; wide-band PESQ, STOI, residual noise in the pauses and
# the output delay (bench/dialogue.py). Then the spectral engine's speed on a
# 10-minute mono file, on one core (taskset), as a multiple of real time per
# CPU-second.
#
#   nice bash bench/dialogue.sh              # 6 voices x 5 noises x 3 SNRs
#   VOICES=2 nice bash bench/dialogue.sh     # quick
#
# Env: OUT (scratch, default /tmp/dubstage-dialogue-bench), PY (python3),
# BIN (dubstage binary, default: build target/release/dubstage), VOICES (1-6),
# REDUCTION (max reduction in dB given to every tool, default 20), SPEED_MIN (10).
set -eu -o pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-python3}
OUT=${OUT:-/tmp/dubstage-dialogue-bench}
VOICES=${VOICES:-6}; REDUCTION=${REDUCTION:-20}; SPEED_MIN=${SPEED_MIN:-10}
mkdir -p "$OUT"

if [ ! -e /usr/share/sounds/alsa/Front_Center.wav ]; then
  echo "installing alsa-utils (the voice recordings) ..." >&2
  apt-get update -qq && apt-get install -y -qq --no-install-recommends alsa-utils >/dev/null
fi
command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }
$PY -c "import pesq, pystoi, noisereduce, soundfile, scipy, numpy" 2>/dev/null \
  || $PY -m pip install -q pesq pystoi noisereduce soundfile scipy numpy
if [ -z "${BIN:-}" ]; then
  (cd "$HERE" && cargo build --release -q -p dubstage) >&2
  BIN=$HERE/target/release/dubstage
fi

echo "== quality (bench/dialogue.py)"
$PY "$HERE/bench/dialogue.py" --bin "$BIN" --out "$OUT" --voices "$VOICES" \
  --reduction "$REDUCTION" --json "$OUT/results.json"

echo
echo "== speed: ${SPEED_MIN}-minute mono 48 kHz float file, one core"
LONG=$OUT/long.wav
$PY - "$LONG" "$SPEED_MIN" <<'EOF'
import sys, numpy as np, soundfile as sf
path, minutes = sys.argv[1], float(sys.argv[2])
base, _ = sf.read("/usr/share/sounds/alsa/Front_Center.wav", dtype="float32")
n = int(minutes * 60 * 48000)
x = np.tile(base, n // len(base) + 1)[:n] + 0.01 * np.random.default_rng(1).standard_normal(n).astype("float32")
sf.write(path, x, 48000, subtype="FLOAT")
EOF
for engine in spectral rnnoise; do
  for i in 1 2 3; do
    /usr/bin/time -f '%e %U %S' -o "$OUT/time.$engine.$i" taskset -c 0 "$BIN" dialogue denoise "$LONG" \
      --out "$OUT/long_$engine.wav" --engine "$engine" --quiet
  done
  sort -g -k1 "$OUT"/time.$engine.* | awk -v e="$engine" -v m="$SPEED_MIN" \
    'NR==2 {cpu=$2+$3; printf "%-9s median wall %.2f s, CPU %.2f s: %.0fx real time per core\n", e, $1, cpu, m*60/cpu}'
done
echo "(the spectral engine's run includes the room-tone search: two extra reads of the file)"
