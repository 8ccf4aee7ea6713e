#!/usr/bin/env python3
"""Writes a particles STAR without the simulated truth: angles and origins set to 0.

usage: strip.py TRUE.star OUT.star
"""
import sys

lines = open(sys.argv[1]).read().split('\n')
i = lines.index('data_particles')
labels = [l.split()[0] for l in lines[i + 1:] if l.strip().startswith('_rln')]
zero = [labels.index(l) for l in ('_rlnAngleRot', '_rlnAngleTilt', '_rlnAnglePsi', '_rlnOriginXAngst',
                                  '_rlnOriginYAngst') if l in labels]
out = lines[:i + 1]
for l in lines[i + 1:]:
    if '@' in l:
        f = l.split()
        for z in zero:
            f[z] = '0'
        l = ' '.join(f)
    out.append(l)
open(sys.argv[2], 'w').write('\n'.join(out))
