#!/usr/bin/env python3
"""Simulates particles on RELION's greyscale: background noise with unit standard deviation.

usage: simulate_normalised.py EMKIT OUT MAP [MAP ...] -- SIMULATE_OPTIONS...
RELION expects normalised particles (relion_preprocess: background mean 0, standard deviation 1) and a
reference on the same greyscale; on particles with a noise level of 1e-3 its first iterations do not
align. `emkit simulate particles` sets the noise from the SNR, so the maps are scaled until the noise
is 1: a pilot run measures the noise sigma, every MAP is overwritten scaled by 1/sigma (a map already
on that scale stays as it is), and the particles are simulated again from the scaled maps with the same
options and seed into OUT. Prints the scale applied.
"""
import re
import subprocess
import sys

import mrcfile
import numpy as np

emkit, out = sys.argv[1], sys.argv[2]
split = sys.argv.index('--')
maps, options = sys.argv[3:split], sys.argv[split + 1:]


def simulate(folder):
    cmd = [emkit, 'simulate', 'particles'] + [a for m in maps for a in ('--map', m)] + options + \
          ['-o', folder, '--overwrite']
    log = subprocess.run(cmd, check=True, capture_output=True, text=True)
    found = re.search(r'noise sigma ([0-9.eE+-]+)', log.stdout + log.stderr)
    if not found:
        sys.exit('simulate_normalised.py: no noise sigma in the output of ' + ' '.join(cmd))
    return float(found.group(1))


sigma = simulate(out + '_pilot')
subprocess.run(['rm', '-rf', out + '_pilot'], check=True)
for m in maps:
    with mrcfile.open(m, mode='r+', permissive=True) as f:
        f.set_data(np.ascontiguousarray((np.asarray(f.data, dtype=np.float64) / sigma).astype(np.float32)))
final = simulate(out)
print('maps scaled by %.6g; noise sigma of the particles %.4f' % (1 / sigma, final))
