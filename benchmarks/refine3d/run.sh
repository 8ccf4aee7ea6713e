#!/usr/bin/env bash
# 3D auto-refinement benchmark: emkit refine3d vs RELION 3.1.3 relion_refine_mpi --auto_refine on the same particles.
#   particles: N projections of ../shared/data/maps/ribosome70s_65.mrc (cropped to 64 px at 5 Å/px, class3d's
#              make_data.py), CTF (defocus 1-3 µm), SNR 0.05, from `emkit simulate particles`; the STAR gives neither
#              angles nor origins; the map is scaled so the particles' noise has unit standard deviation, as
#              RELION expects of normalised particles (class3d/simulate_normalised.py)
#   both:      the map low-passed to 60 Å as reference (--ini_high 60), gold-standard halves, HEALPix order 2,
#              local searches from order 4, offsets 5 px / 1 px, 300 Å mask, solvent flattening, CTF, C1, the
#              reference taken as CTF-corrected (RELION 3.1: --ctf_corrected_ref, see class3d/run.sh);
#              emkit: 2 threads in one process; RELION: 3 MPI ranks (a leader and one follower per half), 1 thread each
#   measured:  wall time per iteration and to convergence, peak memory (/usr/bin/time -v), final half-map resolution
#              (FSC 0.143), FSC of the final map against the true map, median angular and offset errors
# Usage: benchmarks/refine3d/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/refine3d/)
#   N=2000 (particles); OFFSET_RANGE=5 (pixels, both programs); PAGE=name writes name.md, name.json and
#   name_fsc.png instead of README.md, refine3d.json and fsc.png;
#   SKIP_RELION=1 / SKIP_EMKIT=1 reuse that program's run already in WORKDIR;
#   RELION_ITER=k stops relion_refine_mpi once its iteration k is written (a run to convergence takes hours on
#   2 cores), and the report compares the two programs after that iteration
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_refine3d}
results=$root/benchmarks/results/refine3d
data=${EMKIT_SHARED_DATA:-$root/../shared/data}
N=${N:-2000}
offset_range=${OFFSET_RANGE:-5}
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work" "$results"
cd "$work"
if [ ! -f particles.star ] || [ "$(cat n.txt 2>/dev/null)" != "$N normalised" ]; then
  $py "$root/benchmarks/class3d/make_data.py" "$data/maps/ribosome70s_65.mrc" . > /dev/null
  $py "$root/benchmarks/class3d/simulate_normalised.py" "$emkit" sim truthA64.mrc -- --pixel-size 5 --box 64 \
    --n "$N" --snr 0.05 --defocus-min 10000 --defocus-max 30000 --seed 21 > scale.txt
  $py "$here/strip.py" sim/particles.star particles.star
  echo "$N normalised" > n.txt
fi
touch load.txt
if [ -z "${SKIP_EMKIT:-}" ]; then
  grep -v emkit load.txt > load.tmp || true; mv load.tmp load.txt
  echo "load before emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  /usr/bin/time -v -o emkit.time "$emkit" refine3d -i particles.star -o emkit --overwrite --ref truthA64.mrc \
    --ini-high 60 --particle-diameter 300 --healpix-order 2 --auto-local-healpix-order 4 --offset-range "$offset_range" \
    --offset-step 1 --sym C1 --threads 2 --seed 1 > emkit.log 2>&1
  echo "load after emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
if [ -z "${SKIP_RELION:-}" ]; then
  grep -v relion load.txt > load.tmp || true; mv load.tmp load.txt
  rm -rf relion && mkdir relion
  echo "load before relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  date +%s.%N > relion.start
  /usr/bin/time -v -o relion.time mpirun --oversubscribe -np 3 relion_refine_mpi --auto_refine --split_random_halves \
    --i particles.star --o relion/run --ref truthA64.mrc --ini_high 60 --particle_diameter 300 --healpix_order 2 \
    --auto_local_healpix_order 4 --offset_range "$offset_range" --offset_step 1 --sym C1 --ctf --ctf_corrected_ref --flatten_solvent --pad 2 --j 1 \
    --low_resol_join_halves 40 --random_seed 1 --dont_combine_weights_via_disc --pool 3 > relion.log 2>&1 &
  relion_pid=$!
  rm -f relion.stopped relion.pauses  # relion.pauses: "start end" per line of a pause (SIGSTOP/SIGCONT)
  if [ -n "${RELION_ITER:-}" ]; then
    last=relion/run_it$(printf %03d "$RELION_ITER")
    while kill -0 $relion_pid 2> /dev/null; do
      if [ -f ${last}_half2_model.star ] && [ -f ${last}_data.star ] && [ -f ${last}_optimiser.star ]; then
        sleep 10  # the iteration's last files are written
        echo "$RELION_ITER" > relion.stopped
        pkill -f "relion_refine_mpi --auto_refine --split_random_halves --i particles.star --o relion/run" || true
        break
      fi
      sleep 5
    done
  fi
  wait $relion_pid || [ -f relion.stopped ]
  echo "load after relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
$py "$here/report.py" "$work" "$results" "$N" "$offset_range" "${PAGE:-}"
