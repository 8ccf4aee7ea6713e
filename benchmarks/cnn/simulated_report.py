"""Report of benchmarks/cnn/simulated.sh: simulated_<PIXEL>A.{json,md} and a F1/AP bar chart."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from picking_eval import at_threshold, load, times  # noqa: E402

W, OUT, PIXEL, SIZE, SNRS, THREADS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(), sys.argv[6]
TEMPLATE_T, LOG_T = 0.3, 2.8  # emkit pick's default thresholds (the classical pickers' operating points)
METHODS = ("cnn", "template", "log")
tag = f"simulated_{PIXEL}A"

res = {"pixel_size": float(PIXEL), "size": int(SIZE), "threads": int(THREADS),
       "load": open(os.path.join(W, "load.txt")).read().strip(), "snr": {}}
for snr in SNRS:
    s = os.path.join(W, "sim_" + snr)
    t = load(os.path.join(s, "cnn", "train", "training_report.json"))
    thresholds = {"cnn": t["default_threshold"], "template": TEMPLATE_T, "log": LOG_T}
    r = {m: at_threshold(os.path.join(s, "eval_" + m), thresholds[m]) for m in METHODS}
    r["cnn_training"] = {k: t[k] for k in ("architecture", "epochs", "steps_per_epoch", "best_epoch", "best_val_ap",
                                            "default_threshold", "diameter_binned_px", "working_pixel_size",
                                            "train_labels", "test_time_augmentation")}
    r["cnn_training"]["weight_average"] = t.get("weight_average", 0)
    r["cnn_training"]["score_smoothing"] = t.get("score_smoothing", 0)
    r["cnn_train_wall_s"], r["cnn_train_cpu_s"] = times(W, "cnn_train_" + snr)
    for m in METHODS:
        r[m + "_pick_wall_s_20_micrographs"] = times(W, m + "_pick_" + snr if m == "cnn" else m + "_" + snr)[0]
    with open(os.path.join(s, "cnn_errors.txt")) as f:
        r["cnn_errors"] = f.read().strip()
    res["snr"][snr] = r
with open(os.path.join(OUT, tag + ".json"), "w") as f:
    json.dump(res, f, indent=2)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for ax, key, title in ((axes[0], "f1", "F1 at the operating threshold"), (axes[1], "average_precision", "AP")):
    for j, m in enumerate(METHODS):
        ax.bar([i + 0.27 * (j - 1) for i in range(len(SNRS))], [res["snr"][x][m][key] for x in SNRS], width=0.25,
               label=m)
    ax.set_xticks(range(len(SNRS)))
    ax.set_xticklabels(["SNR " + x for x in SNRS])
    ax.set_ylim(0, 1)
    ax.set_title(title)
axes[0].legend()
fig.suptitle(f"Simulated ribosome micrographs {SIZE}² at {PIXEL} Å/px: CNN vs template vs LoG")
fig.tight_layout()
fig.savefig(os.path.join(OUT, tag + ".png"), dpi=90)

lines = [f"# Simulated picking at {PIXEL} Å/px ({SIZE}² micrographs)", "",
         f"`benchmarks/cnn/simulated.sh` ({THREADS} threads; load at the end: `{res['load']}`). Ribosome map resampled "
         f"from 5 to {PIXEL} Å/px (particle 250 Å = {250 / float(PIXEL):.0f} px), decoys (ice, aggregates, carbon) "
         "and 10% hard negatives (broken particles) on; train the CNN on micrographs 1-10 (PN, full labels), "
         "evaluate on 11-30. Match radius half a diameter; all pickers skip a radius at the edge (--border 125 Å).",
         "Thresholds: CNN = the model's (F1-optimal on its 10 training + validation micrographs), template 0.3 and LoG 2.8 = emkit pick's defaults; best F1 "
         "= over all thresholds (an oracle choice, for reference).", "",
         "| SNR | method | threshold | picks / truth | precision | recall | F1 | AP | best F1 | pick s (CNN, LoG: 20 test mics; template: all 30) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for snr in SNRS:
    r = res["snr"][snr]
    for m in METHODS:
        e = r[m]
        lines.append(f"| {snr} | {m} | {e['threshold']:.3g} | {e['picks']} / {e['truth']} | {e['precision']:.3f} | "
                     f"{e['recall']:.3f} | {e['f1']:.3f} | {e['average_precision']:.3f} | {e['best_f1']:.3f} | "
                     f"{r[m + '_pick_wall_s_20_micrographs']:.1f} |")
lines.append("")
for snr in SNRS:
    r = res["snr"][snr]
    c = r["cnn_training"]
    lines += [f"SNR {snr}: {c['architecture']}, {c['epochs']}x{c['steps_per_epoch']} steps, weight average "
              f"{c['weight_average']:g}, test-time augmentation {c['test_time_augmentation']}, score map blurred by "
              f"{c.get('score_smoothing', 0):g} diameters, particle binned to "
              f"{c['diameter_binned_px']:.0f} px ({c['working_pixel_size']:.3g} Å/px), {c['train_labels']} training "
              f"labels; trained in {r['cnn_train_wall_s']:.0f} s wall ({r['cnn_train_cpu_s']:.0f} CPU s), best "
              f"validation AP {c['best_val_ap']:.3f} (epoch {c['best_epoch']}). CNN errors at its threshold "
              "(benchmarks/cnn/errors.py):", "", "```", r["cnn_errors"], "```", ""]
lines += [f"![F1 and AP]({tag}.png)", ""]
with open(os.path.join(OUT, tag + ".md"), "w") as f:
    f.write("\n".join(lines))
