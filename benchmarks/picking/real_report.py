"""Collects real_data.sh into real_data.json and real_data.md.

Matching as `emkit eval-picks`: one-to-one, the most pairs within the radius and among those the
smallest total distance; AP as sklearn's average_precision over the FOM ranking; best F1 over
every threshold of the ranking. Edge picks: picks centred within one particle radius of the
micrograph's edge, and how many of each micrograph's 50 best picks lie within one diameter of it.
"""
import csv
import glob
import json
import os
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

W, OUT = sys.argv[1], sys.argv[2]


def read_star(path):
    cols, rows = [], []
    for line in open(path):
        s = line.strip()
        if s.startswith("loop_"):
            cols = []
        elif s.startswith("_rln"):
            cols.append(s.split()[0][1:])
        elif s and cols and not s.startswith(("data_", "#")):
            f = s.split()
            if len(f) == len(cols):
                rows.append(dict(zip(cols, f)))
    return rows


def read_picks(path):
    if not path or not os.path.exists(path):
        return np.zeros((0, 2)), np.zeros(0)
    rows = read_star(path)
    xy = np.array([[float(r["rlnCoordinateX"]), float(r["rlnCoordinateY"])] for r in rows]).reshape(-1, 2)
    fom = np.array([float(r.get("rlnAutopickFigureOfMerit", 0)) for r in rows])
    return xy, fom


def read_truth(path):
    if path.endswith(".csv"):
        rows = list(csv.DictReader(open(path)))
        return np.array([[float(r["X-Coordinate"]), float(r["Y-Coordinate"])] for r in rows]).reshape(-1, 2)
    return read_picks(path)[0]


def matched(xy, truth, radius):
    tp = np.zeros(len(xy), bool)
    if len(xy) and len(truth):
        d = np.sqrt(((xy[:, None, :] - truth[None, :, :]) ** 2).sum(-1))
        cost = np.where(d <= radius, d, 1e9)
        for i, j in zip(*linear_sum_assignment(cost)):
            tp[i] = cost[i, j] < 1e9
    return tp


def find_autopick(folder, key):
    hits = glob.glob(os.path.join(folder, "**", key + "_autopick.star"), recursive=True)
    return hits[0] if hits else None


def evaluate(truth_files, folder, ranking_folder, radius, size, min_fom=-np.inf):
    n_truth = tp = n_picks = edge = top_edge = 0
    rank_fom, rank_tp = [], []
    for tf in truth_files:
        key = os.path.splitext(os.path.basename(tf))[0]
        truth = read_truth(tf)
        n_truth += len(truth)
        xy, fom = read_picks(find_autopick(folder, key))
        xy, fom = xy[fom >= min_fom], fom[fom >= min_fom]
        m = matched(xy, truth, radius)
        tp += m.sum()
        n_picks += len(xy)
        d = np.minimum(np.minimum(xy[:, 0], xy[:, 1]), np.minimum(size - 1 - xy[:, 0], size - 1 - xy[:, 1]))
        edge += int((d < radius).sum())
        top_edge += int((d[np.argsort(-fom, kind="stable")[:50]] < 2 * radius).sum())
        rxy, rfom = read_picks(find_autopick(ranking_folder, key))
        rank_fom.append(rfom)
        rank_tp.append(matched(rxy, truth, radius))
    p = tp / max(n_picks, 1)
    r = tp / max(n_truth, 1)
    f = np.concatenate(rank_fom)
    t = np.concatenate(rank_tp)[np.argsort(-f, kind="stable")]
    f = np.sort(f)[::-1]
    cum = np.cumsum(t)
    prec = cum / np.arange(1, len(t) + 1)
    last = np.r_[f[1:] != f[:-1], True]  # the end of each distinct threshold
    rec = cum / max(n_truth, 1)
    ap = float(np.sum(np.diff(np.r_[0, rec[last]]) * prec[last]))
    f1s = 2 * prec[last] * rec[last] / np.maximum(prec[last] + rec[last], 1e-12)
    return {
        "micrographs": len(truth_files), "truth": n_truth, "picks": n_picks, "precision": round(p, 3),
        "recall": round(r, 3), "f1": round(2 * p * r / max(p + r, 1e-12), 3), "average_precision": round(ap, 3),
        "best_f1": round(float(f1s.max()) if len(f1s) else 0.0, 3),
        "picks_within_radius_of_edge": edge, "best50_within_diameter_of_edge_per_micrograph":
        round(top_edge / len(truth_files), 1)}


def wall(name, n):
    if name is None:
        return None
    p = os.path.join(W, "times", name + ".wall")
    return round(float(open(p).read()) / n, 2) if os.path.exists(p) else None


results = {"load": open(os.path.join(W, "load.txt")).read().strip(), "real_empiar10028": {}, "simulated": {}}
classes = os.path.join(W, "real", "classes.txt")
if os.path.exists(classes):
    results["classes_chosen"] = open(classes).read().strip()
    results["class2d_seconds"] = wall("real_class2d", 1)
R = os.path.join(W, "real")
truth = sorted(glob.glob(os.path.join(R, "truth", "*.csv")))
# The previous default of LoG, a fixed 2.8 sigma: the ranking run cut there.
for name, folder, ranking, timing, cut in [
        ("emkit LoG", "log", "log_ranking", "real_log", -np.inf),
        ("emkit LoG at a fixed 2.8 (the former default)", "log_ranking", "log_ranking", None, 2.8),
        ("emkit template", "template", "template_ranking", "real_template", -np.inf),
        ("emkit template from class averages", "template_classes", "template_classes_ranking",
         "real_template_classes", -np.inf),
        ("relion_autopick LoG", "relion_log", "relion_log", "real_relion_log", -np.inf)]:
    if not os.path.isdir(os.path.join(R, folder)):
        continue
    e = evaluate(truth, os.path.join(R, folder), os.path.join(R, ranking), 28.5, 1024, cut)
    e["seconds_per_micrograph"] = wall(timing, len(truth))
    results["real_empiar10028"][name] = e
for s in ["0.05", "0.1", "0.2", "dense", "dense8"]:
    S = os.path.join(W, "sim_" + s)
    truth = sorted(f for f in glob.glob(os.path.join(S, "truth", "*.star")) if not f.endswith("_decoys.star"))
    results["simulated"][s] = {}
    for name, folder, ranking, timing, cut in [
            ("emkit LoG", "log", "log_ranking", "sim_%s_log" % s, -np.inf),
            ("emkit LoG at a fixed 2.8 (the former default)", "log_ranking", "log_ranking", None, 2.8),
            ("relion_autopick LoG", "relion_log", "relion_log", "sim_%s_relion_log" % s, -np.inf)]:
        e = evaluate(truth, os.path.join(S, folder), os.path.join(S, ranking), 25, 1024, cut)
        e["seconds_per_micrograph"] = wall(timing, len(truth))
        results["simulated"][s][name] = e
json.dump(results, open(os.path.join(OUT, "real_data.json"), "w"), indent=1)

HEAD = ("| method | picks | precision | recall | F1 | AP | best F1 | edge picks | best 50 near edge | s / mic |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n")


def row(label, e):
    return "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %.1f | %s |\n" % (
        label, e["picks"], e["precision"], e["recall"], e["f1"], e["average_precision"], e["best_f1"],
        e["picks_within_radius_of_edge"], e["best50_within_diameter_of_edge_per_micrograph"],
        "–" if e["seconds_per_micrograph"] is None else e["seconds_per_micrograph"])


md = "## Real micrographs: EMPIAR-10028 (all 10)\n\n" + HEAD
for k, e in results["real_empiar10028"].items():
    md += row(k, e)
if "classes_chosen" in results:
    md += ("\nClass averages: `emkit class2d` (K = 10, 15 iterations, %s s) of the particles extracted at the LoG "
           "picks; classes %s (estimated resolution <= 30 Å) as references.\n" % (results["class2d_seconds"],
                                                                                 results["classes_chosen"]))
md += "\n## Simulated micrographs (3 per row)\n\n" + HEAD.replace("| method |", "| set | method |").replace(
    "|---|", "|---|---|", 1)
for s, d in results["simulated"].items():
    for k, e in d.items():
        md += row(s + " | " + k, e)
md += "\nMachine load at the end: `%s`\n" % results["load"]
open(os.path.join(OUT, "real_data.md"), "w").write(md)
print(md)
