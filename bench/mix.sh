#!/usr/bin/env bash
# Issue #2's benchmark: sum the six 5.1 float stems of ../shared/bench/gen.py's reel into one
# 5.1 float WAV with `dubstage render --no-qc` (the plain sum the issue asks for), with the full
# render (loudness metering and QC of the deliverable, qc/report.*), and with `sox -m` (-v 1 on
# each input, the command of ../shared/bench/run.sh), in the same run on the same page-cached
# files, all on the CPU. Reports the median wall time of RUNS runs each, the ratios, dubstage's
# peak RSS, and checks that the outputs agree.
#
#   bash bench/mix.sh                 10-minute reel (REEL_MIN=10), 3 runs each
#   REEL_MIN=2 RUNS=1 bash bench/mix.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
REEL_MIN=${REEL_MIN:-10}; RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/dubstage-bench-mix-$REEL_MIN}
mkdir -p "$DATA"
command -v sox >/dev/null || { echo "needs sox (apt-get install sox)"; exit 1; }
if [ ! -f "$DATA/reel_dx.wav" ]; then
  echo "generating the ${REEL_MIN}-minute reel into $DATA ..." >&2
  python3 "$SHARED/bench/gen.py" --out "$DATA" --reel-min "$REEL_MIN" --long-min 0.1 --ir-sec 0.1 >/dev/null
fi
(cd "$ROOT" && cargo build --release -q)
BIN=$ROOT/target/release/dubstage
S=$DATA/sum.toml
{
  printf '[reel]\ntitle = "bench"\nframe_rate = "24"\nstart = "00:00:00:00"\nffoa = "00:00:00:00"\nlayout = "5.1"\n'
  printf '[output]\nformat = "float32"\n'
  printf '[[bus]]\nid = "SUM"\n'
  for s in dx mx fx bg fol lfe; do
    printf '[[stem]]\nid = "%s"\nkind = "effects"\nbus = "SUM"\nsource = "reel_%s.wav"\n' "$s" "$s"
  done
  printf '[[deliverable]]\nkind = "printmaster"\nname = "sum_dubstage"\n'
} > "$S"
STEMS=(); SOXIN=(); for s in dx mx fx bg fol lfe; do STEMS+=("$DATA/reel_$s.wav"); SOXIN+=(-v 1 "$DATA/reel_$s.wav"); done
# Every run writes a new file: the previous run's output is deleted first, untimed, for
# every tool alike (sox truncates its output when it opens it, which frees those pages
# for its own writes; on a VM whose freed memory goes back to the host, writing into
# cold pages costs ~1 s of system time per GB, which would otherwise fall on whichever
# tool wrote last).
warm() { cat "${STEMS[@]}" > /dev/null; rm -f "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$DATA/ds.txt"; : > "$DATA/sox.txt"; : > "$DATA/dsqc.txt"
for i in $(seq "$RUNS"); do
  warm "$DATA/out/sum_dubstage.wav"
  /usr/bin/time -f '%e %M' -o "$DATA/t" "$BIN" render "$S" --out "$DATA/out" --quiet --no-qc --backend cpu
  cat "$DATA/t" >> "$DATA/ds.txt"
  warm "$DATA/outqc/sum_dubstage.wav"
  /usr/bin/time -f '%e %M' -o "$DATA/t" "$BIN" render "$S" --out "$DATA/outqc" --quiet --backend cpu
  cat "$DATA/t" >> "$DATA/dsqc.txt"
  warm "$DATA/out/sum_sox.wav"
  /usr/bin/time -f '%e %M' -o "$DATA/t" sox -D -m "${SOXIN[@]}" -e floating-point -b 32 "$DATA/out/sum_sox.wav"
  cat "$DATA/t" >> "$DATA/sox.txt"
done
DS=$(awk '{print $1}' "$DATA/ds.txt" | median); SOX=$(awk '{print $1}' "$DATA/sox.txt" | median)
DSQC=$(awk '{print $1}' "$DATA/dsqc.txt" | median)
RSS=$(awk '{print $2}' "$DATA/ds.txt" | sort -n | tail -1)
RSSQC=$(awk '{print $2}' "$DATA/dsqc.txt" | sort -n | tail -1)
python3 - "$DATA/out/sum_dubstage.wav" "$DATA/out/sum_sox.wav" "$DATA/outqc/sum_dubstage.wav" <<'PY'
import sys, numpy as np, soundfile as sf
a, _ = sf.read(sys.argv[1], dtype="float32"); b, _ = sf.read(sys.argv[2], dtype="float32")
n = min(len(a), len(b)); d = np.abs(a[:n].astype("f8") - b[:n]).max()
print(f"max |dubstage - sox| = {d:.3e} over {n} frames x {a.shape[1]} channels (lengths {len(a)} / {len(b)})")
q, _ = sf.read(sys.argv[3], dtype="float32")
print("--no-qc and QC renders:", "same audio" if np.array_equal(a, q) else "DIFFERENT AUDIO")
PY
echo "reel: ${REEL_MIN} min, six 5.1 float stems; runs: $RUNS (median); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dubstage render --no-qc: ${DS} s (peak RSS $((RSS / 1024)) MB)"
echo "dubstage render (QC):    ${DSQC} s (peak RSS $((RSSQC / 1024)) MB)"
echo "sox -m:                  ${SOX} s"
awk -v a="$DS" -v b="$SOX" 'BEGIN { printf "ratio dubstage --no-qc / sox: %.3f (target <= 0.25)\n", a / b }'
awk -v a="$DSQC" -v b="$SOX" 'BEGIN { printf "ratio dubstage with QC / sox: %.3f\n", a / b }'
