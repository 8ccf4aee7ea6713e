#!/usr/bin/env python3
"""Writes benchmarks/results/class3d/{class3d.json,README.md,class_sizes.png,classes.png} from run.sh's work folder
(with STRICT = 0, the run scored to the current resolution: unlimited.{json,md}, unlimited_*.png; with
OVERSAMPLING = 1, the runs coarse to fine: oversampling.{json,md}, oversampling_*.png)."""
import json, math, os, platform, re, shutil, subprocess, sys

work, results = sys.argv[1], sys.argv[2]
n, iters, relion_iters = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
strict = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
oversampling = len(sys.argv) > 7 and sys.argv[7] == "1"
unlimited_run = sys.argv[8] if len(sys.argv) > 8 else ""
prefix = "oversampling_" if oversampling else "" if strict > 0 else "unlimited_"
json_name, page_name = (("oversampling.json", "oversampling.md") if oversampling else
                        ("class3d.json", "README.md") if strict > 0 else ("unlimited.json", "unlimited.md"))
here = os.path.dirname(os.path.abspath(__file__))


def timing(name):
    text = open(os.path.join(work, name + ".time")).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    return {"seconds": round(secs, 1), "peak_rss_mb": round(rss, 1)}


def score(data_star):
    out = subprocess.run([sys.executable, os.path.join(here, "score.py"), data_star,
                          os.path.join(work, "truth.txt"), os.path.join(work, "true_angles.star")],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def fsc_res(name, thr):
    rows = []
    for line in open(os.path.join(work, name + ".star")):
        f = line.split()
        if len(f) == 4 and f[0].isdigit():
            rows.append((int(f[0]), float(f[3])))
    last = 0
    for s, v in rows[1:]:
        if v < thr:
            break
        last = s
    return round(64 * 5.0 / last, 1) if last else None


def iteration_seconds(log):
    """Seconds of each iteration from an emkit class3d log."""
    return [float(m.group(1)) for m in
            re.finditer(r"class3d iteration \d+/\d+: .*, ([0-9.]+) s", open(os.path.join(work, log)).read())]


def iteration_peaks(log):
    """Peak memory (MB) up to the end of each iteration from an emkit class3d log (builds that log it)."""
    return [float(m.group(1)) for m in re.finditer(r"class3d iteration \d+/\d+: .*, peak memory (\d+) MB,",
                                                    open(os.path.join(work, log)).read())]


def relion_iteration_peaks(model_times):
    """relion_refine's peak resident set (MB) up to each iteration's end, from peak_poll.sh's samples
    (relion.peak: "time KiB", once a second; the high-water mark, so a sample a second late is the same)."""
    path = os.path.join(work, "relion.peak")
    if not os.path.exists(path):
        return []
    samples = [tuple(float(v) for v in l.split()) for l in open(path) if len(l.split()) == 2]
    peaks = []
    for t in model_times[1:]:
        before = [kb for when, kb in samples if when <= t + 1]
        peaks.append(round(max(before) / 1024, 1) if before else None)
    return peaks


emkit_iter_s = iteration_seconds("emkit.log")
emkit_iter_peak = iteration_peaks("emkit.log")
mt = [os.path.getmtime(os.path.join(work, "relion", "run_it%03d_model.star" % i)) for i in range(relion_iters + 1)
      if os.path.exists(os.path.join(work, "relion", "run_it%03d_model.star" % i))]
relion_iter_s = [round(b - a, 1) for a, b in zip(mt, mt[1:])]
relion_iter_peak = relion_iteration_peaks(mt)
emkit_scores = [score(os.path.join(work, "emkit", "run_it%03d_data.star" % i)) for i in range(1, iters + 1)]
relion_scores = [score(os.path.join(work, "relion", "run_it%03d_data.star" % i)) for i in range(1, len(mt))]
fsc = {}
for c in (1, 2):
    for t in ("A", "B"):
        fsc["class%d_vs_%s" % (c, t)] = {"0.5": fsc_res("fsc_c%d_%s" % (c, t), 0.5),
                                         "0.143": fsc_res("fsc_c%d_%s" % (c, t), 0.143)}
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
relion_version = subprocess.run(["relion_refine", "--version"], capture_output=True, text=True).stdout.strip()
relion_version = relion_version.split("\n")[0].replace("RELION version:", "").strip()
j = {"particles": n, "box": 64, "pixel_size": 5.0, "emkit_iterations": iters, "relion_iterations": relion_iters,
     "strict_highres_exp_A": strict, "oversampling": int(oversampling),
     "emkit": timing("emkit"), "relion": timing("relion"), "emkit_seconds_per_iteration": emkit_iter_s,
     "relion_seconds_per_iteration": relion_iter_s, "emkit_peak_mb_per_iteration": emkit_iter_peak,
     "relion_peak_mb_per_iteration": relion_iter_peak, "emkit_scores": emkit_scores, "relion_scores": relion_scores,
     "fsc_emkit_final_vs_truth": fsc, "load": open(os.path.join(work, "load.txt")).read().strip().split("\n"),
     "cpu": cpu, "cores": os.cpu_count(), "relion_version": relion_version,
     "removed": open(os.path.join(work, "removed.txt")).read().strip()}
os.makedirs(results, exist_ok=True)
json.dump(j, open(os.path.join(results, json_name), "w"), indent=1)
shutil.copy(os.path.join(work, "emkit", "run_class_sizes.png"), os.path.join(results, prefix + "class_sizes.png"))
shutil.copy(os.path.join(work, "emkit", "run_it%03d_classes.png" % iters), os.path.join(results, prefix + "classes.png"))

k = min(len(relion_iter_s), len(emkit_iter_s))
ratio = [r / e for r, e in zip(relion_iter_s[:k], emkit_iter_s[:k])]
oracle = json.load(open(os.path.join(work, "oracle.json")))
j["oracle"] = oracle
json.dump(j, open(os.path.join(results, json_name), "w"), indent=1)
final = emkit_scores[-1]
best = max(range(iters), key=lambda i: emkit_scores[i]["accuracy"])
res = re.findall(r"class3d iteration \d+/\d+: .*resolution ([0-9.]+) Å", open(os.path.join(work, "emkit.log")).read())
final_res = float(res[-1]) if res else None
at = {round(r["resolution_A"]): r["accuracy"] for r in oracle["resolutions"]}
# Which conformation each final class holds most of.
truth = [int(l) for l in open(os.path.join(work, "truth.txt")).read().split()]
data = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import score; "
                       "print(' '.join(p['rlnClassNumber'] for p in score.read_particles(%r)))"
                       % (here, os.path.join(work, "emkit", "run_it%03d_data.star" % iters))],
                      check=True, capture_output=True, text=True).stdout.split()
major = {}
for c in (1, 2):
    held = [t for t, d in zip(truth, data) if int(d) == c]
    major[c] = "AB"[0 if held.count(1) >= held.count(2) else 1] if held else "-"
relion_last = relion_scores[-1] if relion_scores else None


def frames_and_stability(it):
    """Each class map's frame against the truth (the rotation that best maps the particles' true
    orientations onto their assigned ones, degrees) and the fraction of particles whose class
    is the same as in the iteration before."""
    sys.path.insert(0, here)
    import numpy as np
    import score as sc
    d = sc.read_particles(os.path.join(work, "emkit", "run_it%03d_data.star" % it))
    tr = sc.read_particles(os.path.join(work, "true_angles.star"))
    m = lambda p: np.array(sc.matrix(p["rlnAngleRot"], p["rlnAngleTilt"], p["rlnAnglePsi"]))
    frame = {}
    for c in (1, 2):
        idx = [i for i in range(len(d)) if int(d[i]["rlnClassNumber"]) == c]
        if not idx:
            continue
        u, _, vt = np.linalg.svd(sum(m(d[i]).T @ m(tr[i]) for i in idx))
        frame[c] = sc.angle((u @ vt).tolist(), np.eye(3).tolist())
    before = sc.read_particles(os.path.join(work, "emkit", "run_it%03d_data.star" % (it - 1)))
    same = sum(a["rlnClassNumber"] == b["rlnClassNumber"] for a, b in zip(d, before)) / len(d)
    return frame, same


def offset_error(data_star):
    """RMS error of the assigned offsets against the true ones (Å, per axis)."""
    sys.path.insert(0, here)
    import score as sc
    d, tr = sc.read_particles(data_star), sc.read_particles(os.path.join(work, "true_angles.star"))
    e = [(float(a["rlnOrigin%sAngst" % x]) - float(b["rlnOrigin%sAngst" % x])) ** 2
         for a, b in zip(d, tr) for x in "XY"]
    return math.sqrt(sum(e) / len(e))


offsets = {"emkit": offset_error(os.path.join(work, "emkit", "run_it%03d_data.star" % iters)),
           "true_rms": offset_error(os.path.join(work, "particles.star"))}
if relion_scores:
    offsets["relion"] = offset_error(os.path.join(work, "relion", "run_it%03d_data.star" % len(relion_scores)))
j["offset_rms_error_A"] = offsets
frame, same = frames_and_stability(iters)
j["final_class_frames_deg"] = frame
j["final_same_class_as_iteration_before"] = same
json.dump(j, open(os.path.join(results, json_name), "w"), indent=1)
counts = [truth.count(1), truth.count(2)]
# The companion pages' results, when they have been made (skip_align.sh, large.sh).
extra = []
skip_json = os.path.join(results, "skip_align.json")
if os.path.exists(skip_json) and not oversampling:
    sk = json.load(open(skip_json))
    sk_acc = sk["accuracy"]
    extra += ["**Aligned particles separate.** Refined together first (a consensus emkit refine3d) and then "
              "classified in their consensus poses without alignment (`--skip-align`, RELION's `--skip_align`, the "
              "usual way to separate conformations), the same particles split by conformation: %.1f%% with emkit "
              "and %.1f%% with relion_refine after %d iterations, %.1f%% from the true poses "
              "([skip_align.md](skip_align.md))." % (100 * sk_acc["emkit_consensus_poses"][-1],
                                                     100 * sk_acc["relion_consensus_poses"][-1], sk["iterations"],
                                                     100 * sk_acc["emkit_true_poses"][-1]), ""]
ovs_json = os.path.join(results, "oversampling.json")
if strict > 0 and not oversampling and os.path.exists(ovs_json):
    ov = json.load(open(ovs_json))
    os_, ot = ov["emkit_scores"], ov["emkit_seconds_per_iteration"]
    ovr = [r / e for r, e in zip(ov["relion_seconds_per_iteration"], ot)]
    extra += ["**Coarse to fine.** With RELION's default adaptive oversampling (`--oversampling 1`) in both programs "
              "and the same limit, emkit assigns %.1f%% of the particles to their conformation after %d iterations "
              "(%.0f s, median orientation error %.1f°, peak %.0f MB); per iteration it was %s× faster than "
              "relion_refine over the %d it ran, which keeps every significant orientation (emkit keeps 100 per "
              "class; without that cap %s× faster; [oversampling.md](oversampling.md))." % (
                  100 * os_[-1]["accuracy"], len(os_), ov["emkit"]["seconds"], os_[-1]["median_angular_error_deg"],
                  ov["emkit"]["peak_rss_mb"],
                  "–".join(sorted({"%.1f" % r for r in (min(ovr), max(ovr))}, key=float)) if ovr else "–", len(ovr),
                  ", ".join("%.1f" % (r / e) for r, e in zip(ov["relion_seconds_per_iteration"],
                                                             ov.get("emkit_nocap_seconds_per_iteration", [])))), ""]
large_json = os.path.join(results, "large.json")
if os.path.exists(large_json) and not oversampling:
    lg = json.load(open(large_json))
    prog = lg.get("relion_iteration1_progress")
    if prog and lg["emkit_seconds_per_iteration"]:
        extra += ["**More particles.** On %d particles emkit's first iteration took %.0f s with a peak of %.0f MB; "
                  "relion_refine's projects to %.0f s (%.1f× longer; [large.md](large.md))." % (
                      lg["particles"], lg["emkit_seconds_per_iteration"][0], lg["emkit"]["peak_rss_mb"],
                      prog["projected_s"], prog["projected_s"] / lg["emkit_seconds_per_iteration"][0]), ""]

pm_json = os.path.join(results, "projection_memory.json")
if os.path.exists(pm_json) and not oversampling:
    pm = {c["case"]: c["rows"] for c in json.load(open(pm_json))["cases"]}
    if "grid" in pm and "fine" in pm:
        def at(rows, i):
            r = rows[i]
            return "%.0f MB in %.0f s" % (r["time"]["peak_rss_mb"], r["iteration1_seconds"])
        grid = pm["grid"]
        extra += ["**Memory against time.** `--projection-memory` (MB per rank, default 512) bounds the projections "
                  "made once and reused; beyond it they are made again as they are scored (with "
                  "`--strict-highres-exp`, first only the pixels beyond the limit), with the same outputs bit "
                  "for bit. In iteration 1 the grid alone takes %s at the default, %s; coarse to fine %s "
                  "at the default and %s at %d MB ([projection_memory.md](projection_memory.md))." % (
                      at(grid, 0), " and ".join("%s at %d MB" % (at(grid, i), grid[i]["budget_mb"])
                                                for i in range(1, len(grid))),
                      at(pm["fine"], 0), at(pm["fine"], -1), pm["fine"][-1]["budget_mb"]), ""]

def why_paragraph():
    sizes = ("Class sizes in the first iterations: relion_refine %s; emkit %s." % (
        ", ".join(" / ".join(str(x) for x in r["class_sizes"]) for r in relion_scores) if relion_scores else "–",
        ", ".join(" / ".join(str(x) for x in e["class_sizes"]) for e in emkit_scores[:max(3, len(relion_scores))])))
    frames = ("In iteration %d the two class maps sit in frames rotated by %s against the true map (the rotation "
              "that best maps the particles' true orientations onto their assigned ones), and %.0f%% of the "
              "particles keep the class of the iteration before." % (
                  iters, " and ".join("%.1f°" % frame[c] for c in sorted(frame)), 100 * same))
    if oversampling:
        text = "**Against the grid alone.** "
        grid_json = os.path.join(results, "class3d.json")
        if os.path.exists(grid_json):
            g = json.load(open(grid_json))
            gs, k10 = g["emkit_scores"], min(iters, len(g["emkit_scores"]))
            text += ("Scoring the 15° grid alone with the same limit ([README.md](README.md)), emkit reached %.1f%% "
                     "after %d iterations and %.1f%% after %d (%.0f s, peak %.0f MB); coarse to fine it reaches "
                     "%.1f%% after %d (%.0f s). The finer orientations (median error %.1f° against %.1f° on the grid) "
                     "make sharper class maps, which differ more clearly where the conformations do. " % (
                         100 * gs[k10 - 1]["accuracy"], k10, 100 * gs[-1]["accuracy"], len(gs),
                         g["emkit"]["seconds"], g["emkit"]["peak_rss_mb"], 100 * final["accuracy"], iters,
                         j["emkit"]["seconds"], final["median_angular_error_deg"],
                         gs[-1]["median_angular_error_deg"]))
        if unlimited_run:
            u = []
            for i in range(1, 100):
                f = os.path.join(unlimited_run, "run_it%03d_data.star" % i)
                if not os.path.exists(f):
                    break
                u.append(score(f))
            j["unlimited_run_scores"] = u
            text += ("Without the limit the same run lets the class that starts ahead take every particle: class "
                     "sizes %s in iterations 1-%d, accuracy %.1f%% after the last (%s). " % (
                         ", ".join(" / ".join(str(x) for x in s["class_sizes"]) for s in u), len(u),
                         100 * u[-1]["accuracy"], "its median orientation error %.1f°" % u[-1]["median_angular_error_deg"]))
        if os.path.exists(os.path.join(work, "emkit_nocap.log")):
            nc = iteration_seconds("emkit_nocap.log")
            j["emkit_nocap_seconds_per_iteration"] = nc
            j["emkit_nocap"] = timing("emkit_nocap")
            cap = ("**Without the cap.** Keeping every significant orientation (`--maxsig -1`, as relion_refine "
                     "3.1 does) emkit took %s s for %s (peak %.0f MB): %s× faster than relion_refine "
                     "with the same sampling." % (
                         ", ".join("%.0f" % t for t in nc),
                         "iteration 1" if len(nc) == 1 else "iterations 1-%d" % len(nc), j["emkit_nocap"]["peak_rss_mb"],
                         ", ".join("%.1f" % (r / e) for r, e in zip(relion_iter_s, nc))))
            return text + frames + " " + sizes + "\n\n" + cap
        return text + frames + " " + sizes
    if strict > 0:
        return ("**Why the %g Å limit.** The conformations differ by a 60 Å region of density, which the low "
                "frequencies carry; at SNR 0.05 the higher ones add mostly noise to the class probabilities. "
                "Scored to the current resolution (~25 Å by iteration 11; [unlimited.md](unlimited.md)), the same "
                "particles and flags did not separate: after 25 iterations emkit's classes held 50.5%% of the "
                "particles each way, split by the frames their maps settled in on the 15° grid rather than by "
                "conformation, and relion_refine's first two iterations went the same way (53.6%% after "
                "iteration 2). With the limit the class that starts ahead does not keep growing: it falls back "
                "from iteration 5 on as the class maps come to differ where the conformations do. %s %s" % (
                    strict, frames, sizes))
    return ("**Why the classes do not follow the conformations.** %s On a 15° grid a class whose frame is turned by "
            "part of a step places grid orientations nearer to some particles' true ones than the other class does, "
            "and that gain outweighs the density the conformations differ by; the random perturbation of the grid "
            "(`--perturb 0.5`, as RELION) moves which particles gain each iteration but does not remove it. Finer "
            "orientations (`--oversampling 1`, [oversampling.md](oversampling.md)) let one class take every particle "
            "instead. Scoring only the frequencies below 40 Å (`--strict-highres-exp 40`, [README.md](README.md)) "
            "separates them. %s" % (frames, sizes))


def same_iterations_memory():
    """The two programs' peaks over the iterations both ran (their images and volumes grow with the
    resolution, so a longer run peaks higher)."""
    kk = min(len(relion_iter_peak), len(emkit_iter_peak))
    if not kk or relion_iter_peak[kk - 1] is None:
        return ""
    return ("; over the %d iteration(s) both ran, emkit peaked at %.0f MB and relion_refine at %.0f MB (emkit's from "
            "its log, relion_refine's from its resident set polled each second, `peak_poll.sh`), and emkit's peak "
            "after each iteration is in the table" % (kk, emkit_iter_peak[kk - 1], relion_iter_peak[kk - 1]))


lines = ["# 3D classification%s: emkit class3d vs relion_refine (RELION %s)" % (
    " coarse to fine (`--oversampling 1`)" if oversampling else "" if strict > 0
    else " scored to the current resolution", relion_version), "",
         "%d simulated particles (64 px, 5 Å/px, CTF, SNR 0.05), each drawn at random from the 70S ribosome map (A, "
         "%d particles) or the same map with density removed (B, %d: %s), scaled so the background noise has unit "
         "standard deviation, as RELION expects of normalised particles. Both programs start from A low-passed to "
         "60 Å, taken as CTF-corrected (relion_refine `--ctf_corrected_ref`), K = 2, T = 4, HEALPix order 2 (15°) %s, "
         "offsets ±5 px in 1 px steps, 300 Å mask, solvent flattening, CTF, %s2 threads on %s (%d cores)."
         % (n, counts[0], counts[1], j["removed"],
            "coarse to fine (`--oversampling 1` in both, RELION's default adaptive oversampling: each particle's "
            "significant orientations scored again as their children at 7.5° and its significant offsets at half the "
            "step, on images at the current size; emkit keeps each particle's heaviest 100 orientations per class, its "
            "default `--maxsig 0`, relion_refine 3.1 all of them)" if oversampling else
            "on the grid alone (emkit's default; relion_refine with `--oversampling 0`, as its default would score "
            "finer orientations)",
            "the probabilities (orientations, offsets, classes) from the frequencies below %g Å "
            "(`--strict-highres-exp %g`, relion_refine `--strict_highres_exp %g`; the maps are still reconstructed to "
            "the current resolution), " % (strict, strict, strict) if strict > 0 else "", cpu, os.cpu_count()), "",
         "**Result.** After %d iterations emkit assigns %.1f%% of the particles to their conformation (best: %.1f%% "
         "at iteration %d; class sizes %s), median orientation error %.1f°, in %.0f s (%.0f s per iteration on "
         "average) with a peak of %.0f MB. relion_refine ran %d iteration(s) in %.0f s (%s per iteration), peak %.0f MB%s."
         % (iters, 100 * final["accuracy"], 100 * emkit_scores[best]["accuracy"], best + 1,
            " / ".join(str(x) for x in final["class_sizes"]), final["median_angular_error_deg"],
            j["emkit"]["seconds"], sum(emkit_iter_s) / len(emkit_iter_s), j["emkit"]["peak_rss_mb"], len(relion_iter_s),
            j["relion"]["seconds"], ", ".join("%.0f s" % t for t in relion_iter_s), j["relion"]["peak_rss_mb"],
            "; its accuracy after them: %.1f%%" % (100 * relion_last["accuracy"]) if relion_last else ""), "",
         "Over the iterations both ran, emkit was %s× faster per iteration (%s; %.1f× over those iterations together), "
         "and the two programs' class sizes and accuracies followed the same course (table below). relion_refine to "
         "%d iterations would take about %.1f h on these 2 cores at its pace so far, so its final accuracy is not "
         "measured here. Peak memory is the resident set of the whole process (`/usr/bin/time -v`)%s."
         % ("–".join(sorted({"%.1f" % r for r in (min(ratio), max(ratio))}, key=float)) if ratio else "–",
            ", ".join("iteration %d: %.1f×" % (i + 1, r) for i, r in enumerate(ratio)),
            sum(relion_iter_s[:k]) / sum(emkit_iter_s[:k]) if k else 0, iters,
            iters * sum(relion_iter_s) / max(1, len(relion_iter_s)) / 3600, same_iterations_memory()), "",
         why_paragraph(), "",
         ] + extra + [
         "**Offsets.** The true offsets are up to ±2 px (RMS %.1f Å per axis). emkit's final offsets are off by "
         "%.1f Å RMS%s. relion_refine 3.1 adds the sampled translations (in Å) to the particle's offset (in pixels) "
         "in its offset prior and multiplies the sum by the pixel size squared (`ml_optimiser.cpp`), so at 5 Å/px a "
         "1 px step is penalised like a 5 px one and its particles stay near the centre; at the usual ~1 Å/px this "
         "costs nothing." % (offsets["true_rms"], offsets["emkit"],
                              "; relion_refine's after %d iterations by %.1f Å" % (len(relion_scores), offsets["relion"])
                              if "relion" in offsets else ""), "",
         "**How separable the data are** (`oracle.py`): classifying each particle by the likelihood of the two true "
         "maps at its true orientation, offset and CTF gives %s. Any 3D classification must also find the "
         "orientations and the maps, so these are upper bounds; the emkit maps end at %s Å."
         % (", ".join("%.1f%% with the maps at %d Å" % (100 * r["accuracy"], r["resolution_A"])
                      for r in oracle["resolutions"] if r["resolution_A"] in (60, 40, 25)),
            "%.1f" % final_res if final_res else "?"), "",
         "Machine load (1/5/15 min): " + "; ".join(j["load"]) + ".", "",
         "| iteration | emkit s | relion_refine s | speed-up | emkit accuracy | RELION accuracy | emkit median angle error | RELION median angle error | emkit peak MB | RELION peak MB |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for i in range(iters):
    e = emkit_scores[i]
    r = relion_scores[i] if i < len(relion_scores) else None
    ep = emkit_iter_peak[i] if i < len(emkit_iter_peak) else None
    rp = relion_iter_peak[i] if i < len(relion_iter_peak) else None
    lines.append("| %d | %.1f | %s | %s | %.3f | %s | %.1f° | %s | %s | %s |" % (
        i + 1, emkit_iter_s[i], "%.1f" % relion_iter_s[i] if i < len(relion_iter_s) else "–",
        "%.1f×" % ratio[i] if i < k else "–", e["accuracy"], "%.3f" % r["accuracy"] if r else "–",
        e["median_angular_error_deg"], "%.1f°" % r["median_angular_error_deg"] if r else "–",
        "%.0f" % ep if ep is not None else "–", "%.0f" % rp if rp is not None else "–"))
lines += ["", "| program | iterations | wall time | peak memory |", "|---|---|---|---|",
          "| emkit class3d | %d | %.0f s | %.0f MB |" % (iters, j["emkit"]["seconds"], j["emkit"]["peak_rss_mb"]),
          "| relion_refine | %d | %.0f s | %.0f MB |" % (relion_iters, j["relion"]["seconds"], j["relion"]["peak_rss_mb"]),
          "", "Final emkit class maps against the true maps (FSC 0.5 / 0.143, Å; each class's majority in brackets):", "",
          "| | truth A | truth B |", "|---|---|---|"]
for c in (1, 2):
    lines.append("| class %d (%s) | %s / %s | %s / %s |" % (
        c, major[c], fsc["class%d_vs_A" % c]["0.5"], fsc["class%d_vs_A" % c]["0.143"],
        fsc["class%d_vs_B" % c]["0.5"], fsc["class%d_vs_B" % c]["0.143"]))
lines += ["", "![class sizes](%sclass_sizes.png)" % prefix, "", "![classes](%sclasses.png)" % prefix, "",
          "Command: `%sN=%d ITER=%d RELION_ITER=%d STRICT=%g benchmarks/class3d/run.sh` (JSON: %s)." % (
              "OVERSAMPLING=1 UNLIMITED_ITER=%d %s" % (len(j.get("unlimited_run_scores", [])),
                                                       "NOCAP=1 " if "emkit_nocap" in j else "")
              if oversampling else "",
              n, iters, relion_iters, strict, json_name)]
open(os.path.join(results, page_name), "w").write("\n".join(lines) + "\n")
json.dump(j, open(os.path.join(results, json_name), "w"), indent=1)
print("\n".join(lines))
