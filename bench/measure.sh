#!/usr/bin/env bash
# Loudness measurement: `dubstage measure` against libebur128 (ebur128_ref) on the long
# stereo programme of ../shared/bench/gen.py. Reports wall times (median of RUNS) and
# the differences: integrated within 0.02 LU, LRA within 0.1 LU, sample peak exact
# (to the 0.01 dB ebur128_ref prints), true peak informative (different interpolators).
#
#   bash bench/measure.sh                  60-min stereo (LONG_MIN=60)
#   LONG_MIN=10 bash bench/measure.sh      a shorter programme
#
# Env: LONG_MIN (minutes, default 60), RUNS (default 3), DATA (default /tmp/peers-loud;
# its own folder, so the peer kit's /tmp/peers manifest is left alone), GEN (gen.py),
# DUBSTAGE (binary; default: cargo build --release, target/release/dubstage),
# PY (python3). Needs gcc, libebur128-dev, libsndfile1-dev, numpy, scipy.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LONG_MIN=${LONG_MIN:-60}
RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/peers-loud}
PY=${PY:-python3}
SHARED=${SHARED:-$ROOT/../shared}
GEN=${GEN:-$SHARED/bench/gen.py}
mkdir -p "$DATA/bin"

# ---------------------------------------------------------------- tools
gcc -O2 -Wall -o "$DATA/bin/ebur128_ref" "$SHARED/bench/ebur128_ref.c" -lebur128 -lsndfile -lm || exit 1
EBU=$DATA/bin/ebur128_ref
if [ -z "${DUBSTAGE:-}" ]; then
  (cd "$ROOT" && nice cargo build --release --quiet --bin dubstage) || exit 1
  DUBSTAGE=$ROOT/target/release/dubstage
fi

# ---------------------------------------------------------------- material
WAV=$DATA/long_stereo.wav
have=$($PY -c "import json; print(json.load(open('$DATA/manifest.json'))['params']['long_min'])" 2>/dev/null)
if [ ! -f "$WAV" ] || [ "$(awk "BEGIN{print ($have == $LONG_MIN)}" 2>/dev/null)" != 1 ]; then
  echo "generating ${LONG_MIN}-min stereo into $DATA ..." >&2
  $PY "$GEN" --out "$DATA" --reel-min 0.05 --long-min "$LONG_MIN" --ir-sec 0.1 > "$DATA/gen.log" || exit 1
fi
cat "$WAV" > /dev/null   # page cache: both tools read from memory

# ---------------------------------------------------------------- timing
# median_time OUTFILE CMD...: runs CMD RUNS times, keeps the last stdout, prints
# "median-wall-s median-cpu-s" (cpu = user + sys, robust when the machine is shared)
median_time() {
  local out=$1; shift
  local ts=() cs=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %U %S' -o "$out.time" "$@" > "$out" 2> "$out.err" \
      || { echo "FAILED: $* (see $out.err)" >&2; return 1; }
    read -r e u s < "$out.time"
    ts+=("$e"); cs+=("$(awk "BEGIN{print $u + $s}")")
  done
  local med='sort -g | awk '"'"'{a[NR]=$1} END{print a[int((NR+1)/2)]}'"'"
  echo "$(printf '%s\n' "${ts[@]}" | eval "$med") $(printf '%s\n' "${cs[@]}" | eval "$med")"
}

T_EBU=$(median_time "$DATA/ebu.out" "$EBU" "$WAV") || exit 1
T_DS=$(median_time "$DATA/ds.json" "$DUBSTAGE" measure --json "$WAV") || exit 1

# ---------------------------------------------------------------- report
$PY - "$DATA/ebu.out" "$DATA/ds.json" "$T_EBU" "$T_DS" "$LONG_MIN" "$RUNS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PYEOF'
import json, sys
ebu_out, ds_json, t_ebu, t_ds, long_min, runs, nproc, load = sys.argv[1:]
(t_ebu, c_ebu), (t_ds, c_ds) = (map(float, t_ebu.split()), map(float, t_ds.split()))
kv = dict(x.split("=", 1) for x in open(ebu_out).read().split())
e = {k: float(kv[k]) for k in ("I_LUFS", "LRA_LU", "TP_dBTP", "SP_dBFS")}
d = json.load(open(ds_json))[0]
secs = float(long_min) * 60
rows = [
    ("integrated (LUFS)", d["integrated_lufs"], e["I_LUFS"], 0.02),
    ("loudness range (LU)", d["loudness_range_lu"], e["LRA_LU"], 0.1),
    ("sample peak (dBFS)", d["sample_peak_dbfs"], e["SP_dBFS"], 0.005),
    ("true peak (dBTP)", d["true_peak_dbtp"], e["TP_dBTP"], None),
]
ok = True
print(f"# dubstage measure vs libebur128, {long_min}-min stereo 48 kHz float ({nproc} cores, load average {load})\n")
print("| tool | wall s (median of %s) | x realtime | CPU s (user+sys) |" % runs)
print("|---|---:|---:|---:|")
print(f"| libebur128 (ebur128_ref: I, LRA, TP, SP) | {t_ebu:.2f} | {secs / t_ebu:.0f} | {c_ebu:.2f} |")
print(f"| dubstage measure (I, LRA, TP {d['true_peak_oversample']}x, SP, M/S max) | {t_ds:.2f} | {secs / t_ds:.0f} | {c_ds:.2f} |")
print(f"\nspeed-up: **{t_ebu / t_ds:.2f}x** wall, {c_ebu / c_ds:.2f}x CPU time\n")
print("| figure | dubstage | libebur128 | difference | limit | |")
print("|---|---:|---:|---:|---:|---|")
for name, a, b, lim in rows:
    if a is None:
        print(f"| {name} | n/a | {b:.2f} | | | FAIL |"); ok = False; continue
    # ebur128_ref prints two decimals: compare against ours rounded the same way for SP.
    diff = (round(a, 2) if lim == 0.005 else a) - b
    verdict = "info" if lim is None else ("ok" if abs(diff) <= lim + 1e-9 else "FAIL")
    ok &= verdict != "FAIL"
    print(f"| {name} | {a:.3f} | {b:.2f} | {diff:+.3f} | {'' if lim is None else lim} | {verdict} |")
print("\nresult:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PYEOF
