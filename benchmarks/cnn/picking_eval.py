"""Reading eval-picks outputs and `/usr/bin/time` files for the CNN benchmark reports."""
import csv
import json
import os


def load(path):
    with open(path) as f:
        return json.load(f)


def times(work, name):
    """(wall, cpu) seconds: NAME.time holds "wall user system"; older runs wrote only NAME.wall."""
    p = os.path.join(work, "times", name)
    if os.path.exists(p + ".time"):
        with open(p + ".time") as f:
            w, u, s = (float(x) for x in f.read().split()[-3:])
        return w, u + s
    with open(p + ".wall") as f:
        return float(f.read()), None


def metrics(eval_dir):
    o = load(os.path.join(eval_dir, "eval.json"))["overall"]
    keys = ("picks", "truth", "true_positives", "precision", "recall", "f1", "average_precision", "best_f1",
            "best_f1_threshold")
    return {k: o[k] for k in keys}


def at_threshold(eval_dir, threshold):
    """Precision, recall, F1 with picks >= threshold, from eval-picks' PR curve (decreasing thresholds)."""
    m = metrics(eval_dir)
    p = r = 0.0
    with open(os.path.join(eval_dir, "pr_curve.csv")) as f:
        for row in csv.DictReader(f):
            if float(row["threshold"]) >= threshold:
                p, r = float(row["precision"]), float(row["recall"])
    tp = round(r * m["truth"])
    m.update(precision=p, recall=r, f1=2 * p * r / (p + r) if p + r > 0 else 0.0, true_positives=tp,
             picks=round(tp / p) if p > 0 else 0, threshold=threshold)
    return m


def max_recall(eval_dir):
    with open(os.path.join(eval_dir, "pr_curve.csv")) as f:
        return max(float(r["recall"]) for r in csv.DictReader(f))
