#!/usr/bin/env bash
# How refine3d's time per iteration and peak memory grow with the number of particles and the box:
#   the ribosome particles of run.sh (64 px, 5 Å/px, CTF, SNR 0.05) at N = 2000 and N = 20000, and at
#   N = 2000 in a 128 px box (the map resampled to 2.5 Å/px: the same 320 Å box, twice the pixels, and
#   SNR 0.05 (64/box)^2: the same SNR per Fourier pixel at a given resolution, as white noise spreads
#   over 4x the Fourier pixels);
#   the first ITER iterations of each (default 2: global searches at HEALPix order 2, the broadest), 2 threads.
# Usage: benchmarks/refine3d/scale.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/refine3d/scale.{json,md})
#   A run stopped for a while (kill -STOP, then -CONT) while other work needs the cores has each pause as a
#   line "start end" (epoch seconds) in WORKDIR/n<N>_box<BOX>.pauses; the report takes them out of its times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_refine3d_scale}
results=$root/benchmarks/results/refine3d
data=${EMKIT_SHARED_DATA:-$root/../shared/data}
ITER=${ITER:-2}
CASES=${CASES:-"2000:64 20000:64 2000:128"}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
$py "$root/benchmarks/class3d/make_data.py" "$data/maps/ribosome70s_65.mrc" . > /dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" > load.txt
for c in $CASES; do
  n=${c%:*} box=${c#*:}
  name=n${n}_box${box}
  map=truthA64.mrc
  if [ "$box" != 64 ]; then map=truth$box.mrc; $py "$here/resample.py" truthA64.mrc "$map" "$box" 5; fi
  snr=$($py -c "print(0.05 * (64 / $box) ** 2)")
  "$emkit" simulate particles --map "$map" --box "$box" --n "$n" --snr "$snr" --defocus-min 10000 \
    --defocus-max 30000 --seed 21 -q -o "sim_$name" --overwrite
  $py "$here/strip.py" "sim_$name/particles.star" "$name.star"
  /usr/bin/time -v -o "$name.time" "$emkit" refine3d -i "$name.star" -o "$name" --overwrite --ref "$map" \
    --ini-high 60 --particle-diameter 300 --healpix-order 2 --auto-local-healpix-order 4 --offset-range 5 \
    --offset-step 1 --sym C1 --threads 2 --seed 1 --iter "$ITER" > "$name.log" 2>&1 || true
  echo "load after $name: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
done
$py "$here/scale_report.py" "$work" "$results" "$ITER" $CASES
