#!/usr/bin/env bash
# Class2D benchmark: emkit class2d vs RELION 3.1.3 relion_refine on the same simulated particles.
#   particles: projections of ../shared/data/maps/ribosome70s_65.mrc (5 Å/px, 64 px box, CTF,
#              SNR 0.05) from `emkit simulate particles`; true angles/offsets removed from the input
#   both:      K=10, 15 iterations, psi step 12°, offset range 5 px, step 2 px, T=2, 300 Å mask,
#              zero mask, 2 threads, no class re-centring (RELION: --oversampling 1 --flatten_solvent,
#              no --norm/--scale/--center_classes; emkit: --no-center-classes)
#   quality:   benchmarks/class2d/quality.py (view spread per class, FRC vs best noiseless projection)
#   scaling:   emkit 5 iterations with 1 vs 2 threads, and 1 vs 2 MPI ranks (1 thread each)
#   NORM=1:    both with --norm --scale (as the RELION GUI runs Class2D); work dir .../norm_scale and
#              results in benchmarks/results/class2d/norm_scale/
# Usage: benchmarks/class2d/run.sh [EMKIT] [WORKDIR]   (writes benchmarks/results/class2d/)
# Large case (the issue): N=20000 K=50 RELION_ITER=3 SCALING=0 benchmarks/class2d/run.sh ...
#   (RELION runs only its first RELION_ITER iterations, to time them; start it early: hours on 2 cores)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emkit=${1:-$root/build/apps/emkit}
NORM=${NORM:-0}
corr=()
[ "$NORM" = 1 ] && corr=(--norm --scale)
work=${2:-/tmp/emkit_bench_class2d}
results=$root/benchmarks/results/class2d
if [ "$NORM" = 1 ]; then work=$work/norm_scale results=$results/norm_scale; fi
map=$root/../shared/data/maps/ribosome70s_65.mrc
N=${N:-2000}
K=${K:-10}
ITER=${ITER:-15}
RELION_ITER=${RELION_ITER:-$ITER}
SCALING=${SCALING:-1}
mkdir -p "$work" "$results"
cd "$work"
py=/usr/bin/python3
if [ ! -f p$N/particles.star ]; then
  "$emkit" simulate particles --map "$map" --pixel-size 5 --box 64 --n $N --snr 0.05 --write-noiseless --seed 1 \
    --threads 2 -q --out p$N
fi
if [ ! -f refs/particles_noiseless.mrcs ]; then
  "$emkit" simulate particles --map "$map" --pixel-size 5 --box 64 --n 300 --no-ctf --snr 1e6 --max-offset 0 \
    --write-noiseless --seed 2 -q --out refs
fi
# Input without the true angles and offsets.
$py - "$N" <<'PY'
import sys
n = sys.argv[1]
out, labels, inpart = [], [], False
for l in open(f"p{n}/particles.star").read().split("\n"):
    s = l.strip()
    if s == "data_particles": inpart = True
    if inpart and s.startswith("_rln"):
        labels.append(s.split()[0]); out.append(l); continue
    if inpart and s and not s.startswith(("_", "loop_", "#", "data_")):
        f = s.split()
        for i, lab in enumerate(labels):
            if lab in ("_rlnAngleRot", "_rlnAngleTilt", "_rlnAnglePsi", "_rlnOriginXAngst", "_rlnOriginYAngst"): f[i] = "0"
            if lab == "_rlnImageName": f[i] = f[i].split("@")[0] + f"@p{n}/" + f[i].split("@")[1].split("/")[-1]
        out.append(" ".join(f)); continue
    out.append(l)
open(f"input{n}.star", "w").write("\n".join(out))
PY
common=(--K $K --particle-diameter 300 --psi-step 12 --offset-range 5 --offset-step 2 --zero-mask --seed 1
  --no-center-classes "${corr[@]}")
echo "load before emkit: $(cut -d' ' -f1-3 /proc/loadavg)" > load$N.txt
rm -rf emkit$N
/usr/bin/time -v -o emkit$N.time "$emkit" class2d --i input$N.star --o emkit$N "${common[@]}" --iter $ITER --threads 2 \
  > emkit$N.log 2>&1
if [ ! -f relion$N/run_it$(printf %03d $RELION_ITER)_model.star ]; then
  echo "load before relion: $(cut -d' ' -f1-3 /proc/loadavg)" >> load$N.txt
  rm -rf relion$N && mkdir -p relion$N
  /usr/bin/time -v -o relion$N/time.txt relion_refine --i input$N.star --o relion$N/run --ctf --iter $RELION_ITER --tau2_fudge 2 --particle_diameter 300 \
    --K $K --flatten_solvent --zero_mask --oversampling 1 --psi_step 12 --offset_range 5 --offset_step 2 --j 2 --pool 30 \
    --dont_combine_weights_via_disc --random_seed 1 "${corr[@]}" > relion$N/log.txt 2>&1
fi
# Scaling (5 iterations).
[ "$SCALING" = 1 ] && for t in 1 2; do
  rm -rf scale${N}_t$t
  /usr/bin/time -f "%e %M" -o scale${N}_t$t.time "$emkit" class2d --i input$N.star --o scale${N}_t$t "${common[@]}" --iter 5 \
    --threads $t -q > scale${N}_t$t.log 2>&1
done
[ "$SCALING" = 1 ] && for r in 1 2; do
  rm -rf scale${N}_r$r
  /usr/bin/time -f "%e %M" -o scale${N}_r$r.time mpirun --allow-run-as-root --oversubscribe -np $r "$emkit" class2d \
    --i input$N.star --o scale${N}_r$r "${common[@]}" --iter 5 --threads 1 -q > scale${N}_r$r.log 2>&1
done
it=$(printf %03d $ITER)
# RELION's last written iteration (all of them unless it was stopped early); emkit is also scored there.
rit=$(ls relion$N/run_it*_model.star | sed 's/.*run_it\([0-9]*\)_model.star/\1/' | sort | tail -1)
quality() { $py "$here/quality.py" p$N/particles.star $1_data.star $1_classes.mrcs refs/particles_noiseless.mrcs 5; }
quality emkit$N/run_it$it > quality_emkit$N.json
quality relion$N/run_it$rit > quality_relion$N.json
quality emkit$N/run_it$rit > quality_emkit${N}_it$rit.json
$py "$here/report.py" "$work" "$results" "$N" "$K" "$ITER" "$rit"
