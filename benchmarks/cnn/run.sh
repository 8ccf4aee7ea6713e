#!/usr/bin/env bash
# CNN picker benchmark -> benchmarks/results/cnn/{results.json,README.md,*.png}
#  1. real: EMPIAR-10028 (1024^2 8-bit PNGs, ~5.4 A/px, ribosome ~57 px): train on train+valid
#     (PU objective: the labels are incomplete), pick the test split, score against its labels;
#  2. simulated: ribosome map, 1024^2 at 5 A/px, decoys on, two SNRs: train on micrographs 1-10
#     (full labels, PN), pick 11-30 with the CNN, template matching and LoG, score each;
#  3. speed: bench_cnn (4096^2 micrograph: preprocess + network + peaks; channels-last vs NCHW;
#     test-time augmentation on/off; training step; 1 vs 2 threads).
#  The CNNs are emkit train's defaults (resnet10, 4-fold test-time augmentation, named here as --tta 4)
#  with 8x30 steps (the default is 20x30).
#   usage: benchmarks/cnn/run.sh [build dir (build)] [work dir (/tmp/emkit_bench_cnn)]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${1:-build}")
W=$(realpath -m "${2:-/tmp/emkit_bench_cnn}")
OUT=$(pwd)/benchmarks/results/cnn
E="$BUILD/apps/emkit"
THREADS=${THREADS:-2}
TEMPLATE_T=${TEMPLATE_T:-0.3}  # emkit pick's default thresholds (operating points of the classical pickers)
LOG_T=${LOG_T:-2.8}
SNRS=${SNRS:-"0.05 0.1"}
DATA=$(realpath ../shared/data)
MAP=$DATA/maps/ribosome70s_65.mrc
mkdir -p "$W" "$OUT"
ninja -C "$BUILD" emkit bench_cnn >/dev/null
timed() {  # timed NAME command...: "wall user system" seconds into $W/times/NAME.time
  mkdir -p "$W/times"
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$W/times/$name.time" "$@"
}
threshold() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['default_threshold'])" "$1"; }

# 1. Real micrographs.
D=$DATA/micrographs/empiar10028
R=$W/real
rm -rf "$R" && mkdir -p "$R"
uptime > "$W/load_before_real.txt"
timed real_train "$E" train -i "$D/train/images" -c "$D/train/coords" --valid-micrographs "$D/valid/images" \
  --valid-coords "$D/valid/coords" --pixel-size 5.4 --diameter 308 --objective pu --expected-particles 150 \
  --epochs 8 --steps-per-epoch 30 --tta 4 --export-torchscript --threads "$THREADS" --seed 1 -q -o "$R/train" \
  > "$R/train.txt"
T=$(threshold "$R/train/training_report.json")
timed real_pick "$E" pick --method cnn --model "$R/train/model.pt" -i "$D/test/images/*.png" --pixel-size 5.4 \
  --threshold -6 --overlays --threads "$THREADS" -q -o "$R/pick"
"$E" eval-picks --picks "$R/pick" --truth "$D/test/coords" --radius-px 28.5 --threshold "$T" --label "emkit cnn" \
  -q -o "$R/eval" > "$R/eval.txt"

# 2. Simulated micrographs at two SNRs.
for snr in $SNRS; do
  S=$W/sim_$snr
  [ -f "$S/micrographs.star" ] || "$E" simulate micrographs --map "$MAP" --pixel-size 5 --n 30 --size 1024 \
      --snr "$snr" --seed 11 --threads "$THREADS" -o "$S" >/dev/null 2>&1
  rm -rf "$S/cnn" "$S/template" "$S/log" "$S"/eval_* "$S/truth_test"
  mkdir -p "$S/truth_test"
  train_mics=()
  for i in $(seq -f "%04g" 1 10); do train_mics+=("$S/micrographs/mic_$i.mrc"); done
  for i in $(seq -f "%04g" 11 30); do cp "$S/truth/mic_$i.star" "$S/truth_test/"; done
  timed "cnn_train_$snr" "$E" train -i "${train_mics[@]}" -c "$S/truth" --valid-fraction 0.2 --diameter 250 \
    --objective pn --epochs 8 --steps-per-epoch 30 --tta 4 --threads "$THREADS" --seed 1 -q -o "$S/cnn/train" \
    > "$S/cnn_train.txt"
  T=$(threshold "$S/cnn/train/training_report.json")
  timed "cnn_pick_$snr" "$E" pick --method cnn --model "$S/cnn/train/model.pt" -i "$S/micrographs.star" \
    --threshold -6 --threads "$THREADS" -q -o "$S/cnn/pick"
  timed "template_$snr" "$E" pick -i "$S/micrographs.star" -o "$S/template" --method template \
    --reference-map "$MAP" --reference-pixel-size 5 --views 10 --diameter 250 --ctf --threshold 0.05 \
    --threads "$THREADS" --quiet
  timed "log_$snr" "$E" pick -i "$S/micrographs.star" -o "$S/log" --method log --diameter 250 --threshold 0 \
    --threads "$THREADS" --quiet
  # Only micrographs 11-30 have truth here: the training micrographs are ignored by eval-picks.
  "$E" eval-picks --picks "$S/cnn/pick" --truth "$S/truth_test" --diameter-px 50 --threshold "$T" --label "emkit cnn" \
    -q -o "$S/eval_cnn" > /dev/null
  "$E" eval-picks --picks "$S/template" --truth "$S/truth_test" --diameter-px 50 --threshold 0.25 \
    --label "emkit template" -q -o "$S/eval_template" > /dev/null
  "$E" eval-picks --picks "$S/log" --truth "$S/truth_test" --diameter-px 50 --threshold 1 --label "emkit LoG" \
    -q -o "$S/eval_log" > /dev/null
done

# 3. Speed on a 4096^2 micrograph with the real model.
uptime > "$W/load_before_speed.txt"
"$BUILD/benchmarks/cnn/bench_cnn" "$R/train/model.pt" "$THREADS" > "$W/speed.json"
uptime > "$W/load.txt"
/usr/bin/python3 benchmarks/cnn/report.py "$W" "$OUT" "$SNRS" "$THREADS" "$TEMPLATE_T" "$LOG_T"
echo "wrote $OUT/README.md"
