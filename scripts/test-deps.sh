#!/usr/bin/env bash
# Installs what dubstage's tests need when it is missing, and nothing else; quick
# (a few checks, no network) when everything is there. Called by
# scripts/test-all.sh and .ci/run.
#
#   apt (Debian/Ubuntu): mesa-vulkan-drivers (lavapipe, the GPU tests' Vulkan
#                        driver), chromium + chromium-driver (browser tests),
#                        ffmpeg + sox (reference readers), nodejs + npm
#   rustup:              rustfmt, clippy, the wasm32-unknown-unknown target
#   cargo install:       wasm-bindgen-cli at the version Cargo.toml pins
#   npm:                 tests/e2e's packages (npm ci, from its lock file)
#
#   bash scripts/test-deps.sh            install what is missing
#   bash scripts/test-deps.sh --dry-run  say what would be installed; change nothing
#   bash scripts/test-deps.sh --check    fail (status 1), listing what is missing
#
# apt-get runs as root, or through sudo when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
case "${1:-}" in
  "") ;;
  --dry-run|-n) mode=dry-run ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--dry-run|--check]" >&2; exit 2 ;;
esac

missing=()
# act DESCRIPTION COMMAND...: runs COMMAND to install DESCRIPTION, or says it would.
act() {
  local what="$1"; shift
  missing+=("$what")
  case "$mode" in
    dry-run) echo "would install: $what  ($*)" ;;
    check) echo "missing: $what  (install: $*)" ;;
    install) echo "installing: $what"; "$@" ;;
  esac
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "test-deps: '$*' needs root (no sudo here)" >&2; return 1
  fi
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- system packages -------------------------------------------------------------
apt_pkgs=(mesa-vulkan-drivers chromium chromium-driver ffmpeg sox gcc libebur128-dev libsndfile1-dev alsa-utils
  slurmctld slurmd slurm-client munge)
if command -v dpkg >/dev/null && command -v apt-get >/dev/null; then
  need=()
  for p in "${apt_pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  # node and npm by their commands: NodeSource's nodejs package carries npm and
  # conflicts with Debian's.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    need+=(nodejs npm)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    act "apt packages: ${need[*]}" apt_install "${need[@]}"
  fi
else
  # Not Debian: check for the programs themselves; install them with the system's tools.
  for c in ffmpeg ffprobe sox node npm chromium chromedriver; do
    command -v "$c" >/dev/null || { missing+=("$c"); echo "missing: $c (install it with your system's package manager)"; }
  done
fi

# --- Python reference readers (the editorial tests compare against them) ----------
# Into the Python on PATH when pip may install there; else (Debian 12's system Python
# refuses, PEP 668) into a virtual environment of its own, DUBSTAGE_PYTHON's venv
# (default ~/.cache/dubstage/pyref), which the tests and test-all.sh then use.
pyref="${DUBSTAGE_PYREF:-$HOME/.cache/dubstage/pyref}"
pyref_install() {
  python3 -m pip install -q pycmx opentimelineio 2>/dev/null && return 0
  echo "  (python3's pip refused a system-wide install: using the virtual environment $pyref)"
  python3 -m venv "$pyref" && "$pyref/bin/python3" -m pip install -q pycmx opentimelineio
}
if command -v python3 >/dev/null; then
  if ! python3 -c "import pycmx, opentimelineio" >/dev/null 2>&1 &&
    ! "$pyref/bin/python3" -c "import pycmx, opentimelineio" >/dev/null 2>&1; then
    # python3 -m venv needs ensurepip, which Debian ships apart (python3-venv)
    if ! python3 -c "import ensurepip" >/dev/null 2>&1 && command -v apt-get >/dev/null; then
      act "apt package python3-venv" apt_install python3-venv
    fi
    act "pip packages: pycmx opentimelineio" pyref_install
  fi
else
  missing+=(python3)
  echo "missing: python3 (the editorial tests run pycmx and opentimelineio)"
fi

# --- Rust components and target ----------------------------------------------------
if command -v rustup >/dev/null; then
  comps="$(rustup component list --installed 2>/dev/null || true)"
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$comps" || act "rustup component $c" rustup component add "$c"
  done
  # (read into a variable first: `grep -q` closing the pipe early fails it under pipefail)
  targets="$(rustup target list --installed 2>/dev/null || true)"
  if [ -d wasm ] && ! grep -qx wasm32-unknown-unknown <<<"$targets"; then
    act "rustup target wasm32-unknown-unknown" rustup target add wasm32-unknown-unknown
  fi
else
  command -v cargo >/dev/null || { echo "test-deps: no cargo: install Rust (https://rustup.rs) first" >&2; exit 1; }
  echo "note: no rustup; rustfmt, clippy and the wasm32-unknown-unknown target must come with your Rust"
fi

# --- wasm-bindgen-cli at the pinned version ----------------------------------------
if [ -d wasm ]; then
  want="$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml wasm/Cargo.toml | head -1)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ -n "$want" ] && [ "$have" != "$want" ]; then
    # Without --locked: with it, cargo asks for a dependency version the registry lacks.
    act "wasm-bindgen-cli $want (found: ${have:-none})" cargo install wasm-bindgen-cli --version "$want"
  fi
fi

# --- npm packages of the browser tests -------------------------------------------
if [ -f tests/e2e/package-lock.json ] && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  act "npm packages of tests/e2e" bash -c 'cd tests/e2e && npm ci --no-audit --no-fund'
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "test-deps: everything the tests need is installed"
elif [ "$mode" = check ]; then
  echo "test-deps: ${#missing[@]} missing (run bash scripts/test-deps.sh to install)" >&2
  exit 1
fi
