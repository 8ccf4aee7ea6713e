#!/usr/bin/env bash
# Post-processing benchmark: emkit postprocess vs RELION 3.1.3 relion_postprocess on the same half maps.
#   half maps: 6000 projections of ../shared/data/maps/ribosome70s_65.mrc (64 px, 2 Å/px, CTF with defocus
#              1-3 µm, SNR 0.05) from `emkit simulate particles`, split into odd/even rlnRandomSubset and
#              reconstructed with `emkit reconstruct --ctf --subset 1|2`
#   mask:      relion_mask_create on the average of the halves (--lowpass 15 --ini_threshold 1e-4
#              --extend_inimask 3 --width_soft_edge 6); emkit's --auto-mask with the same settings beside it
#   runs:      both programs with that mask and --auto_bfac (--autob_lowres 10), seeds 1..SEEDS (RELION's
#              --random_seed, emkit's --seed: the phase randomisation), and once with --skip_fsc_weighting
#              (nothing random enters the B-factor then)
#   measured:  final resolution, B-factor, Guinier-fit r², wall time of each run; mask differences
# Usage: benchmarks/postprocess/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/postprocess/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_postprocess}
results=$root/benchmarks/results/postprocess
data=$root/../shared/data
SEEDS=${SEEDS:-10}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
if [ ! -f run_half2_class001_unfil.mrc ]; then
  rm -rf sim
  "$emkit" simulate particles --map "$data/maps/ribosome70s_65.mrc" --pixel-size 2 --box 64 --n 6000 --snr 0.05 \
    --defocus-min 10000 --defocus-max 30000 --seed 1 -q -o sim
  $py - <<'PY'
# rlnRandomSubset 1, 2, 1, 2, ... on the particles
lines = open('sim/particles.star').read().split('\n')
out, block, ncol, row = [], None, 0, 0
for l in lines:
    if l.startswith('data_'):
        block = l.strip()
    if block == 'data_particles':
        if l.startswith('_rln'):
            ncol += 1
            out.append(l)
            continue
        if l.strip() and not l.startswith(('loop_', 'data_', '#')) and ncol > 0:
            if row == 0:
                out.append('_rlnRandomSubset #%d ' % (ncol + 1))
            row += 1
            out.append(l.rstrip() + '  %d' % (1 if row % 2 else 2))
            continue
    out.append(l)
open('sim/particles_halves.star', 'w').write('\n'.join(out))
PY
  for s in 1 2; do
    "$emkit" reconstruct -i sim/particles_halves.star -o run_half${s}_class001_unfil.mrc --ctf --subset $s --threads 2 -q
  done
fi
$py - <<'PY'
import mrcfile, numpy as np
a = mrcfile.open('run_half1_class001_unfil.mrc').data
b = mrcfile.open('run_half2_class001_unfil.mrc').data
with mrcfile.new('average.mrc', overwrite=True) as o:
    o.set_data((np.float32(0.5) * a + np.float32(0.5) * b).astype(np.float32))
    o.voxel_size = 2.0
PY
relion_mask_create --i average.mrc --o relion_mask.mrc --lowpass 15 --angpix 2 --ini_threshold 1e-4 \
  --extend_inimask 3 --width_soft_edge 6 > mask.log 2>&1
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
h1=run_half1_class001_unfil.mrc
rm -rf runs && mkdir -p runs
timed() {  # timed OUT.time command...
  local out=$1; shift
  local t0=$(date +%s.%N)
  "$@"
  echo "$(date +%s.%N) - $t0" | bc > "$out"
}
timed runs/emkit_automask.time "$emkit" postprocess -i $h1 --auto-mask --mask-threshold 1e-4 --mask-lowpass 15 \
  --extend_inimask 3 --width_mask_edge 6 --auto-bfac --seed 1 --threads 2 -q -o runs/emkit_automask
for s in direct $(seq 1 $SEEDS); do
  if [ $s = direct ]; then rf="--skip_fsc_weighting"; ef="--skip-fsc-weighting --seed 1"; else rf="--random_seed $s"; ef="--seed $s"; fi
  timed runs/relion_$s.time relion_postprocess --i $h1 --mask relion_mask.mrc --auto_bfac --autob_lowres 10 $rf \
    --o runs/relion_$s > runs/relion_$s.log 2>&1
  timed runs/emkit_$s.time "$emkit" postprocess -i $h1 --mask relion_mask.mrc --auto-bfac --autob-lowres 10 $ef \
    --threads 2 -q -o runs/emkit_$s
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
cp runs/emkit_1/postprocess_fsc.png "$results/fsc.png"
cp runs/emkit_1/postprocess_guinier.png "$results/guinier.png"
$py "$here/report.py" "$work" "$results" "$SEEDS"
