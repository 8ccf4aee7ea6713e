#!/usr/bin/env python3
"""Scores a 3D classification against the simulated truth.

usage: score.py DATA_STAR TRUTH_TXT [TRUE_STAR]
Prints JSON: class sizes, assignment accuracy (best label permutation), and, with TRUE_STAR (the
particles with their true angles), the median angular error of the assigned orientations (C1).
"""
import itertools, json, math, sys


def read_particles(path):
    lines = open(path).read().split('\n')
    i = lines.index('data_particles')
    labels, rows = [], []
    for l in lines[i + 1:]:
        s = l.strip()
        if s.startswith('_rln'):
            labels.append(s.split()[0][1:])
        elif s and not s.startswith('loop_') and not s.startswith('#') and not s.startswith('data_'):
            rows.append(s.split())
    return [dict(zip(labels, r)) for r in rows]


def matrix(rot, tilt, psi):
    a, b, g = (math.radians(float(v)) for v in (rot, tilt, psi))
    ca, sa, cb, sb, cg, sg = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(g), math.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return [[cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
            [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
            [sc, ss, cb]]


def angle(a, b):
    t = sum(a[i][j] * b[i][j] for i in range(3) for j in range(3))
    return math.degrees(math.acos(max(-1.0, min(1.0, (t - 1) / 2))))


def main():
    data = read_particles(sys.argv[1])
    truth = [int(l) for l in open(sys.argv[2]).read().split()]
    assert len(data) == len(truth), (len(data), len(truth))
    got = [int(p['rlnClassNumber']) for p in data]
    K = max(max(got), max(truth))
    best = 0
    for perm in itertools.permutations(range(1, K + 1)):
        best = max(best, sum(1 for g, t in zip(got, truth) if perm[g - 1] == t))
    out = {'particles': len(data), 'class_sizes': [got.count(k) for k in range(1, K + 1)],
           'accuracy': best / len(data)}
    if len(sys.argv) > 3:
        true = read_particles(sys.argv[3])
        errs = sorted(angle(matrix(p['rlnAngleRot'], p['rlnAngleTilt'], p['rlnAnglePsi']),
                            matrix(q['rlnAngleRot'], q['rlnAngleTilt'], q['rlnAnglePsi'])) for p, q in zip(data, true))
        out['median_angular_error_deg'] = errs[len(errs) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
