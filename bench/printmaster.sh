#!/usr/bin/env bash
# The full default printmaster against ffmpeg: the six 5.1 float stems of
# ../shared/bench/gen.py's reel (dx as dialogue, mx music, fx effects, bg backgrounds,
# fol Foley, lfe effects) rendered by `dubstage render` with `[delivery] profile =
# "ebu-r128"`, the default deliverables (5.1 printmaster, Lo/Ro, M&E, DX/MX/FX stems,
# 24-bit), QC on (two passes: measure, then normalize, limit, write, meter, check); and
# ffmpeg's chain for the printmaster alone: `amix` of the six stems then a two-pass
# `loudnorm` to -23 LUFS / -1 dBTP (pass 1 measures, pass 2 applies it linearly and
# writes a 24-bit 5.1 WAV at 48 kHz). Both are timed in the same run on the same
# page-cached stems, every output deleted (untimed) before each run; medians of RUNS.
#
#   bash bench/printmaster.sh                 10-minute reel (REEL_MIN=10), 3 runs each
#   REEL_MIN=2 RUNS=1 bash bench/printmaster.sh
#
# Env: SHARED (the shared kit, default ../shared beside the checkout), DATA (material and
# outputs), BIN (dubstage binary; default: cargo build --release), RUNS, REEL_MIN.
# Needs ffmpeg, python3 with numpy, scipy, soundfile.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
REEL_MIN=${REEL_MIN:-10}; RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/dubstage-bench-mix-$REEL_MIN}
mkdir -p "$DATA"
command -v ffmpeg >/dev/null || { echo "needs ffmpeg (apt-get install ffmpeg)"; exit 1; }
if [ ! -f "$DATA/reel_dx.wav" ]; then
  echo "generating the ${REEL_MIN}-minute reel into $DATA ..." >&2
  python3 "$SHARED/bench/gen.py" --out "$DATA" --reel-min "$REEL_MIN" --long-min 0.1 --ir-sec 0.1 >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q)
  BIN=$ROOT/target/release/dubstage
fi
S=$DATA/printmaster.toml
{
  printf '[reel]\ntitle = "bench"\nframe_rate = "24"\nstart = "01:00:00:00"\nlayout = "5.1"\n'
  printf '[delivery]\nprofile = "ebu-r128"\n'
  for s in dx:dialogue mx:music fx:effects bg:backgrounds fol:foley lfe:effects; do
    printf '[[stem]]\nid = "%s"\nkind = "%s"\nsource = "reel_%s.wav"\nstart = "01:00:00:00"\n' \
      "${s%%:*}" "${s##*:}" "${s%%:*}"
  done
} > "$S"
STEMS=(); INS=(); for s in dx mx fx bg fol lfe; do STEMS+=("$DATA/reel_$s.wav"); INS+=(-i "$DATA/reel_$s.wav"); done
FF=(ffmpeg -hide_banner -nostdin -y -loglevel info)
MIX="amix=inputs=6:normalize=0"
LN="loudnorm=I=-23:TP=-1:LRA=20"
# The ffmpeg chain: pass 1 measures the mix, pass 2 normalizes it with the measured values.
ffmpeg_chain() {
  "${FF[@]}" "${INS[@]}" -filter_complex "$MIX,$LN:print_format=json" -f null - 2> "$DATA/ln1.txt"
  local meas
  meas=$(python3 - "$DATA/ln1.txt" <<'PY'
import json, re, sys
j = json.loads(re.findall(r"\{[^{}]*\}", open(sys.argv[1]).read())[-1])
print(f"measured_I={j['input_i']}:measured_TP={j['input_tp']}:measured_LRA={j['input_lra']}:"
      f"measured_thresh={j['input_thresh']}:offset={j['target_offset']}")
PY
)
  "${FF[@]}" "${INS[@]}" -filter_complex "$MIX,$LN:$meas:linear=true:print_format=json" \
    -ar 48000 -c:a pcm_s24le "$DATA/ff/pm_ffmpeg.wav" 2> "$DATA/ln2.txt"
}
warm() { cat "${STEMS[@]}" > /dev/null; rm -rf "$DATA/pm" "$DATA/ff"; mkdir -p "$DATA/ff"; sync; }
# CPU seconds (user + system) of this shell's finished children, for the ffmpeg chain.
TCK=$(getconf CLK_TCK)
child_cpu() { awk -v t="$TCK" '{ print ($16 + $17) / t }' "/proc/$$/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$DATA/pm.txt"; : > "$DATA/ff.txt"; : > "$DATA/ffcpu.txt"
for i in $(seq "$RUNS"); do
  warm
  /usr/bin/time -f '%e %M %U %S' -o "$DATA/t" "$BIN" render "$S" --out "$DATA/pm" --quiet --backend cpu \
    || { echo "dubstage render failed"; exit 1; }
  cat "$DATA/t" >> "$DATA/pm.txt"
  warm
  c0=$(child_cpu); start=$(date +%s.%N)
  ffmpeg_chain
  end=$(date +%s.%N); c1=$(child_cpu)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }' >> "$DATA/ff.txt"
  awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f\n", b - a }' >> "$DATA/ffcpu.txt"
done
# Leave the last outputs of both in place for inspection.
"$BIN" render "$S" --out "$DATA/pm" --quiet --backend cpu --json > "$DATA/pm.json" 2>/dev/null || true
DS=$(awk '{print $1}' "$DATA/pm.txt" | median); FFT=$(median < "$DATA/ff.txt")
RSS=$(awk '{print $2}' "$DATA/pm.txt" | sort -n | tail -1)
DSCPU=$(awk '{print $3 + $4}' "$DATA/pm.txt" | median); FFCPU=$(median < "$DATA/ffcpu.txt")
python3 - "$DATA/pm.json" "$DATA/ln2.txt" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
pm = [d for d in s["deliverables"] if d["kind"] == "printmaster"][0]
print(f"dubstage: {len(s['deliverables'])} deliverables, printmaster {pm['loudness']['integrated_lufs']:.2f} LUFS, "
      f"{pm['loudness']['true_peak_dbtp']:.2f} dBTP, QC {s['qc_status']}")
j = json.loads(re.findall(r"\{[^{}]*\}", open(sys.argv[2]).read())[-1])
print(f"ffmpeg loudnorm: printmaster {j['output_i']} LUFS, {j['output_tp']} dBTP")
PY
echo "reel: ${REEL_MIN} min, six 5.1 float stems; runs: $RUNS (median); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dubstage render (ebu-r128, default deliverables, QC): ${DS} s (peak RSS $((RSS / 1024)) MB)"
echo "ffmpeg amix + two-pass loudnorm (printmaster only):   ${FFT} s"
awk -v a="$DS" -v b="$FFT" 'BEGIN { printf "ratio dubstage / ffmpeg: %.3f (goal <= 0.10)\n", a / b }'
echo "CPU (user + system), medians: dubstage ${DSCPU} s, ffmpeg chain ${FFCPU} s"
awk -v a="$DSCPU" -v b="$FFCPU" 'BEGIN { printf "CPU-time ratio dubstage / ffmpeg: %.3f\n", a / b }'
