#!/usr/bin/env bash
# Streaming speed and memory of `emkit simulate` -> benchmarks/results/simulate/{results.json,README.md,simulate.png}
#   usage: benchmarks/simulate/run.sh [emkit binary (default build/apps/emkit)]
# Measures wall time and peak resident memory (/usr/bin/time) of micrograph runs at several sizes
# and micrograph counts (flat memory in the count = streaming), and of a particle stack.
set -euo pipefail
cd "$(dirname "$0")/../.."
emkit="$(realpath "${1:-build/apps/emkit}")"
out=benchmarks/results/simulate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rows="$work/rows.txt"
: > "$rows"
measure() {  # kind size pixel n threads extra...
  local kind=$1 size=$2 pixel=$3 n=$4 threads=$5
  shift 5
  rm -rf "$work/o"
  if [ "$kind" = micrographs ]; then
    /usr/bin/time -f "%e %M" -o "$work/t" "$emkit" simulate micrographs --phantom asym --diameter 200 \
      --pixel-size "$pixel" --size "$size" --n "$n" --threads "$threads" -q --out "$work/o" "$@" > /dev/null
  else
    /usr/bin/time -f "%e %M" -o "$work/t" "$emkit" simulate particles --phantom asym --diameter 200 \
      --pixel-size "$pixel" --n "$n" --threads "$threads" -q --out "$work/o" "$@" > /dev/null
  fi
  read -r secs kb < "$work/t"
  echo "$kind $size $pixel $n $threads $secs $kb" >> "$rows"
  echo "$kind size=$size pixel=$pixel n=$n threads=$threads: ${secs} s, $((kb / 1024)) MiB"
}
# Setup cost (phantom + projectors) shows as the time of n=1; per-micrograph cost as the slope.
for size in 1024 2048 4096; do
  measure micrographs "$size" 4 1 1
  measure micrographs "$size" 4 4 2
done
# 1 Å/px, 4096^2 (the issue's "normal request"): memory must not grow with the count.
measure micrographs 4096 1 2 2
measure micrographs 4096 1 6 2
measure particles 64 4 10000 2
/usr/bin/python3 benchmarks/simulate/report.py "$rows" "$out" "$("$emkit" --version)"
echo "wrote $out/README.md"
