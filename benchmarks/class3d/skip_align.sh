#!/usr/bin/env bash
# 3D classification of aligned particles (RELION's --skip_align), the usual way to separate conformations: the
# particles of run.sh (two conformations, 2000 particles, SNR 0.05) are first refined together (a consensus
# emkit refine3d from conformation A low-passed to 60 Å, the refine3d benchmark's flags), then classified
# in their consensus poses, K = 2 from the consensus map low-passed to 60 Å, T = 4, ITER iterations (default
# 25), by emkit class3d --skip-align and relion_refine --skip_align (one process, --j 2); the same from
# the true poses (the classification's ceiling, emkit). Run run.sh first (it makes the particles).
# Usage: benchmarks/class3d/skip_align.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/class3d/skip_align.{md,json})
#   SKIP_CONSENSUS=1 reuses the consensus refinement already in WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_class3d}
results=$root/benchmarks/results/class3d
ITER=${ITER:-25}
py=/usr/bin/python3
cd "$work"
[ -f particles.star ] || { echo "no particles in $work: run benchmarks/class3d/run.sh first" >&2; exit 1; }
touch load_skip.txt
if [ -z "${SKIP_CONSENSUS:-}" ]; then
  echo "load before consensus: $(cut -d' ' -f1-3 /proc/loadavg)" > load_skip.txt
  /usr/bin/time -v -o consensus.time "$emkit" refine3d -i particles.star -o consensus --overwrite --ref truthA64.mrc \
    --ini-high 60 --particle-diameter 300 --healpix-order 2 --auto-local-healpix-order 4 --offset-range 5 \
    --offset-step 1 --sym C1 --threads 2 --seed 1 > consensus.log 2>&1
fi
flags=(--K 2 --tau2-fudge 4 --ini-high 60 --particle-diameter 300 --sym C1 --threads 2 --seed 1)
echo "load before classification: $(cut -d' ' -f1-3 /proc/loadavg)" >> load_skip.txt
/usr/bin/time -v -o skip_consensus.time "$emkit" class3d -i consensus/run_data.star --ref consensus/run_class001.mrc \
  --skip-align --iter "$ITER" -o skip_consensus --overwrite "${flags[@]}" > skip_consensus.log 2>&1
/usr/bin/time -v -o skip_truth.time "$emkit" class3d -i true_angles.star --ref consensus/run_class001.mrc \
  --skip-align --iter "$ITER" -o skip_truth --overwrite "${flags[@]}" > skip_truth.log 2>&1
rm -rf skip_relion && mkdir skip_relion
/usr/bin/time -v -o skip_relion.time relion_refine --i consensus/run_data.star --o skip_relion/run \
  --ref consensus/run_class001.mrc --ini_high 60 --K 2 --tau2_fudge 4 --particle_diameter 300 --sym C1 --ctf \
  --ctf_corrected_ref --flatten_solvent --pad 2 --skip_align --j 2 --iter "$ITER" --random_seed 1 \
  --dont_combine_weights_via_disc --pool 3 > skip_relion.log 2>&1
echo "load after classification: $(cut -d' ' -f1-3 /proc/loadavg)" >> load_skip.txt
$py "$here/skip_align_report.py" "$work" "$results" "$ITER"
