#!/usr/bin/env bash
# Stage 22: the CNN picker. A small ResNet-8 trained on simulated micrographs 1-3 (PU objective;
# every other true particle hidden, as users annotate sparsely: job sparse), validated on
# micrograph 4 (job train), picks the held-out micrographs 5-6 with the model alone (job cnn),
# scored against the truth (jobs cnn_ranking, eval_cnn).
set -euo pipefail
source "$(dirname "$0")/common.inc"
metrics=$(/usr/bin/python3 - "$P/$TRAIN" "$P/$EVAL_CNN" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/training_report.json"))
e = json.load(open(sys.argv[2] + "/eval.json"))["overall"]
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
  echo "Training took $(job_seconds $TRAIN) s, picking $(job_seconds $CNN) s for 2 micrographs ($THREADS thread(s), including start-up)."
  echo
  echo "| labels used | validation AP | threshold (log-odds) | picks / truth (5-6) | precision | recall | F1 | AP | best F1 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "$metrics"
  echo
  echo "Matching: one-to-one within half a diameter (25 px); precision/recall/F1 at the model's threshold, AP over the"
  echo "whole score ranking, best F1 over all thresholds (what a threshold chosen on more validation data could reach)."
  echo
  echo "![training loss and validation AP per epoch]($TRAIN/training_curves.png)"
  echo
  echo "![held-out micrograph 5 with the CNN picks]($CNN/overlays/mic_0005.png)"
} > "$DEMO_OUT/report/22-cnn.md"
