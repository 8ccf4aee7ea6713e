#!/usr/bin/env python3
"""Writes benchmarks/results/refine3d/{refine3d.json,README.md,fsc.png} from run.sh's work folder, or
PAGE.json, PAGE.md and PAGE_fsc.png when a page name is given.

usage: report.py WORK RESULTS N [OFFSET_RANGE [PAGE]]
"""
import json, os, re, subprocess, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
box, apix = 64, 5.0
work = results = n = None  # set by main()
offset_range, page = 5.0, ""


def timing(name):
    return timing_of(os.path.join(work, name + ".time"))


def timing_of(path):
    """Wall time (s) and peak memory (MB) from /usr/bin/time -v's file; None for a stopped run."""
    if not os.path.exists(path):
        return None
    text = open(path).read()
    m = re.search(r"Elapsed \(wall clock\) time.*: (.*)", text)
    if not m:  # the run was stopped
        return None
    wall = m.group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    return {"seconds": round(secs, 1), "peak_rss_mb": round(rss, 1)}


def star_value(path, label):
    for line in open(path):
        f = line.split()
        if len(f) >= 2 and f[0] == label:
            return float(f[1])
    return None


def gold_fsc(path):
    lines = open(path).read().split("\n")
    i = lines.index("data_model_class_1")
    labels, rows = [], []
    for l in lines[i + 1:]:
        s = l.strip()
        if s.startswith("data_"):
            break
        if s.startswith("_rln"):
            labels.append(s.split()[0])
        elif s and s[0].isdigit():
            rows.append(s.split())
    c = labels.index("_rlnGoldStandardFsc")
    return [float(r[c]) for r in rows]


def final_files(prog):
    """The run's final files, or (an unfinished run) those of its last iteration."""
    d = os.path.join(work, prog)
    if os.path.exists(os.path.join(d, "run_model.star")):
        return {"data": "run_data.star", "model": "run_model.star", "map": "run_class001.mrc", "converged": True}
    its = sorted(f for f in os.listdir(d) if re.match(r"run_it\d+_half1_model.star", f))
    if len(its) < 2:
        return None
    last = its[-1][:9]
    return {"data": last + "_data.star", "model": last + "_half1_model.star", "map": last + "_half1_class001.mrc",
            "converged": False}


def score(prog, files):
    d = os.path.join(work, prog)
    out = subprocess.run([sys.executable, os.path.join(here, "score.py"), os.path.join(d, files["data"]),
                          os.path.join(work, "sim", "particles.star"), os.path.join(d, files["map"]),
                          os.path.join(work, "truthA64.mrc")], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def per_iteration_relion():
    d = os.path.join(work, "relion")
    start = float(open(os.path.join(work, "relion.start")).read())
    times = []
    i = 1
    while os.path.exists(os.path.join(d, "run_it%03d_half1_model.star" % i)):
        times.append(os.path.getmtime(os.path.join(d, "run_it%03d_half1_model.star" % i)))
        i += 1
    if os.path.exists(os.path.join(d, "run_model.star")):
        times.append(os.path.getmtime(os.path.join(d, "run_model.star")))
    first = os.path.getmtime(os.path.join(d, "run_it000_half1_model.star")) if os.path.exists(
        os.path.join(d, "run_it000_half1_model.star")) else start
    seconds = [b - a for a, b in zip([first] + times, times)]
    # Pauses (relion.pauses: "start end" per line, the processes stopped with SIGSTOP and
    # continued) are taken out of the iterations they fell in.
    for start, length in relion_pauses():
        for i, (a, b) in enumerate(zip([first] + times, times)):
            if a <= start < b:
                seconds[i] -= length
    return [round(v, 1) for v in seconds]


def relion_first_iteration_projection():
    """For a RELION run stopped before its first iteration ended: the seconds it had computed (pauses
    taken out), the fraction of iteration 1 its progress bar showed, and the projected seconds of
    the iteration; None when there is nothing to read."""
    log, start = os.path.join(work, "relion.log"), os.path.join(work, "relion.start")
    if not (os.path.exists(log) and os.path.exists(start)):
        return None
    bars = re.findall(r"([0-9.]+)/([0-9.]+) (min|hrs)", open(log, errors="replace").read())
    if not bars:
        return None
    done, total, _ = bars[-1]
    fraction = float(done) / float(total)
    ran = os.path.getmtime(log) - float(open(start).read()) - sum(p[1] for p in relion_pauses())
    return {"seconds_computed": round(ran, 1), "fraction_of_iteration_1": round(fraction, 3),
            "projected_iteration_1_seconds": round(ran / fraction, 1) if fraction > 0 else None}


def relion_pauses():
    """[(start, seconds)] of the pauses of the RELION run."""
    path = os.path.join(work, "relion.pauses")
    if not os.path.exists(path):
        return []
    pauses = [[float(v) for v in line.split()] for line in open(path) if line.strip()]
    return [(a, b - a) for a, b in pauses]


def main():
    global work, results, n, offset_range, page
    work, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        offset_range = float(sys.argv[4])
    if len(sys.argv) > 5:
        page = sys.argv[5]
    json_name, png_name, md_name = ((page + ".json", page + "_fsc.png", page + ".md") if page else
                                    ("refine3d.json", "fsc.png", "README.md"))
    log = open(os.path.join(work, "emkit.log")).read()
    emkit_iters = [{"seconds": float(m.group(3)), "order": int(m.group(1)), "mode": m.group(2)} for m in
                   re.finditer(r"refine3d iteration \d+.*?HEALPix order (\d+) (local|global).*?, ([0-9.]+) s\n", log)]
    prog = {}
    for name in ("emkit", "relion"):
        d = os.path.join(work, name)
        files = final_files(name) if os.path.isdir(d) else None
        if not files:
            continue
        t = timing(name)
        if name == "relion" and t:
            t["seconds"] = round(t["seconds"] - sum(p[1] for p in relion_pauses()), 1)
        p = {"time": t, "converged": files["converged"],
             "resolution_A": star_value(os.path.join(d, files["model"]), "_rlnCurrentResolution"),
             "gold_fsc": gold_fsc(os.path.join(d, files["model"])), "scores": score(name, files)}
        p["seconds_per_iteration"] = ([i["seconds"] for i in emkit_iters] if name == "emkit" else per_iteration_relion())
        p["iterations"] = len(p["seconds_per_iteration"])
        prog[name] = p
    relion_projection = None
    if "relion" not in prog and os.path.isdir(os.path.join(work, "relion")):
        relion_projection = relion_first_iteration_projection()
    # An unfinished RELION run is compared with emkit after the same iteration.
    same_iteration = None
    if "relion" in prog and not prog["relion"]["converged"] and "emkit" in prog:
        k = prog["relion"]["iterations"]
        files = {"data": "run_it%03d_data.star" % k, "map": "run_it%03d_half1_class001.mrc" % k}
        if os.path.exists(os.path.join(work, "emkit", files["data"])):
            same_iteration = {"iteration": k, "emkit": score("emkit", files), "relion": prog["relion"]["scores"],
                              "emkit_resolution_A": star_value(os.path.join(work, "emkit", "run_it%03d_half1_model.star"
                                                                            % k), "_rlnCurrentResolution"),
                              "relion_resolution_A": prog["relion"]["resolution_A"]}
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    j = {"particles": n, "box": box, "pixel_size": apix, "snr": 0.05, "programs": prog, "emkit_iterations": emkit_iters,
         "load": open(os.path.join(work, "load.txt")).read().strip().split("\n"), "cpu": cpu, "cores": os.cpu_count(),
         "after_relions_last_iteration": same_iteration, "relion_unfinished_first_iteration": relion_projection}
    os.makedirs(results, exist_ok=True)
    json.dump(j, open(os.path.join(results, json_name), "w"), indent=1)

    plt.figure(figsize=(7, 4.2))
    for name, style in (("emkit", "-"), ("relion", "--")):
        if name in prog:
            f = prog[name]["gold_fsc"]
            label = "%s half maps (%.1f Å)" % ("emkit refine3d" if name == "emkit" else "relion_refine_mpi",
                                                prog[name]["resolution_A"])
            if not prog[name]["converged"]:
                label = "%s after iteration %d (unfinished run)" % (
                    "emkit refine3d" if name == "emkit" else "relion_refine_mpi", prog[name]["iterations"])
            plt.plot([s / (box * apix) for s in range(len(f))], f, style, label=label)
    plt.axhline(0.143, color="grey", lw=0.8, ls=":")
    plt.axhline(0.5, color="grey", lw=0.8, ls=":")
    plt.xlabel("resolution (1/Å)")
    plt.ylabel("FSC")
    plt.ylim(-0.1, 1.02)
    plt.title("Gold-standard FSC, %d ribosome particles (64 px, 5 Å/px, SNR 0.05)" % n, fontsize=10)
    plt.legend()
    plt.tight_layout()
    plt.savefig(os.path.join(results, png_name), dpi=110)

    e, r = prog.get("emkit"), prog.get("relion")
    lines = ["# 3D auto-refinement: emkit refine3d vs relion_refine_mpi --auto_refine (RELION 3.1.3)", "",
             "%d simulated particles of the 70S ribosome map (64 px, 5 Å/px, CTF with defocus 1-3 µm, SNR 0.05; the "
             "STAR file gives no angles or origins). Both start from the true map low-passed to 60 Å, with gold-standard "
             "halves, HEALPix order 2, local searches from order 4, offsets ±%g px in 1 px steps, a 300 Å mask, solvent "
             "flattening and CTF correction, C1. emkit runs one process with 2 threads; RELION runs 3 MPI ranks (a leader "
             "and one follower per half) with 1 thread each, on %s (%d cores). Both score a coarse grid on cropped images (global "
             "searches: all of it; local searches: the orientations near each particle's) at the coarse offset step, "
             "and then, at the current size, the 8 children of each significant orientation and the 4 half-step "
             "sub-offsets of each significant offset." % (
                 n, offset_range, cpu, os.cpu_count()), "",
             ("This case is smaller than the main one (%d particles, offsets ±%g px) so that relion_refine_mpi "
              "reaches convergence within about an hour on these 2 cores." % (n, offset_range) + "\n\n" if page else "") +
             "Machine load (1/5/15 min): " + "; ".join(j["load"]) + "." + (
                 " relion_refine_mpi was paused (SIGSTOP, then SIGCONT) for %.0f s while other work used the cores; "
                 "the pauses are taken out of its times. Other jobs shared the 2 cores during parts of these runs, so "
                 "the times are indicative." % sum(p[1] for p in relion_pauses()) if relion_pauses() else ""), "",
             "| | emkit refine3d | relion_refine_mpi | ratio |", "|---|---|---|---|"]


    def row(label, fe, fr, fmt="%.1f", ratio=None, unfinished_ok=False):
        ve = fe(e) if e else None
        # An unfinished RELION run is compared only where the row says so (its first iteration).
        vr = fr(r) if r and (r["converged"] or unfinished_ok) else None
        rr = ("%.1f×" % (vr / ve)) if (ratio and ve and vr) else ""
        lines.append("| %s | %s | %s | %s |" % (label, fmt % ve if ve is not None else "–", fmt % vr if vr is not None else "–", rr))


    row("iterations run (converged: emkit %s, RELION %s)" % (
        "yes" if e and e["converged"] else "no", "yes" if r and r["converged"] else "no"),
        lambda p: p["iterations"], lambda p: p["iterations"], "%d", None, True)
    row("first iteration (s)", lambda p: p["seconds_per_iteration"][0] if p["seconds_per_iteration"] else None,
        lambda p: p["seconds_per_iteration"][0] if p["seconds_per_iteration"] else None, "%.0f", True, True)
    row("wall time (s)", lambda p: p["time"]["seconds"] if p["time"] else None,
        lambda p: p["time"]["seconds"] if p["time"] else None, "%.0f", True)
    row("mean time per iteration (s)", lambda p: sum(p["seconds_per_iteration"]) / max(1, len(p["seconds_per_iteration"])),
        lambda p: sum(p["seconds_per_iteration"]) / max(1, len(p["seconds_per_iteration"])), "%.0f", True)
    row("peak memory (MB; RELION: its largest rank)", lambda p: p["time"]["peak_rss_mb"] if p["time"] else None,
        lambda p: p["time"]["peak_rss_mb"] if p["time"] else None, "%.0f", True)
    row("final resolution (Å; half maps, FSC 0.143)", lambda p: p["resolution_A"], lambda p: p["resolution_A"], "%.2f")
    row("final map vs true map, FSC 0.5 (Å)", lambda p: p["scores"]["fsc_vs_truth_0.5_A"],
        lambda p: p["scores"]["fsc_vs_truth_0.5_A"], "%.2f")
    row("median angular error (°)", lambda p: p["scores"]["median_angular_error_deg"],
        lambda p: p["scores"]["median_angular_error_deg"], "%.2f")
    row("median angular error in the map's frame (°; frame %.1f° from the truth's)" % (
        e["scores"]["frame_rotation_deg"] if e else 0), lambda p: p["scores"]["median_angular_error_in_frame_deg"],
        lambda p: p["scores"]["median_angular_error_in_frame_deg"], "%.2f")
    row("median offset error (Å)", lambda p: p["scores"]["median_offset_error_A"],
        lambda p: p["scores"]["median_offset_error_A"], "%.2f")
    if e and r and r["converged"] and e["time"] and r["time"]:
        lines += ["", "**Result.** Both runs converged: emkit in %d iterations and %.0f s, relion_refine_mpi in %d "
                  "iterations and %.0f s (%.1f× emkit's time; %.1f× per iteration). Half-map resolution: emkit %.2f Å, "
                  "RELION %.2f Å; median angular error against the true orientations: emkit %.2f°, RELION %.2f°; "
                  "median offset error %.2f and %.2f Å." % (
                      e["iterations"], e["time"]["seconds"], r["iterations"], r["time"]["seconds"],
                      r["time"]["seconds"] / e["time"]["seconds"],
                      (r["time"]["seconds"] / r["iterations"]) / (e["time"]["seconds"] / e["iterations"]),
                      e["resolution_A"], r["resolution_A"], e["scores"]["median_angular_error_deg"],
                      r["scores"]["median_angular_error_deg"], e["scores"]["median_offset_error_A"],
                      r["scores"]["median_offset_error_A"])]
    if r and r["time"]:
        lines += ["", "Peak memory is the largest resident set of one process (`/usr/bin/time -v`): emkit's one process, "
                  "and the largest of relion_refine_mpi's three ranks (the three together hold more)."]
    if e and r and r["converged"]:
        lines += ["", "Iterations: emkit's auto-sampling follows RELION 3.1's rules, but the counters of "
                  "iterations without resolution gain and without smaller changes in the hidden variables move with "
                  "each run's own noise, so the two programs spend different numbers of iterations at each "
                  "HEALPix order; both stop when the angular step is below 75%% of their estimated accuracy "
                  "(emkit %d iterations, RELION %d)." % (e["iterations"], r["iterations"])]
    if relion_projection and relion_projection["projected_iteration_1_seconds"]:
        q = relion_projection
        lines += ["", "relion_refine_mpi was stopped during its first iteration (with `--ctf_corrected_ref`, 3 ranks): "
                  "after %.0f s of running it had done %.0f%% of it by its own progress bar, which projects %.0f s "
                  "for the iteration, %.1f× emkit's whole run to convergence (%.0f s)." % (
                      q["seconds_computed"], 100 * q["fraction_of_iteration_1"], q["projected_iteration_1_seconds"],
                      q["projected_iteration_1_seconds"] / e["time"]["seconds"] if e and e["time"] else 0,
                      e["time"]["seconds"] if e and e["time"] else 0)]
    if r and not r["converged"]:
        stopped = os.path.exists(os.path.join(work, "relion.stopped"))
        text = ("relion_refine_mpi was stopped after its iteration %d: at its pace a run to convergence takes hours on "
                "this machine, so it is compared per iteration." % r["iterations"] if stopped else
                "relion_refine_mpi did not finish (%d iterations written)." % r["iterations"])
        if same_iteration:
            a, b = same_iteration["emkit"], same_iteration["relion"]
            text += (" After iteration %d: median angular error emkit %.2f°, RELION %.2f° (in each map's frame "
                     "%.2f° and %.2f°); median offset error %.2f and %.2f Å; half-map resolution %.1f and %.1f Å." % (
                         same_iteration["iteration"], a["median_angular_error_deg"], b["median_angular_error_deg"],
                         a["median_angular_error_in_frame_deg"], b["median_angular_error_in_frame_deg"],
                         a["median_offset_error_A"], b["median_offset_error_A"],
                         same_iteration["emkit_resolution_A"], same_iteration["relion_resolution_A"]))
        lines += ["", text + " emkit's half-map resolution at FSC 0.143 and its final map's FSC 0.5 against the true "
                  "map: %.2f and %.2f Å." % (e["resolution_A"], e["scores"]["fsc_vs_truth_0.5_A"]) if e else ""]
    lines += ["", "Per iteration (s): emkit %s; RELION %s." % (
        ", ".join("%.0f" % v for v in e["seconds_per_iteration"]) if e else "–",
        ", ".join("%.0f" % v for v in r["seconds_per_iteration"]) if r else "–"), "",
              "emkit's sampling per iteration: %s." % ", ".join("%d%s" % (i["order"], "L" if i["mode"] == "local" else "")
                                                              for i in emkit_iters) + " (HEALPix order; L = local search)",
              "", "![FSC](%s)" % png_name, "",
              "Command: `N=%d%s%s benchmarks/refine3d/run.sh` (JSON: %s; the RELION time includes MPI start-up)." % (
                  n, " OFFSET_RANGE=%g" % offset_range if offset_range != 5 else "", " PAGE=" + page if page else "",
                  json_name)]
    more = [(f, t) for f, t in (("convergence.md", "both programs to convergence on a smaller case"),
                                ("symmetry.md", "symmetry (D2 with and without --sym) and handedness"),
                                ("scale.md", "time and memory against particles and box"),
                                ("../class3d/projection_memory.md", "memory against time (--projection-memory)"))
            if os.path.exists(os.path.join(results, f))]
    if more and not page:
        lines += ["", "Also: " + "; ".join("[%s](%s)" % (t, f) for f, t in more) + "."]
    if page:
        lines += ["", "The main comparison and the other refine3d pages: [README.md](README.md)."]
    open(os.path.join(results, md_name), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
