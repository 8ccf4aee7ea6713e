"""CNN picker benchmark report: results.json, README.md and PNGs from benchmarks/cnn/run.sh's work dir."""
import json
import os
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import picking_eval  # noqa: E402
from picking_eval import at_threshold, load, max_recall, metrics  # noqa: E402

W, OUT, SNRS, THREADS = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4])
# Operating thresholds of the classical pickers: emkit pick's defaults.
TEMPLATE_T = float(sys.argv[5]) if len(sys.argv) > 5 else 0.3
LOG_T = float(sys.argv[6]) if len(sys.argv) > 6 else 2.8


def times(name):
    return picking_eval.times(W, name)


def wall(name):
    return times(name)[0]


res = {"threads": THREADS, "load": open(os.path.join(W, "load.txt")).read().strip()}
rt = load(os.path.join(W, "real", "train", "training_report.json"))
res["real"] = {
    "data": "EMPIAR-10028, 4 train + 1 valid micrographs (PU, --expected-particles 150), 5 test micrographs",
    "train_wall_s": wall("real_train"),
    "train_cpu_s": times("real_train")[1],
    "train_report_s": rt["seconds"],
    "best_epoch": rt["best_epoch"],
    "best_val_ap": rt["best_val_ap"],
    "default_threshold": rt["default_threshold"],
    "threshold_from": rt.get("threshold_from", "validation"),
    "parameters": rt["parameters"],
    "receptive_field_px": rt["receptive_field_px"],
    "architecture": rt["architecture"],
    "width": rt["width"],
    "test_time_augmentation": rt.get("test_time_augmentation", 1),
    "pick_wall_s": wall("real_pick"),
    "test": metrics(os.path.join(W, "real", "eval")),
    "test_max_recall_any_threshold": max_recall(os.path.join(W, "real", "eval")),
    "match_radius_px": 28.5,
}
res["simulated"] = {}
for snr in SNRS:
    s = os.path.join(W, "sim_" + snr)
    t = load(os.path.join(s, "cnn", "train", "training_report.json"))
    res["simulated"][snr] = {
        "cnn": at_threshold(os.path.join(s, "eval_cnn"), t["default_threshold"]),
        "template": at_threshold(os.path.join(s, "eval_template"), TEMPLATE_T),
        "log": at_threshold(os.path.join(s, "eval_log"), LOG_T),
        "cnn_train_wall_s": wall("cnn_train_" + snr),
        "cnn_train_cpu_s": times("cnn_train_" + snr)[1],
        "cnn_best_val_ap": t["best_val_ap"],
        "cnn_pick_wall_s_30_micrographs": wall("cnn_pick_" + snr),
        "template_wall_s_30_micrographs": wall("template_" + snr),
        "log_wall_s_30_micrographs": wall("log_" + snr),
    }
res["speed"] = load(os.path.join(W, "speed.json"))
with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(res, f, indent=2)

# Pictures: F1/AP per method and SNR; the real run's curves, PR curve and one overlay.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
methods = ("cnn", "template", "log")
for ax, key, title in ((axes[0], "f1", "F1 at the default threshold"), (axes[1], "average_precision", "AP")):
    for j, m in enumerate(methods):
        vals = [res["simulated"][snr][m][key] for snr in SNRS]
        ax.bar([i + 0.27 * (j - 1) for i in range(len(SNRS))], vals, width=0.25, label=m)
    ax.set_xticks(range(len(SNRS)))
    ax.set_xticklabels(["SNR " + s for s in SNRS])
    ax.set_ylim(0, 1)
    ax.set_title(title)
axes[0].legend()
fig.suptitle("Simulated (ribosome, 20 test micrographs 1024², decoys): CNN vs template vs LoG")
fig.tight_layout()
fig.savefig(os.path.join(OUT, "simulated_f1_ap.png"), dpi=90)
shutil.copy(os.path.join(W, "real", "train", "training_curves.png"), os.path.join(OUT, "real_training_curves.png"))
shutil.copy(os.path.join(W, "real", "eval", "pr_curve.png"), os.path.join(OUT, "real_pr_curve.png"))
shutil.copy(os.path.join(W, "real", "pick", "overlays", "311_10028.png"), os.path.join(OUT, "real_overlay_311.png"))

r, sp = res["real"], res["speed"]
lines = [
    "# CNN picker benchmark",
    "",
    "The benchmark the targets are measured on is the simulated set at detector sampling (4096² at 1.25 Å/px):",
    "[simulated_1.25A.md](simulated_1.25A.md) (`benchmarks/cnn/simulated.sh`). This page is `benchmarks/cnn/run.sh`:",
    "the real EMPIAR-10028 set, a coarse simulated set (1024² at 5 Å/px, ~16x less signal per particle at the same",
    "SNR) and the speed of one 4096² micrograph. Experiments and diagnoses: the last section.",
    "",
    f"`benchmarks/cnn/run.sh` ({THREADS} threads; machine load at the end: `{res['load']}` — the 2 cores were shared",
    "with other jobs, so wall times are upper bounds).",
    "",
    "## Real: EMPIAR-10028 (labels incomplete: precision is a lower bound)",
    "",
    f"{r['architecture']} width {r['width']} ({r['parameters']} parameters, receptive field {r['receptive_field_px']} "
    f"binned px, test-time augmentation {r['test_time_augmentation']}), PU objective,",
    f"trained in {r['train_wall_s']:.0f} s wall"
    + (f" ({r['train_cpu_s']:.0f} CPU s)" if r["train_cpu_s"] else "") + f"; best validation AP {r['best_val_ap']:.3f} (epoch {r['best_epoch']}),",
    f"default threshold {r['default_threshold']:.2f} (log-odds, F1-optimal on the "
    + ("training and validation micrographs" if r["threshold_from"] == "all" else "validation micrographs")
    + "). Test split, match radius 28.5 px:",
    "",
    "| picks / labels | precision (lower bound) | recall | F1 | AP | max recall (any threshold) |",
    "|---|---|---|---|---|---|",
    f"| {r['test']['picks']} / {r['test']['truth']} | {r['test']['precision']:.3f} | {r['test']['recall']:.3f} | "
    f"{r['test']['f1']:.3f} | {r['test']['average_precision']:.3f} | {r['test_max_recall_any_threshold']:.3f} |",
    "",
    "![training curves](real_training_curves.png) ![PR curve](real_pr_curve.png)",
    "",
    "![test micrograph 311 with the CNN picks](real_overlay_311.png)",
    "",
    "## Simulated: train on 10 micrographs, evaluate on 20 (decoys and hard negatives count as false positives)",
    "",
    "Thresholds: CNN = the model's (stored at training time), template and LoG = emkit pick's defaults; best F1 = over all",
    "thresholds (an oracle choice, for reference).",
    "",
    "| SNR | method | threshold | picks / truth | precision | recall | F1 | AP | best F1 | seconds (30 mics) |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for snr in SNRS:
    s = res["simulated"][snr]
    for m, key in (("cnn", "cnn_pick_wall_s_30_micrographs"), ("template", "template_wall_s_30_micrographs"),
                   ("log", "log_wall_s_30_micrographs")):
        e = s[m]
        lines.append(f"| {snr} | {m} | {e['threshold']:.3g} | {e['picks']} / {e['truth']} | {e['precision']:.3f} | "
                     f"{e['recall']:.3f} | {e['f1']:.3f} | {e['average_precision']:.3f} | {e['best_f1']:.3f} | {s[key]:.1f} |")
lines += ["", "CNN training time: " + ", ".join(
    f"SNR {snr}: {res['simulated'][snr]['cnn_train_wall_s']:.0f} s wall ({res['simulated'][snr]['cnn_train_cpu_s']:.0f} CPU s)"
    for snr in SNRS) + ".", "",
    "![F1 and AP](simulated_f1_ap.png)", "",
    "## Speed (4096² micrograph at 1.34 Å/px, real model)", "",
    f"Binned to {sp['binned_size'][0]}x{sp['binned_size'][1]}; {sp['torch']}.", "",
    "Wall seconds (median), and in brackets the process CPU seconds over all threads (on the shared machine, CPU/2",
    "estimates the wall time of an idle 2-core machine).", "",
    "Training uses the model's layout (NCHW by default); emkit pick infers channels-last (faster once batch norm is",
    "folded into the convolutions).", "",
    "| layout | network only | preprocess + network + peaks | training step 16x96² |", "|---|---|---|---|"]
for layout in ("channels_last", "nchw"):
    x = sp[layout]
    cell = lambda k: f"{x[k + '_s']:.3f} ({x.get(k + '_cpu_s', float('nan')):.3f} CPU)"
    lines.append(f"| {layout} | {cell('inference_network')} | {cell('pick_4096_total')} | "
                 f"{cell('train_step_16x96x96')} |")
for key in ("nchw_without_tta", "channels_last_without_tta"):
    if key not in sp:
        continue
    x = sp[key]
    lines.append(f"| {key.split('_without')[0]}, test-time augmentation off (model: {sp['test_time_augmentation']}) | "
                 f"{x['inference_network_s']:.3f} ({x['inference_network_cpu_s']:.3f} CPU) | | |")
lines += ["", f"1 vs 2 threads, 5 training steps: identical = {sp['threads_1_vs_2_identical']}, largest loss difference "
          f"{sp['threads_1_vs_2_max_loss_difference_5_steps']:.2e} (torch's float reductions depend on the thread count).", ""]
# Hand-written analysis (diagnosis, experiments) kept across reruns.
# The experiments section, measured separately, survives a rerun: the page from this line on.
MARKER = "## Experiments and diagnoses (kept when benchmarks/cnn/report.py rewrites this page)"
old_page = os.path.join(OUT, "README.md")
if os.path.exists(old_page) and MARKER in open(old_page).read():
    text = open(old_page).read()
    lines += ["", text[text.index(MARKER):]]
with open(os.path.join(OUT, "README.md"), "w") as f:
    f.write("\n".join(lines))
