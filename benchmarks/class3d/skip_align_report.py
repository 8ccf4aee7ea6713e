#!/usr/bin/env python3
"""Writes benchmarks/results/class3d/skip_align.{json,md} from skip_align.sh's work folder.

usage: skip_align_report.py WORK RESULTS ITER
"""
import json, os, re, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
work, results, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])


def timing(name):
    text = open(os.path.join(work, name + ".time")).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    parts = [float(p) for p in re.search(r"Elapsed \(wall clock\) time.*: (.*)", text).group(1).split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    return {"seconds": round(secs, 1), "peak_rss_mb": round(rss, 1)}


def score(data_star, angles=True):
    args = [sys.executable, os.path.join(here, "score.py"), os.path.join(work, data_star),
            os.path.join(work, "truth.txt")] + ([os.path.join(work, "true_angles.star")] if angles else [])
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def per_iteration(folder, prefix="run"):
    return [score(os.path.join(folder, "%s_it%03d_data.star" % (prefix, i)), angles=False)
            for i in range(1, iters + 1)]


consensus = score(os.path.join("consensus", "run_data.star"))
consensus_log = open(os.path.join(work, "consensus.log")).read()
m = re.findall(r"resolution ([\d.]+) Å", consensus_log)
runs = {"emkit_consensus_poses": per_iteration("skip_consensus"), "emkit_true_poses": per_iteration("skip_truth"),
        "relion_consensus_poses": per_iteration("skip_relion")}
times = {k: timing(k) for k in ("consensus", "skip_consensus", "skip_truth", "skip_relion")}
load = open(os.path.join(work, "load_skip.txt")).read().strip().split("\n")
oracle = json.load(open(os.path.join(work, "oracle.json"))) if os.path.exists(os.path.join(work, "oracle.json")) \
    else None
out = {"iterations": iters, "consensus": {"median_error_deg": consensus.get("median_angular_error_deg"),
                                          "resolution_A": float(m[-1]) if m else None},
       "accuracy": {k: [round(s["accuracy"], 4) for s in v] for k, v in runs.items()},
       "class_sizes": {k: v[-1]["class_sizes"] for k, v in runs.items()}, "times": times, "load": load}
json.dump(out, open(os.path.join(results, "skip_align.json"), "w"), indent=1)

acc = out["accuracy"]
md = ["# class3d: classification of aligned particles (`--skip-align`)", ""]
md.append("The two-conformation particles of the [main benchmark](README.md) (2000, SNR 0.05, 64 px at 5 Å/px) "
          "refined together first (emkit refine3d from conformation A low-passed to 60 Å: the consensus), then "
          "classified in their consensus poses with K = 2 from the consensus map low-passed to 60 Å, T = 4, %d "
          "iterations, no alignment: emkit class3d `--skip-align` and relion_refine `--skip_align` (2 threads "
          "each); and emkit from the true poses, the ceiling of the classification." % iters)
md.append("")
md.append("| | accuracy after iteration %d | best (iteration) | class sizes | time (s) | peak memory (MB) |" % iters)
md.append("|---|---|---|---|---|---|")
names = {"emkit_consensus_poses": "emkit, consensus poses", "relion_consensus_poses": "relion_refine, consensus poses",
         "emkit_true_poses": "emkit, true poses"}
tname = {"emkit_consensus_poses": "skip_consensus", "relion_consensus_poses": "skip_relion",
         "emkit_true_poses": "skip_truth"}
for k in ("emkit_consensus_poses", "relion_consensus_poses", "emkit_true_poses"):
    a = acc[k]
    b = max(range(len(a)), key=lambda i: a[i])
    md.append("| %s | %.1f%% | %.1f%% (%d) | %s | %.0f | %.0f |" % (
        names[k], 100 * a[-1], 100 * a[b], b + 1, " / ".join(str(x) for x in out["class_sizes"][k]),
        times[tname[k]]["seconds"], times[tname[k]]["peak_rss_mb"]))
md.append("")
md.append("The consensus refinement: %s, median orientation error %.2f° against the truth, %.0f s, peak %.0f MB." % (
    "%.1f Å" % out["consensus"]["resolution_A"] if out["consensus"]["resolution_A"] else "–",
    out["consensus"]["median_error_deg"] or float("nan"), times["consensus"]["seconds"],
    times["consensus"]["peak_rss_mb"]))
if oracle:
    md.append("")
    md.append("For comparison, the oracle of the main page (the true maps at the true poses): " + ", ".join(
        "%.1f%% at %g Å" % (100 * r["accuracy"], r["resolution_A"]) for r in oracle["resolutions"]) + ".")
md.append("")
md.append("Accuracy per iteration (emkit consensus / RELION consensus / emkit truth): " + "; ".join(
    "%d: %.0f/%.0f/%.0f%%" % (i + 1, 100 * acc["emkit_consensus_poses"][i], 100 * acc["relion_consensus_poses"][i],
                              100 * acc["emkit_true_poses"][i]) for i in range(iters) if i < 5 or (i + 1) % 5 == 0))
md.append("")
md.append("Machine load (1/5/15 min): " + "; ".join(load) + ".")
md.append("")
md.append("Command: `benchmarks/class3d/run.sh` (the particles), then `ITER=%d benchmarks/class3d/skip_align.sh` "
          "(JSON: skip_align.json)." % iters)
open(os.path.join(results, "skip_align.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
