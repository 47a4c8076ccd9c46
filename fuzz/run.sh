#!/usr/bin/env bash
# Fuzzes each target in turn (one at a time, at the lowest priority), for
# SECONDS seconds each (default 600), growing fuzz/corpus-work/<target>/ from the
# seeds (python3 fuzz/make_seeds.py) and the committed corpus; `cargo fuzz cmin` of
# corpus-work gives the committed fuzz/corpus/<target>/. Logs (executions, coverage, CPU time)
# go to fuzz/logs/<target>.log; crashes to fuzz/artifacts/<target>/.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"; shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(manifest spot_csv wav flac session http spot_json)
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus-work/$t" "fuzz/seeds/$t" "fuzz/corpus/$t"
  case "$t" in wav|flac) len=65536 ;; *) len=16384 ;; esac
  echo "== $t $(date +%T)"
  RUSTC_BOOTSTRAP=1 /usr/bin/time -f "cpu_user_s=%U cpu_sys_s=%S wall_s=%e" nice -n 19 \
    cargo fuzz run --sanitizer none --debug-assertions "$t" "fuzz/corpus-work/$t" "fuzz/seeds/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -max_len="$len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"fuzz/logs/$t.log" 2>&1
  echo "   exit $? $(grep -E 'stat::number_of_executed_units|cpu_user_s' "fuzz/logs/$t.log" | tr '\n' ' ')"
done
