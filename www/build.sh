#!/usr/bin/env bash
# Regenerates www/pkg (the preview page's WebAssembly) from wasm/ (crate dubstage-wasm).
# Deterministic: same sources + same toolchain -> same bytes (no timestamps, no absolute
# paths: --remap-path-prefix strips the checkout and cargo-home paths from panic messages).
# Needs: rustup target wasm32-unknown-unknown, wasm-bindgen-cli 0.2.130 (= the crate pin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
want="0.2.130"
have="$(wasm-bindgen --version | awk '{print $2}')"
if [ "$have" != "$want" ]; then
  echo "www/build.sh: wasm-bindgen-cli $have found, $want needed (cargo install wasm-bindgen-cli --version $want)" >&2
  exit 1
fi
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="--remap-path-prefix=$root=/dubstage --remap-path-prefix=$cargo_home=/cargo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --target wasm32-unknown-unknown --release -p dubstage-wasm
wasm-bindgen --target web --no-typescript --out-dir www/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/dubstage_wasm.wasm"
rm -f www/pkg/.gitignore www/pkg/package.json
sha256sum www/pkg/* | sed "s#  www/pkg/#  #"
