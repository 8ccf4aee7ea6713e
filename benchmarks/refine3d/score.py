#!/usr/bin/env python3
"""Scores a 3D refinement against the simulated truth.

usage: score.py DATA_STAR TRUE_STAR [MAP TRUE_MAP] [--sym-free]
Prints JSON: median angular error (degrees) and median offset error (Å) of the refined particles
against their true angles/offsets (C1, same frame as the truth), the rotation between the refined
map's frame and the truth's with the median error once it is removed, and with MAP and TRUE_MAP the
resolution (Å) where the FSC between the refined and the true map drops below 0.5 and 0.143.
"""
import importlib.util, json, math, os, sys

import numpy as np

# class3d's score.py: the particles reader and RELION's Euler matrix (loaded by path: this module is
# also named score).
_spec = importlib.util.spec_from_file_location(
    "class3d_score", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "class3d", "score.py"))
class3d_score = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(class3d_score)

read_particles, angle = class3d_score.read_particles, class3d_score.angle


def matrix(rot, tilt, psi):
    return np.array(class3d_score.matrix(rot, tilt, psi))


def fsc(a, b):
    n = a.shape[0]
    fa, fb = np.fft.rfftn(a), np.fft.rfftn(b)
    k = np.fft.fftfreq(n) * n
    kx = np.arange(n // 2 + 1)
    r = np.sqrt(k[:, None, None] ** 2 + k[None, :, None] ** 2 + kx[None, None, :] ** 2)
    idx = np.rint(r).astype(int)
    m = idx <= n // 2
    num = np.bincount(idx[m], (fa * np.conj(fb)).real[m], n // 2 + 1)
    da = np.bincount(idx[m], (np.abs(fa) ** 2)[m], n // 2 + 1)
    db = np.bincount(idx[m], (np.abs(fb) ** 2)[m], n // 2 + 1)
    return num / np.sqrt(np.maximum(da * db, 1e-30))


def crossing(f, threshold, n, apix):
    for s in range(1, len(f)):
        if f[s] < threshold:
            return n * apix / max(s - 1, 1) if s > 1 else float('inf')
    return 2 * apix


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    data, true = read_particles(args[0]), read_particles(args[1])
    assert len(data) == len(true), (len(data), len(true))
    pairs = [(matrix(p['rlnAngleRot'], p['rlnAngleTilt'], p['rlnAnglePsi']),
              matrix(q['rlnAngleRot'], q['rlnAngleTilt'], q['rlnAnglePsi'])) for p, q in zip(data, true)]
    errs = sorted(angle(a, b) for a, b in pairs)
    # The refined map's frame may sit rotated against the truth's (defined only to the starting
    # resolution): the mean of A_true^T A_refined (projected on rotations), and the errors around it.
    d = [b.T @ a for a, b in pairs]
    u, _, vt = np.linalg.svd(sum(d))
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    frame = u @ vt
    aligned = sorted(angle(x, frame) for x in d)
    oerr = sorted(math.hypot(float(p.get('rlnOriginXAngst', 0)) - float(q.get('rlnOriginXAngst', 0)),
                             float(p.get('rlnOriginYAngst', 0)) - float(q.get('rlnOriginYAngst', 0)))
                  for p, q in zip(data, true))
    out = {'particles': len(data), 'median_angular_error_deg': errs[len(errs) // 2],
           'frame_rotation_deg': angle(frame, np.eye(3)),
           'median_angular_error_in_frame_deg': aligned[len(aligned) // 2],
           'mean_angular_error_deg': sum(errs) / len(errs), 'median_offset_error_A': oerr[len(oerr) // 2]}
    if len(args) >= 4:
        import mrcfile  # only for maps
        with mrcfile.open(args[2], permissive=True) as m:
            a = np.asarray(m.data, dtype=np.float64)
            apix = float(m.voxel_size.x)
        with mrcfile.open(args[3], permissive=True) as m:
            b = np.asarray(m.data, dtype=np.float64)
        f = fsc(a, b)
        out['fsc_vs_truth_0.5_A'] = crossing(f, 0.5, a.shape[0], apix)
        out['fsc_vs_truth_0.143_A'] = crossing(f, 0.143, a.shape[0], apix)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
