#!/usr/bin/env bash
# Convolution benchmark: dubstage's streaming UPOLS engine vs ffmpeg afir vs
# scipy oaconvolve, on the 10-min 5.1 stem of ../shared/bench/gen.py with its
# 2-s stereo IR mapped L,R,L,L,L,R (the task (iv) of ../shared/bench/run.sh).
#
#   bash bench/convolve.sh            # full size (10-min reel, 2-s IR), median of 3
#   REEL_MIN=1 RUNS=1 bash bench/convolve.sh     # quick
#
# Env: SHARED (the shared kit, default ../shared beside the checkout), DATA (material,
# default /tmp/peers), OUT (outputs, default $DATA/conv),
# RUNS (default 3), PY (default python3), BIN (dubstage binary, default: build
# target/release/dubstage), THREADS (RAYON_NUM_THREADS for dubstage, default: all).
# Needs ffmpeg, python3 with numpy scipy soundfile (pip install numpy scipy soundfile).
set -eu -o pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
PY=${PY:-python3}
REEL_MIN=${REEL_MIN:-10}; IR_SEC=${IR_SEC:-2}; RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/peers}; OUT=${OUT:-$DATA/conv}
mkdir -p "$DATA" "$OUT"

have=$($PY -c "import json; p=json.load(open('$DATA/manifest.json'))['params']; print('%g %g' % (p['reel_min'], p['ir_sec']))" 2>/dev/null || true)
if [ "$have" != "$(printf '%g %g' "$REEL_MIN" "$IR_SEC")" ]; then
  echo "generating material (reel $REEL_MIN min, IR $IR_SEC s) into $DATA ..." >&2
  $PY "$SHARED/bench/gen.py" --out "$DATA" --reel-min "$REEL_MIN" --long-min 1 --ir-sec "$IR_SEC" >&2
fi
IN=$DATA/reel_dx.wav; IR=$DATA/ir_stereo.wav
if [ -z "${BIN:-}" ]; then
  (cd "$HERE" && cargo build --release -q -p dubstage) >&2
  BIN=$HERE/target/release/dubstage
fi
[ -n "${THREADS:-}" ] && export RAYON_NUM_THREADS=$THREADS

# time_runs NAME CMD...: runs RUNS times, prints "NAME median_wall_s max_rss_MiB"
time_runs() {
  local name=$1; shift
  local walls=() cpus=() rss=0
  for i in $(seq "$RUNS"); do
    cat "$IN" "$IR" > /dev/null   # inputs from the page cache for every tool
    # a new output file for every tool and run (see bench/mix.sh: freed pages go cold)
    for a in "$@"; do case $a in "$OUT"/*.wav) rm -f "$a" ;; esac; done
    /usr/bin/time -f '%e %M %U %S' -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
    read -r w m u s < "$OUT/$name.time"
    walls+=("$w"); cpus+=("$(awk "BEGIN{print $u+$s}")"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med; med=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  local cmed; cmed=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  printf '%-34s wall median %7.2f s (runs: %s)  CPU median %6.2f s  max RSS %5d MiB\n' \
    "$name" "$med" "${walls[*]}" "$cmed" $((rss / 1024))
}

SECS=$(awk "BEGIN{print $REEL_MIN*60}")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== convolution: ${REEL_MIN}-min 5.1 stem x ${IR_SEC}-s stereo IR, map L,R,L,L,L,R; $(nproc) cores; median of $RUNS"
time_runs "dubstage convolve" "$BIN" convolve "$IN" "$IR" "$OUT/conv_dubstage.wav" --map L,R,L,L,L,R
cat "$OUT/dubstage convolve.out"
echo "-- engine alone, one thread, no I/O overlap (CPU time of the convolution itself):"
RAYON_NUM_THREADS=1 "$BIN" convolve "$IN" "$IR" "$OUT/conv_dubstage_seq.wav" --map L,R,L,L,L,R --sequential
cmp -s "$OUT/conv_dubstage_seq.wav" "$OUT/conv_dubstage.wav" && echo "   (bit-identical to the multi-threaded output)"
rm -f "$OUT/conv_dubstage_seq.wav"
IRMAP="[1:a]pan=5.1|c0=c0|c1=c1|c2=c0|c3=c0|c4=c0|c5=c1[ir];[0:a][ir]afir=gtype=none[o]"
time_runs "ffmpeg afir gtype=none" ffmpeg -nostdin -hide_banner -nostats -y -i "$IN" -i "$IR" \
  -filter_complex "$IRMAP" -map "[o]" -c:a pcm_f32le "$OUT/conv_afir.wav"
RUNS_SAVE=$RUNS; RUNS=1
time_runs "scipy oaconvolve f32 (1 run)" $PY "$SHARED/bench/py_peers.py" conv "$IN" "$IR" "$OUT/conv_scipy.wav"
RUNS=$RUNS_SAVE
echo "== differences vs scipy oaconvolve (float32 output, truncated to the input length)"
$PY "$SHARED/bench/py_peers.py" cmp "$OUT/conv_scipy.wav" "$OUT/conv_dubstage.wav" "$OUT/conv_afir.wav"
echo "== dubstage vs a float64 reference (scipy oaconvolve in f64 on the first 20 s, tail included)"
"$BIN" convolve "$IN" "$IR" "$OUT/conv_dubstage_tail.wav" --map L,R,L,L,L,R --tail > /dev/null
$PY - "$IN" "$IR" "$OUT/conv_dubstage_tail.wav" <<'PYEOF'
import sys, numpy as np, soundfile as sf
from scipy import signal
x, sr = sf.read(sys.argv[1], dtype="float64", always_2d=True, frames=20 * 48000)
h, _ = sf.read(sys.argv[2], dtype="float64", always_2d=True)
y, _ = sf.read(sys.argv[3], dtype="float64", always_2d=True)
info = sf.info(sys.argv[3]); xi = sf.info(sys.argv[1])
print(f"output frames {info.frames} = input {xi.frames} + IR {len(h)} - 1: {info.frames == xi.frames + len(h) - 1}")
m = [0, 1, 0, 0, 0, 1]
worst = -999.0
for c in range(x.shape[1]):
    ref = signal.oaconvolve(x[:, c], h[:, m[c]])[: len(x)]
    d = np.max(np.abs(y[: len(x), c] - ref)); p = np.max(np.abs(ref))
    worst = max(worst, 20 * np.log10(d / p) if d > 0 else -999)
print(f"max error re peak over 20 s, 6 channels: {worst:.1f} dB")
# tail: last IR-length frames of the output vs the full-length reference of the end of the input
xe, _ = sf.read(sys.argv[1], dtype="float64", always_2d=True, start=xi.frames - 4 * len(h))
ye = y[-(4 * len(h) + len(h) - 1):]
tw = -999.0
for c in range(xe.shape[1]):
    ref = signal.oaconvolve(xe[:, c], h[:, m[c]])
    # the output near the end also depends on input before xe: compare only the tail part
    d = np.max(np.abs(ye[-(len(h) - 1):, c] - ref[-(len(h) - 1):])); p = np.max(np.abs(ref))
    tw = max(tw, 20 * np.log10(d / p) if d > 0 else -999)
print(f"tail (last {len(h) - 1} frames) error re peak: {tw:.1f} dB")
PYEOF
