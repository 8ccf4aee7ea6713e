#!/usr/bin/env python3
"""Merges two simulated particle sets into one particles STAR without their true orientations.

usage: merge.py A/particles.star B/particles.star OUT.star TRUTH.txt TRUE_ANGLES.star
The particles are interleaved in a fixed shuffled order; angles and origins are set to 0 in OUT.star
(nothing of the truth is given to the programs), the true class per particle goes to TRUTH.txt and
the true angles to TRUE_ANGLES.star (same order).
"""
import random
import sys


def read(path):
    lines = open(path).read().split('\n')
    i = lines.index('data_particles')
    labels, rows = [], []
    for l in lines[i + 1:]:
        s = l.strip()
        if s.startswith('_rln'):
            labels.append(s.split()[0])
        elif '@' in s:
            rows.append(s.split())
    return lines[:i], labels, rows


head, labels, ra = read(sys.argv[1])
_, lb, rb = read(sys.argv[2])
assert lb == labels
rows = [(r, 1) for r in ra] + [(r, 2) for r in rb]
random.Random(5).shuffle(rows)
zero = [labels.index(l) for l in ('_rlnAngleRot', '_rlnAngleTilt', '_rlnAnglePsi', '_rlnOriginXAngst',
                                  '_rlnOriginYAngst') if l in labels]
cls = labels.index('_rlnClassNumber') if '_rlnClassNumber' in labels else -1
for out, keep in ((sys.argv[3], False), (sys.argv[5], True)):
    with open(out, 'w') as f:
        f.write('\n'.join(head) + '\ndata_particles\n\nloop_ \n')
        for k, l in enumerate(labels):
            f.write('%s #%d \n' % (l, k + 1))
        for r, c in rows:
            r = list(r)
            if not keep:
                for j in zero:
                    r[j] = '0'
                if cls >= 0:
                    r[cls] = '1'
            f.write(' '.join(r) + ' \n')
        f.write(' \n')
with open(sys.argv[4], 'w') as t:
    t.write(''.join('%d\n' % c for _, c in rows))
