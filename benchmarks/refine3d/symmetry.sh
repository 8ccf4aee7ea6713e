#!/usr/bin/env bash
# Symmetry and handedness in 3D auto-refinement (emkit refine3d):
#   D2:   the ribosome map (64 px, 5 Å/px) averaged over D2 (symmetry_maps.py); N particles (CTF, SNR 0.05)
#         refined with --sym D2 and with --sym C1, and N/4 of them with --sym D2 (a symmetric run should
#         reach the resolution with fewer particles)
#   hand: ../shared/data/maps/hand_64.mrc as a 32 px, 6 Å/px map; N particles (CTF, SNR 1) refined from
#         the map low-passed to 60 Å: the refined map must match the true hand, not its mirror (FSC to both)
#   all:  HEALPix order 2, local searches from order 4, offsets 5 px / 1 px, seed 1, 2 threads
# Usage: benchmarks/refine3d/symmetry.sh [EMKIT] [WORKDIR]   (N=500; writes benchmarks/results/refine3d/symmetry.*)
#   SKIP_D2=1 keeps the D2 runs already in WORKDIR (re-runs the hand only)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_refine3d_sym}
results=$root/benchmarks/results/refine3d
data=${EMKIT_SHARED_DATA:-$root/../shared/data}
N=${N:-500}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
$py "$root/benchmarks/class3d/make_data.py" "$data/maps/ribosome70s_65.mrc" . > /dev/null
$py "$here/symmetry_maps.py" truthA64.mrc "$data/maps/hand_64.mrc" .
"$emkit" simulate particles --map d2.mrc --box 64 --n "$N" --snr 0.05 --defocus-min 10000 --defocus-max 30000 \
  --seed 31 -q -o sim_d2 --overwrite
$py "$here/strip.py" sim_d2/particles.star d2_all.star
awk -v n=$((N / 4)) '/^ *[0-9]+@/ { if (++c > n) next } { print }' d2_all.star > d2_quarter.star
"$emkit" simulate particles --map hand.mrc --box 32 --n "$N" --snr 1 --defocus-min 10000 --defocus-max 30000 \
  --seed 32 -q -o sim_hand --overwrite
$py "$here/strip.py" sim_hand/particles.star hand.star
[ -n "${SKIP_D2:-}" ] || echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
run() {  # name particles ref sym diameter
  /usr/bin/time -v -o "$1.time" "$emkit" refine3d -i "$2" -o "$1" --overwrite --ref "$3" --ini-high 60 \
    --particle-diameter "$5" --healpix-order 2 --auto-local-healpix-order 4 --offset-range 5 --offset-step 1 \
    --sym "$4" --threads 2 --seed 1 > "$1.log" 2>&1
}
if [ -z "${SKIP_D2:-}" ]; then
  run d2_sym d2_all.star d2.mrc D2 300
  run d2_c1 d2_all.star d2.mrc C1 300
  run d2_sym_quarter d2_quarter.star d2.mrc D2 300
fi
run hand hand.star hand.mrc C1 180
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
$py "$here/symmetry_report.py" "$work" "$results" "$N"
