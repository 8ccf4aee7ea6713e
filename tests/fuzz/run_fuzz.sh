#!/usr/bin/env bash
# Builds one libFuzzer target with clang (address + undefined sanitizers) from the reader
# sources and runs it a fixed number of times (seed 1) on a seed corpus of valid files.
#   usage: run_fuzz.sh <mrc|star> <seconds (x4 = time cap)> <source dir> <work dir>
set -euo pipefail
target=$1 seconds=$2 src=$3 work=$4
mkdir -p "$work/corpus_$target"
CXX=${CLANGXX:-clang++}
command -v "$CXX" >/dev/null || { echo "clang++ not found"; exit 1; }
sources=("$src/tests/fuzz/${target}_fuzz.cc" "$src/core/error.cc" "$src/core/files.cc" "$src/core/image.cc" "$src/core/log.cc")
[ "$target" = mrc ] && sources+=("$src/io/mrc.cc")
[ "$target" = star ] && sources+=("$src/io/star.cc")
bin="$work/${target}_fuzz"
if [ ! -x "$bin" ] || [ -n "$(find "${sources[@]}" -newer "$bin" 2>/dev/null)" ]; then
  "$CXX" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src" "${sources[@]}" -o "$bin"
fi
# Seed corpus: small valid files emkit's own tests know about, plus real STAR files when present.
if [ "$target" = star ]; then
  printf 'data_x\nloop_\n_rlnA #1\n_rlnB #2\n1 "a b"\n2 [1,2]\n' > "$work/corpus_star/seed1.star"
  printf '# version 30001\ndata_g\n_rlnK 5\n' > "$work/corpus_star/seed2.star"
  for f in "$src"/../shared/data/star/*.star; do [ -f "$f" ] && head -c 4000 "$f" > "$work/corpus_star/$(basename "$f")"; done
else
  python3 - "$work/corpus_mrc/seed1.mrc" <<'PY'
import struct, sys
h = bytearray(1024)
struct.pack_into('<4i', h, 0, 4, 3, 2, 2)
struct.pack_into('<3i', h, 64, 1, 2, 3)
h[208:212] = b'MAP '; h[212] = 0x44; h[213] = 0x44
open(sys.argv[1], 'wb').write(bytes(h) + bytes(4 * 24))
PY
fi
# Inputs that once crashed a reader stay in the seed corpus.
for f in "$src/tests/fuzz/regressions/$target"/*; do [ -f "$f" ] && cp "$f" "$work/corpus_$target/"; done
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
# A fixed seed and a fixed number of runs make a CI run repeatable (a clean build starts from the
# same corpus); the time limit only caps a slow machine. Fuzz longer by hand with FUZZ_RUNS=-1.
runs=${FUZZ_RUNS:-$([ "$target" = mrc ] && echo 10000 || echo 200000)}  # ~10-30 s each on 2 idle cores
"$bin" -seed=1 -runs="$runs" -max_total_time="$((seconds * 4))" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus_$target" > "$work/$target.log" 2>&1 || {
  grep -v '^#' "$work/$target.log" | grep -B2 -A30 'ERROR' | head -60
  exit 1
}
tail -6 "$work/$target.log"
