#!/usr/bin/env bash
# Stage 22: the CNN picker. Train a small ResNet-8 on simulated micrographs 1-3 (PU objective;
# every other true particle is hidden, as users annotate sparsely), validate on micrograph 4,
# pick the held-out micrographs 5-6 with the model alone and score them against the truth.
set -euo pipefail
sim="$DEMO_OUT/simulate/micrographs"
out="$DEMO_OUT/cnn"
rm -rf "$out"
mkdir -p "$out/sparse"
# Sparse labels: every other particle of the truth files (STAR data rows alternate).
for i in 1 2 3; do
  f="$sim/truth/mic_000$i.star"
  awk 'BEGIN{n=0} /^ *-?[0-9.]+ +-?[0-9.]+/ {n++; if (n % 2 == 0) next} {print}' "$f" > "$out/sparse/mic_000$i.star"
done
cp "$sim/truth/mic_0004.star" "$out/sparse/mic_0004.star"
t0=$(date +%s.%N)
"$EMKIT" train -i "$sim/micrographs/mic_0001.mrc" "$sim/micrographs/mic_0002.mrc" "$sim/micrographs/mic_0003.mrc" \
  -c "$out/sparse" --valid-micrographs "$sim/micrographs/mic_0004.mrc" --valid-coords "$out/sparse" \
  --diameter 200 --objective pu --arch resnet8 --tta 1 --width 32 --epochs 8 --steps-per-epoch 30 --batch-size 16 --patch 96 \
  --export-torchscript --threads "$THREADS" --seed "$SEED" -q -o "$out/train" > "$out/train.txt"
t1=$(date +%s.%N)
"$EMKIT" pick --method cnn --model "$out/train/model.pt" -i "$sim/micrographs/mic_0005.mrc" "$sim/micrographs/mic_0006.mrc" \
  --overlays --threads "$THREADS" -q -o "$out/pick"
t2=$(date +%s.%N)
# AP needs the whole ranking: pick again with a very low threshold, count picks at the model's.
"$EMKIT" pick --method cnn --model "$out/train/model.pt" -i "$sim/micrographs/mic_0005.mrc" "$sim/micrographs/mic_0006.mrc" \
  --threshold -8 --threads "$THREADS" -q -o "$out/pick_ranking"
threshold=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['default_threshold'])" \
  "$out/train/training_report.json")
mkdir -p "$out/truth_test"
cp "$sim/truth/mic_0005.star" "$sim/truth/mic_0006.star" "$out/truth_test/"
"$EMKIT" eval-picks --picks "$out/pick_ranking" --truth "$out/truth_test" --diameter-px 50 --threshold "$threshold" \
  --label cnn -q -o "$out/eval" > "$out/eval.txt"
train_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
pick_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}')
metrics=$(/usr/bin/python3 - "$out" <<'PY'
import json, sys
o = sys.argv[1]
r = json.load(open(o + "/train/training_report.json"))
e = json.load(open(o + "/eval/eval.json"))["overall"]
print(f"| {r['train_labels']} | {r['best_val_ap']:.3f} (epoch {r['best_epoch']}) | {r['default_threshold']:.2f} | "
      f"{e['picks']} / {e['truth']} | {e['precision']:.3f} | {e['recall']:.3f} | {e['f1']:.3f} | {e['average_precision']:.3f} | "
      f"{e['best_f1']:.3f} |")
PY
)
{
  echo "## CNN picker (emkit train, emkit pick --method cnn)"
  echo
  echo "ResNet-8 (width 32, receptive field 33 binned px; particle binned to 20 px) trained with the PU (GE-binomial)"
  echo "objective on micrographs 1-3 with only every other particle labelled, validated on micrograph 4; the model file"
  echo "alone (preprocessing, diameter, threshold: best F1 over micrographs 1-4) then picks the held-out micrographs 5-6."
  echo "Training took $train_s s, picking $pick_s s for 2 micrographs ($THREADS thread(s), including start-up)."
  echo
  echo "| labels used | validation AP | threshold (log-odds) | picks / truth (5-6) | precision | recall | F1 | AP | best F1 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "$metrics"
  echo
  echo "Matching: one-to-one within half a diameter (25 px); precision/recall/F1 at the model's threshold, AP over the"
  echo "whole score ranking, best F1 over all thresholds (what a threshold chosen on more validation data could reach)."
  echo
  echo "![training loss and validation AP per epoch](cnn/train/training_curves.png)"
  echo
  echo "![held-out micrograph 5 with the CNN picks](cnn/pick/overlays/mic_0005.png)"
} > "$DEMO_OUT/report/22-cnn.md"
