#!/usr/bin/env bash
# Reconstruction benchmark: emkit reconstruct vs RELION 3.1.3 relion_reconstruct on the same particles.
#   particles: N projections (default 5000) of ../shared/data/maps/ribosome70s_65.mrc at 5 Å/px in a 64 px
#              box with CTF (defocus 1-3 µm) and noise at SNR 0.05, from `emkit simulate particles`,
#              true angles and origins in the STAR file
#   both:      --ctf, C1, pad 2, 10 gridding iterations; emkit with 2 threads, relion_reconstruct (one
#              thread) and relion_reconstruct_mpi with 2 ranks
#   measured:  wall time, peak memory (/usr/bin/time -v), FSC emkit vs RELION, FSC of each vs the true
#              map (the 65^3 map cropped to 64^3, centre kept), and the hand map (hand_64.mrc) rebuilt
#              from 2000 noiseless projections: correlation with itself and with its mirror image
# Usage: benchmarks/reconstruct/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/reconstruct/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_reconstruct}
results=$root/benchmarks/results/reconstruct
data=$root/../shared/data
N=${N:-5000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work" "$results"
cd "$work"
py=/usr/bin/python3
if [ ! -f sim$N/particles.star ]; then
  rm -rf sim$N
  "$emkit" simulate particles --map "$data/maps/ribosome70s_65.mrc" --pixel-size 5 --box 64 --n $N --snr 0.05 \
    --defocus-min 10000 --defocus-max 30000 --seed 1 -q -o sim$N
fi
$py - "$data/maps/ribosome70s_65.mrc" truth64.mrc <<'PY'
import sys, numpy as np, mrcfile
with mrcfile.open(sys.argv[1], permissive=True) as m:
    v = np.asarray(m.data, dtype=np.float32)
# The simulator puts the 65^3 map's centre (voxel 32) at the 64 px box's centre (pixel 32).
with mrcfile.new(sys.argv[2], overwrite=True) as o:
    o.set_data(np.ascontiguousarray(v[:64, :64, :64]))
    o.voxel_size = 5.0
PY
echo "load before emkit: $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
/usr/bin/time -v -o emkit.time "$emkit" reconstruct -i sim$N/particles.star -o emkit.mrc --ctf --threads 2 > emkit.log 2>&1
echo "load before relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
/usr/bin/time -v -o relion.time relion_reconstruct --i sim$N/particles.star --o relion.mrc --ctf > relion.log 2>&1
echo "load before relion mpi: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
/usr/bin/time -v -o relion_mpi.time mpirun --oversubscribe -np 2 relion_reconstruct_mpi --i sim$N/particles.star \
  --o relion_mpi.mrc --ctf > relion_mpi.log 2>&1
echo "load before emkit mpi: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
/usr/bin/time -v -o emkit_mpi.time mpirun --oversubscribe -np 2 "$emkit" reconstruct -i sim$N/particles.star \
  -o emkit_mpi.mrc --ctf --threads 1 > emkit_mpi.log 2>&1
cmp emkit.mrc emkit_mpi.mrc && echo "emkit: 2 threads and 2 ranks give the same file" > identical.txt
"$emkit" fsc emkit.mrc relion.mrc -o fsc_emkit_relion -q
"$emkit" fsc emkit.mrc truth64.mrc -o fsc_emkit_truth -q
"$emkit" fsc relion.mrc truth64.mrc -o fsc_relion_truth -q
# Handedness.
if [ ! -f hand/particles.star ]; then
  "$emkit" simulate particles --map "$data/maps/hand_64.mrc" --n 2000 --no-ctf --snr 1000 --seed 2 -q -o hand
fi
"$emkit" reconstruct -i hand/particles.star -o hand.mrc --threads 2 -q
relion_reconstruct --i hand/particles.star --o hand_relion.mrc > hand_relion.log 2>&1
$py "$here/report.py" "$work" "$results" "$N"
