#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on this machine, for tests and for trying
# `dubstage feature slurm` without a real cluster.
#
#   scripts/slurm-local.sh start      # install (Debian) if missing, start munge + slurmctld + slurmd
#   scripts/slurm-local.sh stop       # stop the daemons this script started (by PID)
#   scripts/slurm-local.sh env        # print `export SLURM_CONF=...` for the running cluster
#   scripts/slurm-local.sh test       # start, run the 3-reel demo feature through Slurm, compare
#                                     # its bytes with the single-machine render, stop
#
# Everything lives in one folder ($DUBSTAGE_SLURM_DIR, default /tmp/dubstage-slurm): the
# config, state, spool, logs and PID files; the system's /etc/slurm is not touched. Facts
# this relies on (Slurm 22.05, Debian 12): proctrack/linuxproc and task/none need no
# cgroups; select/cons_tres with CR_Core; the node needs RealMemory for --mem requests;
# slurmd takes a few seconds before the node is idle.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${DUBSTAGE_SLURM_DIR:-/tmp/dubstage-slurm}
port=${DUBSTAGE_SLURM_PORT:-16817}
conf=$dir/slurm.conf
say() { echo "slurm-local: $*"; }

install() {
  local need=""
  for p in slurmctld slurmd slurm-client munge; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then
    say "installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    head -c 1024 /dev/urandom > /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
  fi
  if munge -n </dev/null >/dev/null 2>&1; then
    return # a munged is already running (ours or the system's): leave it alone
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  munged --force
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
  pgrep -n -x munged > "$dir/munged.pid"
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p "$dir/state" "$dir/spool" "$dir/logs"
  cat > "$conf" <<EOF
ClusterName=dubstage-local
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/logs/slurmctld.log
SlurmdLogFile=$dir/logs/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  install
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    say "already running ($dir)"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  write_conf
  start_munge
  export SLURM_CONF=$conf
  slurmctld -D -f "$conf" >>"$dir/logs/slurmctld.out" 2>&1 &
  echo $! > "$dir/slurmctld.pid"
  slurmd -D -f "$conf" >>"$dir/logs/slurmd.out" 2>&1 &
  echo $! > "$dir/slurmd.pid"
  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
    [ "$state" = "idle" ] && break
    sleep 0.5
  done
  if [ "$state" != "idle" ]; then
    say "the node did not become idle within 60 s (state: '${state:-none}'); logs in $dir/logs"
    tail -5 "$dir/logs/"*.log >&2 || true
    stop
    exit 1
  fi
  say "cluster up: SLURM_CONF=$conf ($(sinfo -h -o '%D node, %c CPUs, %m MB'))"
}

stop() {
  for d in slurmd slurmctld munged; do
    local f="$dir/$d.pid"
    [ -f "$f" ] || continue
    local pid
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  say "stopped"
}

# Waits (bounded) until no job of ours is pending or running.
wait_idle_queue() {
  local limit=$1 t=0
  while [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do
    if [ "$t" -ge "$limit" ]; then
      say "jobs still queued after ${limit}s:"
      squeue >&2 || true
      return 1
    fi
    sleep 1
    t=$((t + 1))
  done
}

selftest() {
  # The scheduler itself: an array job and a job that depends on it.
  local work
  work=$(mktemp -d)
  local a
  a=$(sbatch --parsable --array=1-3 -o "$work/a-%a.out" --wrap 'echo "task $SLURM_ARRAY_TASK_ID"')
  sbatch --parsable --dependency=afterok:"$a" -o "$work/b.out" --wrap "cat $work/a-*.out > $work/all" >/dev/null
  wait_idle_queue 60
  [ "$(sort "$work/all" | tr '\n' ' ')" = "task 1 task 2 task 3 " ] || {
    say "self-test failed: $(cat "$work/all" 2>/dev/null)"
    return 1
  }
  rm -rf "$work"
  say "self-test passed (array job + afterok dependency)"
}

feature_test() {
  local bin=$root/target/release/dubstage
  [ -x "$bin" ] || cargo build --release -q
  local work
  work=$(mktemp -d /tmp/dubstage-slurm-feature.XXXXXX)
  # The single-machine render of a 3-reel demo feature...
  "$bin" demo --feature --minutes "${DUBSTAGE_SLURM_MINUTES:-0.5}" --out "$work/single" --quiet
  mkdir -p "$work/cluster"
  cp -r "$work/single/r1" "$work/single/r2" "$work/single/r3" "$work/single/feature.toml" "$work/cluster/"
  # ...and the same feature through the cluster, first with one of reel 2's stems gone
  # when its job runs: that reel's measurement fails alone, the jobs after it are
  # cancelled, nothing is finished, and `feature status` names the reel.
  "$bin" feature slurm "$work/cluster/feature.toml" --submit --hold --quiet >/dev/null
  local stem
  stem=$(find "$work/cluster/r2" -name '*.wav' | sort | head -1)
  mv "$stem" "$stem.away"
  scontrol release "$(sed -n 's/.*"measure": "\([0-9]*\)".*/\1/p' "$work/cluster/print/feature/slurm/jobs.json")"
  wait_idle_queue 600
  mv "$stem.away" "$stem"
  "$bin" feature status "$work/cluster/feature.toml" > "$work/status.txt"
  if ! grep -q "reel 2: .*failed" "$work/status.txt" || [ -e "$work/cluster/print/SHA256SUMS" ]; then
    say "the failed reel was not reported as such, or the feature finished anyway:"
    cat "$work/status.txt" >&2
    return 1
  fi
  say "reel 2's missing input failed that task alone: $(grep 'reel 2' "$work/status.txt")"
  # Then reel 2's render job killed mid-render (scancel while its deliverables are being
  # written): that task fails alone, the finish job is cancelled, and rerunning reel 2
  # alone completes the feature, byte-identical, with no partial file left.
  local print=$work/cluster/print
  "$bin" feature slurm "$work/cluster/feature.toml" --submit --quiet >/dev/null
  local render
  render=$(sed -n 's/.*"render": "\([0-9]*\)".*/\1/p' "$print/feature/slurm/jobs.json")
  local caught="" t=0
  while [ "$t" -lt 6000 ]; do
    if [ -n "$(find "$print/R2" -maxdepth 1 -name '.*.partial' 2>/dev/null | head -1)" ]; then
      scancel "${render}_2"
      caught=$(find "$print/R2" -maxdepth 1 -name '.*.partial' | wc -l)
      break
    fi
    [ -e "$print/feature/render/r2.json" ] && break
    sleep 0.1
    t=$((t + 1))
  done
  if [ -z "$caught" ]; then
    say "reel 2's render was not caught mid-render (it finished first, or never started): \
raise DUBSTAGE_SLURM_MINUTES"
    return 1
  fi
  wait_idle_queue 600
  "$bin" feature status "$work/cluster/feature.toml" > "$work/status.txt" || true
  if ! grep -q "reel 2: .*failed" "$work/status.txt" || [ -e "$print/SHA256SUMS" ] \
    || [ -e "$print/feature/render/r2.json" ]; then
    say "the killed render was not reported as failed, or the feature finished anyway:"
    cat "$work/status.txt" >&2
    return 1
  fi
  say "reel 2's render killed mid-render ($caught files being written): $(grep 'reel 2' "$work/status.txt")"
  "$bin" feature slurm "$work/cluster/feature.toml" --reels 2 --submit --wait 600
  "$bin" feature status "$work/cluster/feature.toml"
  local left
  left=$(find "$print" -name '.*' -not -path '*/slurm/*')
  if [ -n "$left" ]; then
    say "temporary or lock files were left behind:"
    echo "$left" >&2
    return 1
  fi
  local a b
  a=$(cd "$work/single/print" && find . -type f \( -name '*.wav' -o -name SHA256SUMS \) | sort | xargs sha256sum)
  b=$(cd "$work/cluster/print" && find . -type f \( -name '*.wav' -o -name SHA256SUMS \) | sort | xargs sha256sum)
  if [ -z "$a" ] || [ "$a" != "$b" ]; then
    say "the cluster render differs from the single-machine render:"
    diff <(echo "$a") <(echo "$b") >&2 || true
    return 1
  fi
  say "the cluster render is byte-identical to the single-machine render ($(echo "$a" | wc -l) files)"
  # Every step again, in place: the same bytes (SHA256SUMS covers the plan and the report).
  local sums
  sums=$(sha256sum "$print/SHA256SUMS")
  for step in "measure --reel 1" plan "render --reel 3" finish; do
    # shellcheck disable=SC2086
    "$bin" feature $step "$work/cluster/feature.toml" --quiet
  done
  if [ "$(sha256sum "$print/SHA256SUMS")" != "$sums" ] \
    || ! (cd "$print" && sha256sum --quiet -c SHA256SUMS) \
    || [ -n "$(find "$print" -name '.*' -not -path '*/slurm/*')" ]; then
    say "running the steps again changed the delivery or left files behind"
    return 1
  fi
  say "measure, plan, render and finish run again: the same bytes, nothing left behind"
  rm -rf "$work"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$conf" ;;
  selftest)
    start
    export SLURM_CONF=$conf
    trap stop EXIT
    selftest
    ;;
  test)
    start
    export SLURM_CONF=$conf
    trap stop EXIT
    selftest
    feature_test
    ;;
  *)
    echo "usage: $0 start|stop|env|selftest|test" >&2
    exit 2
    ;;
esac
