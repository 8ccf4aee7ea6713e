#!/usr/bin/env bash
# Foundation micro-benchmarks -> benchmarks/results/core/{results.json,README.md,fft.png}
#   usage: benchmarks/core/run.sh   (after scripts/setup.sh has built ./build)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/results/core
mkdir -p "$out"
ninja -C build bench_core >/dev/null
build/benchmarks/core/bench_core --benchmark_out="$out/results.json" --benchmark_out_format=json \
  --benchmark_min_time=0.3 >/dev/null
/usr/bin/python3 benchmarks/core/report.py "$out"
echo "wrote $out/README.md"
