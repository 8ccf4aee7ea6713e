#!/usr/bin/env python3
"""Writes benchmarks/results/class3d/large.{json,md} from large.sh's work folder.

usage: large_report.py WORK RESULTS N ITER
"""
import json, os, re, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
work, results, n, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def timing(path):
    """Wall time (s, None when the run was stopped) and peak memory (MB) from /usr/bin/time -v's file."""
    text = open(path).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    stopped = "terminated by signal" in text
    parts = [float(p) for p in re.search(r"Elapsed \(wall clock\) time.*: (.*)", text).group(1).split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    return {"seconds": round(secs, 1), "peak_rss_mb": round(rss, 1), "stopped": stopped}


def relion_progress(log):
    """The last 'elapsed/estimated unit' of relion_refine's progress bar, in seconds."""
    unit = {"sec": 1, "min": 60, "hrs": 3600}
    m = re.findall(r"(\d+\.\d+)/(\d+\.\d+) (sec|min|hrs)", open(log, errors="replace").read())
    if not m:
        return None
    done, total, u = m[-1]
    return {"elapsed_s": round(float(done) * unit[u], 1), "projected_s": round(float(total) * unit[u], 1)}


def score(data_star):
    out = subprocess.run([sys.executable, os.path.join(here, "score.py"), data_star, os.path.join(work, "truth.txt"),
                          os.path.join(work, "true_angles.star")], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


emkit_log = open(os.path.join(work, "emkit.log")).read()
emkit_s = [float(x) for x in re.findall(r"class3d iteration \d+/\d+: size .*?, ([\d.]+) s", emkit_log)]
emkit_t = timing(os.path.join(work, "emkit.time"))
relion_t = timing(os.path.join(work, "relion.time"))
progress = relion_progress(os.path.join(work, "relion.log"))
scores = [score(os.path.join(work, "emkit", "run_it%03d_data.star" % i)) for i in range(1, iters + 1)]
load = open(os.path.join(work, "load.txt")).read().strip().split("\n")
# The 2000-particle run with the same flags (scored to the current resolution, as flags.sh).
small = json.load(open(os.path.join(results, "unlimited.json")))
out = {"particles": n, "emkit_iterations": iters, "emkit_seconds_per_iteration": emkit_s, "emkit": emkit_t,
       "relion": relion_t, "relion_iteration1_progress": progress, "emkit_scores": scores, "load": load,
       "small_case": {"particles": small["particles"],
                      "emkit_seconds_per_iteration": small["emkit_seconds_per_iteration"][:2],
                      "relion_seconds_per_iteration": small["relion_seconds_per_iteration"][:2]}}
json.dump(out, open(os.path.join(results, "large.json"), "w"), indent=1)

ratio = progress["projected_s"] / emkit_s[0] if progress and emkit_s else None
md = ["# class3d: the larger case (%d particles)" % n, ""]
md.append("The particles of the [main benchmark](README.md) (two conformations of the 70S ribosome, 64 px at 5 Å/px, "
          "CTF, SNR 0.05, on RELION's greyscale), %d of them, with the flags of its run scored to the current "
          "resolution ([unlimited.md](unlimited.md)) for both programs (K = 2 from "
          "conformation A low-passed to 60 Å, T = 4, HEALPix order 2, offsets 5 px / 1 px, CTF, 2 threads, "
          "relion_refine with `--ctf_corrected_ref --oversampling 0`). relion_refine ran its first iteration for "
          "%.0f s and was stopped; its own progress bar projects the iteration's time." % (n, relion_t["seconds"]))
md.append("")
md.append("| | emkit class3d | relion_refine |")
md.append("|---|---|---|")
md.append("| iteration 1 (s) | %.0f | %s |" % (emkit_s[0], "%.0f (projected: %.0f s done when stopped)" % (
    progress["projected_s"], progress["elapsed_s"]) if progress else "–"))
md.append("| ms per particle, iteration 1 | %.1f | %s |" % (1000 * emkit_s[0] / n,
          "%.1f" % (1000 * progress["projected_s"] / n) if progress else "–"))
md.append("| peak memory (MB) | %.0f | %.0f%s |" % (emkit_t["peak_rss_mb"], relion_t["peak_rss_mb"],
          " (up to where it was stopped)" if relion_t["stopped"] else ""))
md.append("| assignment accuracy after iteration %d | %.1f%% | – |" % (iters, 100 * scores[-1]["accuracy"]))
md.append("")
if ratio:
    md.append("**emkit's first iteration is %.1f× faster than relion_refine's** on %d particles (%.1f× in the "
              "run of [unlimited.md](unlimited.md) on %d)." % (ratio, n, small["relion_seconds_per_iteration"][0] /
                                    small["emkit_seconds_per_iteration"][0], small["particles"]))
    md.append("")
md.append("Per particle, emkit's first iteration took %.1f ms here and %.1f ms on %d particles; relion_refine's "
          "%s ms and %.1f ms (the smaller case is [unlimited.md](unlimited.md)'s run, made with its own build and "
          "machine load, so the two per-particle times are not a scaling measurement). emkit's peak memory does "
          "not grow with the particles (they are read block by block)." % (
              1000 * emkit_s[0] / n, 1000 * small["emkit_seconds_per_iteration"][0] / small["particles"],
              small["particles"], "%.1f" % (1000 * progress["projected_s"] / n) if progress else "–",
              1000 * small["relion_seconds_per_iteration"][0] / small["particles"]))
md.append("")
md.append("Machine load (1/5/15 min): " + "; ".join(load) + ".")
md.append("")
md.append("Command: `N=%d ITER=%d benchmarks/class3d/large.sh` (JSON: large.json)." % (n, iters))
open(os.path.join(results, "large.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
