#!/bin/bash -eu
# Build every cargo-fuzz target of fuzz/ with libFuzzer and copy the binaries to $OUT, as
# ClusterFuzzLite and OSS-Fuzz expect (one executable per target).
#
# `-s none`: no sanitizer. goweave's targets are safe Rust that fail by panicking (a deadlock,
# a race or a leak found in the interleaving the input chose), and libFuzzer reports the panic
# with its GOWEAVE_REPLAY token; an address sanitizer would only slow the stack switches down.
# `-O`: optimised, with debug assertions off, the way the targets run in production.
#
# Runs in the base-builder image ($SRC/goweave, $OUT given) and locally from a checkout:
# OUT=target/cflite-out .clusterfuzzlite/build.sh (`.ci/run` does so with a nightly toolchain).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -d "$here/../fuzz" ]; then
  root="$(cd "$here/.." && pwd)"
else
  root="$SRC/goweave"
fi
: "${OUT:?set OUT to the directory that receives the fuzz target binaries}"
mkdir -p "$OUT"
cd "$root/fuzz"
cargo fuzz build -O -s none
triple="$(rustc -vV | sed -n 's/^host: //p')"
release="${CARGO_TARGET_DIR:-$root/fuzz/target}/$triple/release"
targets="$(cargo fuzz list)"
if [ -z "$targets" ]; then
  echo "build.sh: cargo fuzz list found no targets in $root/fuzz" >&2
  exit 1
fi
for t in $targets; do
  cp "$release/$t" "$OUT/$t"
done
echo "build.sh: $(echo $targets | wc -w) fuzz targets in $OUT: $(echo $targets)"
