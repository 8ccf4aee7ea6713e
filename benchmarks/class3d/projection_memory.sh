#!/usr/bin/env bash
# What --projection-memory (MB per rank of projections made once and reused) trades: the first iteration's time
# and the peak memory of
#   class3d on the orientation grid alone (--oversampling 0: the grid's references),
#   class3d coarse to fine (--oversampling 1: the coarse grid's references, then the children particles share),
#   refine3d (coarse to fine, both halves),
# at several budgets, and whether the outputs are those of the default budget bit for bit (they should be: the
# projections not kept are made again, the same values). class3d: the particles of run.sh (N, default 2000) with
# its flags and --strict-highres-exp 40; refine3d: REFINE_N (default 300) ribosome particles with scale.sh's
# flags. 2 threads, one process; peak memory from /usr/bin/time -v.
# Usage: benchmarks/class3d/projection_memory.sh [EMKIT] [WORKDIR]
#   (writes benchmarks/results/class3d/projection_memory.{md,json})
#   GRID_BUDGETS, FINE_BUDGETS, REFINE_BUDGETS: the budgets (MB) of each case; the first is the reference.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_projection_memory}
results=$root/benchmarks/results/class3d
data=${EMKIT_SHARED_DATA:-$root/../shared/data}
N=${N:-2000} REFINE_N=${REFINE_N:-300}
GRID_BUDGETS=${GRID_BUDGETS:-"512 16 0"}
FINE_BUDGETS=${FINE_BUDGETS:-"512 128 32 0"}
REFINE_BUDGETS=${REFINE_BUDGETS:-"512 128 32 0"}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
"$here/make_particles.sh" "$emkit" "$data" "$N"
source "$here/flags.sh"
if [ ! -f refine.star ] || [ "$(cat refine_n.txt 2> /dev/null)" != "$REFINE_N" ]; then
  "$emkit" simulate particles --map truthA64.mrc --box 64 --n "$REFINE_N" --snr 0.05 --defocus-min 10000 \
    --defocus-max 30000 --seed 21 -q -o sim_refine --overwrite
  $py "$root/benchmarks/refine3d/strip.py" sim_refine/particles.star refine.star
  echo "$REFINE_N" > refine_n.txt
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
run() {  # name budget command...
  local name=$1 budget=$2
  shift 2
  /usr/bin/time -v -o "$name-$budget.time" "$emkit" "$@" --projection-memory "$budget" -o "$name-$budget" \
    --overwrite > "$name-$budget.log" 2>&1
  echo "load after $name-$budget: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
}
for b in $GRID_BUDGETS; do
  run grid "$b" class3d -i particles.star --iter 1 "${flags_emkit[@]}" --strict-highres-exp 40
done
for b in $FINE_BUDGETS; do
  run fine "$b" class3d -i particles.star --iter 1 "${flags_emkit[@]}" --strict-highres-exp 40 --oversampling 1
done
for b in $REFINE_BUDGETS; do
  run refine "$b" refine3d -i refine.star --iter 1 --ref truthA64.mrc --ini-high 60 --particle-diameter 300 \
    --healpix-order 2 --auto-local-healpix-order 4 --offset-range 5 --offset-step 1 --sym C1 --threads 2 --seed 1
done
$py "$here/projection_memory_report.py" "$work" "$results" "$N" "$REFINE_N" "grid:$GRID_BUDGETS" \
  "fine:$FINE_BUDGETS" "refine:$REFINE_BUDGETS"
