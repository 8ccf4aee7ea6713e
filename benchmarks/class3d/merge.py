#!/usr/bin/env python3
"""Splits a simulated particle set of several conformations into the programs' input and the truth.

usage: merge.py SIM.star OUT.star TRUTH.txt TRUE_ANGLES.star
SIM.star comes from one `emkit simulate particles` run with one --map per conformation (rlnClassNumber
says which). OUT.star has angles and origins set to 0 and no class column (nothing of the truth is given
to the programs); TRUTH.txt holds the true class per particle and TRUE_ANGLES.star the true angles,
origins and CTF without the class column (the input of `simulate particles --angles`), both in the order
of OUT.star.
"""
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


head, labels, rows = read(sys.argv[1])
cls = labels.index('_rlnClassNumber')
zero = [labels.index(l) for l in ('_rlnAngleRot', '_rlnAngleTilt', '_rlnAnglePsi', '_rlnOriginXAngst',
                                  '_rlnOriginYAngst') if l in labels]
keep = [j for j in range(len(labels)) if j != cls]
for out, truth in ((sys.argv[2], False), (sys.argv[4], True)):
    with open(out, 'w') as f:
        f.write('\n'.join(head) + '\ndata_particles\n\nloop_ \n')
        for k, j in enumerate(keep):
            f.write('%s #%d \n' % (labels[j], k + 1))
        for r in rows:
            r = list(r)
            if not truth:
                for j in zero:
                    r[j] = '0'
            f.write(' '.join(r[j] for j in keep) + ' \n')
        f.write(' \n')
with open(sys.argv[3], 'w') as t:
    t.write(''.join('%s\n' % r[cls] for r in rows))
