#!/usr/bin/env bash
# 3D classification benchmark: emkit class3d vs RELION 3.1.3 relion_refine (Class3D) on the same particles.
#   particles: N projections, each of one of two conformations drawn at random (../shared/data/maps/
#              ribosome70s_65.mrc at 5 Å/px in a 64 px box, and the same map with a 60 Å sphere of density
#              removed: make_data.py), CTF (defocus 1-3 µm), SNR 0.05, from one `emkit simulate particles` run;
#              the maps are scaled so the particles' noise has unit standard deviation, as RELION expects of
#              normalised particles (simulate_normalised.py); the STAR gives neither angles nor origins
#   both:      K = 2 from conformation A low-passed to 60 Å (--ini_high 60), T = 4, HEALPix order 2,
#              offsets 5 px / 1 px, 300 Å mask, solvent flattening, CTF, C1, the reference taken as CTF-corrected
#              (emkit always; RELION 3.1 only with --ctf_corrected_ref, which its GUI leaves off: without it the
#              first iteration scores the particles against references without the CTF and does not align
#              them; RELION 4 made it the default), the 15° grid alone (emkit's
#              default; relion_refine --oversampling 0, as its default adaptive oversampling would score finer
#              orientations), the probabilities from the frequencies below STRICT Å (default 40;
#              --strict-highres-exp / RELION's --strict_highres_exp; 0: all of them), 2 threads; emkit runs
#              ITER iterations, relion_refine (one process, --j 2) RELION_ITER
#   measured:  wall time per iteration, peak memory (/usr/bin/time -v; up to each iteration: emkit's log,
#              relion_refine's resident set polled each second, peak_poll.sh), assignment accuracy against the truth
#              (best labelling), median angular error, FSC of each emkit class map against its true map, and
#              the oracle: the accuracy of classifying by the true maps at the true orientations (oracle.py)
# Usage: benchmarks/class3d/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/class3d/)
#   SKIP_EMKIT=1 / SKIP_RELION=1 reuse that program's run already in WORKDIR;
#   OVERSAMPLING=1: both programs score coarse to fine (--oversampling 1, RELION's default adaptive
#   oversampling: the significant orientations again at HEALPix order 3, their offsets at half the step; emkit
#   keeps each particle's heaviest 100 orientations per class, its default --maxsig 0) and the page is
#   oversampling.md, to which UNLIMITED_ITER=k (default 7) adds an emkit run of the same flags without the limit
#   (WORKDIR/emkit_unlimited; SKIP_UNLIMITED=1 reuses it) and NOCAP=1 emkit's first RELION_ITER iterations
#   with every significant orientation kept (--maxsig -1, as relion_refine 3.1; WORKDIR/emkit_nocap)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=$(realpath "${1:-$root/build/apps/emkit}")
work=${2:-/tmp/emkit_bench_class3d}
results=$root/benchmarks/results/class3d
data=$root/../shared/data
N=${N:-2000} ITER=${ITER:-25} RELION_ITER=${RELION_ITER:-2} STRICT=${STRICT:-40} OVERSAMPLING=${OVERSAMPLING:-0}
py=/usr/bin/python3
mkdir -p "$work" "$results"
cd "$work"
"$here/make_particles.sh" "$emkit" "$data" "$N"
source "$here/flags.sh"
if [ "$OVERSAMPLING" = 1 ]; then
  flags_emkit+=(--oversampling 1)
  for i in "${!flags_relion[@]}"; do [ "${flags_relion[$i]}" = --oversampling ] && flags_relion[i + 1]=1; done
fi
unlimited_run=""
if [ "$OVERSAMPLING" = 1 ] && [ "${UNLIMITED_ITER:-7}" != 0 ]; then
  unlimited_run=$work/emkit_unlimited
  if [ -z "${SKIP_UNLIMITED:-}" ]; then
    "$emkit" class3d -i particles.star -o emkit_unlimited --overwrite --iter "${UNLIMITED_ITER:-7}" \
      "${flags_emkit[@]}" > emkit_unlimited.log 2>&1
  fi
fi
if [ "$STRICT" != 0 ]; then
  flags_emkit+=(--strict-highres-exp "$STRICT")
  flags_relion+=(--strict_highres_exp "$STRICT")
fi
touch load.txt
if [ -z "${SKIP_EMKIT:-}" ]; then
  grep -v emkit load.txt > load.tmp || true; mv load.tmp load.txt
  echo "load before emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  /usr/bin/time -v -o emkit.time "$emkit" class3d -i particles.star -o emkit --overwrite --iter $ITER \
    "${flags_emkit[@]}" > emkit.log 2>&1
  echo "load after emkit: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
if [ "$OVERSAMPLING" = 1 ] && [ -n "${NOCAP:-}" ] && [ -z "${SKIP_EMKIT:-}" ]; then
  /usr/bin/time -v -o emkit_nocap.time "$emkit" class3d -i particles.star -o emkit_nocap --overwrite \
    --iter "$RELION_ITER" "${flags_emkit[@]}" --maxsig -1 > emkit_nocap.log 2>&1
fi
$py "$here/oracle.py" . "$emkit" > oracle.txt
if [ -z "${SKIP_RELION:-}" ]; then
  grep -v relion load.txt > load.tmp || true; mv load.tmp load.txt
  echo "load before relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
  rm -rf relion && mkdir relion
  /usr/bin/time -v -o relion.time relion_refine --i particles.star --o relion/run --iter "$RELION_ITER" \
    "${flags_relion[@]}" > relion.log 2>&1 &
  relion_pid=$!
  "$here/peak_poll.sh" relion_refine "$relion_pid" relion.peak &  # its peak up to each iteration
  wait "$relion_pid"
  echo "load after relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load.txt
fi
for c in 1 2; do
  for t in A B; do "$emkit" fsc emkit/run_it$(printf %03d $ITER)_class00$c.mrc truth${t}64.mrc -o fsc_c${c}_$t -q; done
done
$py "$here/report.py" "$work" "$results" "$N" "$ITER" "$RELION_ITER" "$STRICT" "$OVERSAMPLING" "$unlimited_run"
