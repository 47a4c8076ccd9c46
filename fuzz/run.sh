#!/usr/bin/env bash
# Fuzzes each target in turn (one at a time, at the lowest priority) until it has had
# CPU_SECONDS of CPU (default 600: the fuzzer's own user+system time, read from /proc,
# not wall time, so a busy machine still gives each target its full share), growing
# fuzz/corpus-work/<target>/ from the seeds (python3 fuzz/make_seeds.py) and the
# committed corpus. Logs (executions, coverage, CPU time) go to fuzz/logs/<target>.log;
# crashes to fuzz/artifacts/<target>/. `bash fuzz/run.sh cmin` minimizes corpus-work
# into the committed fuzz/corpus/<target>/ (libFuzzer's -merge=1 on edge coverage,
# -use_counters=0: every edge reached is kept, not every hit count, so a target keeps
# about a thousand small files instead of several thousand).
#   bash fuzz/run.sh [CPU_SECONDS] [TARGET...]
#   bash fuzz/run.sh cmin [TARGET...]
# FUZZ_NICE (default 19) is the priority it runs at.
set -uo pipefail
cd "$(dirname "$0")/.."
all=(manifest spot_csv wav flac session http spot_json)
mode=run
if [ "${1:-}" = cmin ]; then mode=cmin; shift; secs=0; else secs="${1:-600}"; shift || true; fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
export RUSTC_BOOTSTRAP=1
nice -n "${FUZZ_NICE:-19}" cargo fuzz build --sanitizer none --debug-assertions || exit 1
bin=fuzz/target/x86_64-unknown-linux-gnu/release
mkdir -p fuzz/logs

# cpu_of PID: user+system CPU seconds of PID (fields 14 and 15 of /proc/PID/stat).
cpu_of() {
  local s
  s="$(cut -d')' -f2- "/proc/$1/stat" 2>/dev/null)" || { echo -1; return; }
  # after "pid (comm)", field 14 is the 12th and field 15 the 13th
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($12 + $13) / hz }' <<<"$s"
}

for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus-work/$t" "fuzz/seeds/$t" "fuzz/corpus/$t" "fuzz/artifacts/$t"
  case "$t" in wav|flac) len=65536 ;; *) len=16384 ;; esac
  if [ "$mode" = cmin ]; then
    echo "== cmin $t $(date +%T): $(ls "fuzz/corpus/$t" | wc -l) committed, $(ls "fuzz/corpus-work/$t" | wc -l) found"
    rm -rf "fuzz/corpus-min/$t"; mkdir -p "fuzz/corpus-min/$t"
    nice -n "${FUZZ_NICE:-19}" "$bin/$t" -merge=1 -use_counters=0 -max_len="$len" -timeout=10 -rss_limit_mb=2048 \
      "fuzz/corpus-min/$t" "fuzz/corpus/$t" "fuzz/corpus-work/$t" "fuzz/seeds/$t" >"fuzz/logs/$t.cmin.log" 2>&1 || {
      echo "   cmin failed: fuzz/logs/$t.cmin.log"; continue; }
    rm -rf "fuzz/corpus/$t" && mv "fuzz/corpus-min/$t" "fuzz/corpus/$t"
    echo "   kept $(ls "fuzz/corpus/$t" | wc -l) ($(du -sh "fuzz/corpus/$t" | cut -f1))"
    continue
  fi
  echo "== $t $(date +%T)"
  nice -n "${FUZZ_NICE:-19}" "$bin/$t" -artifact_prefix="fuzz/artifacts/$t/" -max_len="$len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    "fuzz/corpus-work/$t" "fuzz/seeds/$t" "fuzz/corpus/$t" >"fuzz/logs/$t.log" 2>&1 &
  pid=$!
  used=0
  while kill -0 "$pid" 2>/dev/null; do
    used="$(cpu_of "$pid")"
    [ "$used" -ge "$secs" ] && { kill -INT "$pid"; break; }
    sleep 5
  done
  wait "$pid"; rc=$?
  echo "cpu_s=$used" >>"fuzz/logs/$t.log"
  echo "   exit $rc, $(grep -E 'stat::number_of_executed_units' "fuzz/logs/$t.log" | tr '\n' ' ') cpu_s=$used," \
    "crashes: $(ls "fuzz/artifacts/$t" | wc -l)"
done
