#!/usr/bin/env bash
# Simulated picking benchmark at detector sampling -> benchmarks/results/cnn/simulated_<PIXEL>A.{json,md,png}
#   Ribosome micrographs SIZE^2 at PIXEL Å/px (default 4096^2 at 1.25 Å/px: a 250 Å particle spans 200 px, as on a
#   real detector), decoys and hard negatives on, two SNRs (science.md §5: per-particle variance ratio at the
#   simulated pixel size). Train the CNN (emkit train's defaults, PN: the labels are complete) on micrographs 1-10,
#   pick 11-30 with the CNN, template matching (true map, 10 views, CTF) and LoG; score each one-to-one within
#   half a diameter, and classify the CNN's errors (errors.py).
#   All pickers get --border = the particle radius: the simulator never places a centre closer to the edge, and a
#   particle cut by the edge cannot be extracted whole.
#   Why this set beside run.sh's 1024^2 at 5 Å/px: SNR is defined per pixel at the simulated sampling, so the same
#   SNR on 4x coarser pixels means ~16x less signal per particle (equivalent to SNR ~0.003 on 1.25 Å pixels).
#   usage: benchmarks/cnn/simulated.sh [build dir (build)] [work dir (/tmp/emkit_bench_cnn_sim)]
#   env:   PIXEL (1.25) SIZE (4096) SNRS ("0.05 0.1") THREADS (2) EPOCHS (20) STEPS (30) TTA (0: emkit train's default), as emkit train
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${1:-build}")
W=$(realpath -m "${2:-/tmp/emkit_bench_cnn_sim}")
PIXEL=${PIXEL:-1.25} SIZE=${SIZE:-4096} SNRS=${SNRS:-"0.05 0.1"} THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-20} STEPS=${STEPS:-30} TTA=${TTA:-0}
OUT=$(pwd)/benchmarks/results/cnn
E="$BUILD/apps/emkit"
PY=/usr/bin/python3
mkdir -p "$W/times" "$OUT"
ninja -C "$BUILD" emkit >/dev/null
timed() { local name=$1; shift; /usr/bin/time -f "%e %U %S" -o "$W/times/$name.time" "$@"; }
# The shared map has no pixel size in its header (~5 Å/px fits its ~250 Å size): a copy in the work dir says so,
# so that `simulate --rescale` can resample it to PIXEL.
MAP=$W/ribosome70s_5A.mrc
$PY - "$(realpath ../shared/data/maps/ribosome70s_65.mrc)" "$MAP" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
nx, ny, nz = struct.unpack_from("<3i", d, 0)
struct.pack_into("<3f", d, 40, 5.0 * nx, 5.0 * ny, 5.0 * nz)
open(sys.argv[2], "wb").write(d)
PY
DIAM_PX=$($PY -c "print(250 / $PIXEL)")
for snr in $SNRS; do
  S=$W/sim_$snr
  [ -f "$S/micrographs.star" ] || timed "simulate_$snr" "$E" simulate micrographs --map "$MAP" --pixel-size "$PIXEL" \
    --rescale --n 30 --size "$SIZE" --snr "$snr" --seed 11 --threads "$THREADS" --pictures -o "$S" > /dev/null
  rm -rf "$S/cnn" "$S/template" "$S/log" "$S"/eval_* "$S/truth_test" "$S/test.txt"
  mkdir -p "$S/truth_test"
  train=() test=()
  for i in $(seq -f "%04g" 1 10); do train+=("$S/micrographs/mic_$i.mrc"); done
  for i in $(seq -f "%04g" 11 30); do test+=("$S/micrographs/mic_$i.mrc"); cp "$S/truth/mic_$i.star" "$S/truth_test/"; done
  timed "cnn_train_$snr" "$E" train -i "${train[@]}" -c "$S/truth" --valid-fraction 0.2 --diameter 250 \
    --objective pn --epochs "$EPOCHS" --steps-per-epoch "$STEPS" --tta "$TTA" --threads "$THREADS" --seed 1 -q \
    -o "$S/cnn/train" > /dev/null
  T=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['default_threshold'])" "$S/cnn/train/training_report.json")
  timed "cnn_pick_$snr" "$E" pick --method cnn --model "$S/cnn/train/model.pt" -i "${test[@]}" --threshold=-6 \
    --border 125 --threads "$THREADS" -q -o "$S/cnn/pick"
  # The template picker needs each micrograph's CTF: it reads it from micrographs.star (all 30; the
  # scoring ignores the training micrographs, which have no truth in truth_test/).
  timed "template_$snr" "$E" pick -i "$S/micrographs.star" -o "$S/template" --method template --reference-map "$MAP" \
    --reference-pixel-size 5 --views 10 --diameter 250 --ctf --threshold 0.05 --border 125 --threads "$THREADS" -q
  timed "log_$snr" "$E" pick -i "${test[@]}" -o "$S/log" --method log --diameter 250 --threshold 0 --border 125 \
    --threads "$THREADS" -q
  for m in cnn template log; do
    picks=$S/$m; [ $m = cnn ] && picks=$S/cnn/pick
    "$E" eval-picks --picks "$picks" --truth "$S/truth_test" --diameter-px "$DIAM_PX" --threshold=-1e9 --label "emkit $m" \
      -q -o "$S/eval_$m" > /dev/null
  done
  $PY benchmarks/cnn/errors.py "$S" "$S/cnn/pick" "$T" 11 30 "$($PY -c "print(5 / $PIXEL)")" > "$S/cnn_errors.txt"
done
uptime > "$W/load.txt"
$PY benchmarks/cnn/simulated_report.py "$W" "$OUT" "$PIXEL" "$SIZE" "$SNRS" "$THREADS"
echo "wrote $OUT/simulated_${PIXEL}A.md"
