#!/usr/bin/env bash
# Picking benchmark -> benchmarks/results/picking/{results.json,README.md,*.png}
#  1. simulated micrographs (ribosome map, 1024^2 at 5 A/px, decoys on) at several SNRs:
#     emkit template / LoG next to relion_autopick template / LoG, same micrographs, same
#     references, same cores (emkit --threads N; RELION relion_autopick_mpi with N ranks);
#  2. the real EMPIAR-10028 test micrographs (emkit template and LoG);
#  3. the 4096^2 timing target (10 references x 36 rotations, binned to 1024^2).
#   usage: benchmarks/picking/run.sh [build dir (build)] [work dir (/tmp/emkit_bench_picking)]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${1:-build}")
W=$(realpath -m "${2:-/tmp/emkit_bench_picking}")
OUT=$(pwd)/benchmarks/results/picking
E="$W/bin/emkit"          # copies: rebuilding during the run cannot change the programs measured
SPEED="$W/bin/bench_template_speed"
THREADS=${THREADS:-2}
SNRS=${SNRS:-"0.05 0.1 0.2"}
NMIC=${NMIC:-3}
DATA=$(realpath ../shared/data)
MAP=$DATA/maps/ribosome70s_65.mrc
MPI="mpirun --allow-run-as-root --oversubscribe -n $THREADS"
mkdir -p "$W" "$OUT"
ninja -C "$BUILD" emkit bench_template_speed >/dev/null
mkdir -p "$W/bin"
cp "$BUILD/apps/emkit" "$BUILD/benchmarks/picking/bench_template_speed" "$W/bin/"
timed() {  # timed NAME command...: runs the command, wall seconds into $W/times/NAME.wall
  mkdir -p "$W/times"
  local name=$1 t0=$EPOCHREALTIME
  shift
  "$@"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' > "$W/times/$name.wall"
}

for snr in $SNRS; do
  S=$W/sim_$snr
  [ -f "$S/micrographs.star" ] || "$E" simulate micrographs --map "$MAP" --pixel-size 5 --n "$NMIC" --size 1024 \
      --snr "$snr" --seed 7 --threads "$THREADS" -o "$S" >/dev/null 2>&1
  rm -rf "$S/emkit_template" "$S/emkit_log" "$S"/eval_*
  timed "template_$snr" "$E" pick -i "$S/micrographs.star" -o "$S/emkit_template" --method template \
      --reference-map "$MAP" --reference-pixel-size 5 --views 10 --diameter 250 --ctf --threshold 0.05 \
      --write-references --threads "$THREADS" --quiet
  timed "log_$snr" "$E" pick -i "$S/micrographs.star" -o "$S/emkit_log" --method log --diameter 250 \
      --threshold 0 --threads "$THREADS" --quiet
  if [ -z "${SKIP_RELION:-}" ]; then  # SKIP_RELION=1 keeps RELION's outputs and times of an earlier run
  rm -rf "$S/relion_template" "$S/relion_log"
  mkdir -p "$S/relion_template" "$S/relion_log"
  timed "relion_template_$snr" $MPI relion_autopick_mpi --i "$S/micrographs.star" --odir "$S/relion_template/" \
      --pickname autopick --ref "$S/emkit_template/references.mrcs" --angpix_ref 5 --invert --ang 10 --lowpass 20 \
      --ctf --particle_diameter 250 --threshold 0 --min_distance 125 --shrink 0 >"$S/relion_template/log.txt" 2>&1
  timed "relion_log_$snr" $MPI relion_autopick_mpi --i "$S/micrographs.star" --odir "$S/relion_log/" \
      --pickname autopick --LoG --LoG_diam_min 200 --LoG_diam_max 300 --particle_diameter 250 \
      >"$S/relion_log/log.txt" 2>&1
  fi
  # Evaluation: radius = half the diameter (25 px); operating thresholds = each program's default.
  "$E" eval-picks --picks "$S/emkit_template" --truth "$S/truth.star" --diameter-px 50 --threshold 0.28 \
      --label "emkit template" -o "$S/eval_emkit_template" --quiet
  "$E" eval-picks --picks "$S/emkit_log" --truth "$S/truth.star" --diameter-px 50 --threshold 2.8 \
      --label "emkit LoG" -o "$S/eval_emkit_log" --quiet
  "$E" eval-picks --picks "$(dirname "$(find "$S/relion_template" -name '*_autopick.star' | head -1)")" \
      --truth "$S/truth.star" --diameter-px 50 --threshold 0.25 --label "relion template" -o "$S/eval_relion_template" --quiet
  "$E" eval-picks --picks "$(dirname "$(find "$S/relion_log" -name '*_autopick.star' | head -1)")" \
      --truth "$S/truth.star" --diameter-px 50 --label "relion LoG" -o "$S/eval_relion_log" --quiet
done

# Real micrographs: EMPIAR-10028 test split (8-bit PNG, ~5.4 A/px, ribosome ~57 px = ~308 A).
# References: the 70S ribosome map (no 80S map is at hand) given a 6 A pixel so its size
# matches the 80S; no CTF (the PNGs come without defocus).
R=$W/empiar10028
rm -rf "$R" && mkdir -p "$R"
T=$DATA/micrographs/empiar10028/test
timed real_log "$E" pick -i "$T/images/*.png" --pixel-size 5.4 -o "$R/emkit_log" --method log --diameter 308 \
    --threshold 0 --threads "$THREADS" --overlays --quiet
timed real_template "$E" pick -i "$T/images/*.png" --pixel-size 5.4 -o "$R/emkit_template" --method template \
    --reference-map "$MAP" --reference-pixel-size 6 --views 10 --diameter 308 --threshold 0.05 --threads "$THREADS" \
    --overlays --quiet
"$E" eval-picks --picks "$R/emkit_log" --truth "$T/coords" --radius-px 28.5 --threshold 2.8 --label "emkit LoG" \
    -o "$R/eval_emkit_log" --quiet
"$E" eval-picks --picks "$R/emkit_template" --truth "$T/coords" --radius-px 28.5 --threshold 0.28 \
    --label "emkit template" -o "$R/eval_emkit_template" --quiet

# 4096^2 timing target: 1.25 A/px, binned to 5 A/px (1024^2), 10 references x 36 rotations.
B=$W/big
[ -f "$B/micrographs.star" ] || "$E" simulate micrographs --map "$MAP" --pixel-size 1.25 --rescale --n 1 --size 4096 \
    --snr 0.1 --seed 7 --threads "$THREADS" -o "$B" >/dev/null 2>&1
REFS=$W/sim_$(echo $SNRS | cut -d' ' -f1)/emkit_template/references.mrcs
"$SPEED" "$B/micrographs/mic_0001.mrc" "$REFS" 250 5 "$THREADS" > "$W/big_emkit.json"
# CPU seconds of a one-thread run (3 repetitions): a bound on the wall time that the load of a
# shared machine cannot inflate.
/usr/bin/time -f "%U %S" -o "$W/big_cpu_1thread.txt" "$SPEED" "$B/micrographs/mic_0001.mrc" "$REFS" 250 5 1 \
    > "$W/big_emkit_1thread.json"
"$SPEED" "$B/micrographs/mic_0001.mrc" "$REFS" 250 5 "$THREADS" -1 \
    > "$W/big_emkit_full_grid.json"
if [ -z "${SKIP_RELION:-}" ]; then
rm -rf "$B/relion_template" && mkdir -p "$B/relion_template"
timed big_relion_template $MPI relion_autopick_mpi --i "$B/micrographs.star" --odir "$B/relion_template/" \
    --pickname autopick --ref "$REFS" --angpix_ref 5 --invert --ang 10 --lowpass 20 --ctf --particle_diameter 250 \
    --threshold 0 --min_distance 125 --shrink 0 >"$B/relion_template/log.txt" 2>&1
fi
uptime > "$W/load.txt"
/usr/bin/python3 benchmarks/picking/report.py "$W" "$OUT" "$SNRS" "$NMIC" "$THREADS"
echo "wrote $OUT/README.md"
