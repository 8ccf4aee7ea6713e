# The class3d benchmarks' classification flags, the same for both programs (sourced by run.sh and large.sh):
# K = 2 from conformation A low-passed to 60 Å, T = 4, HEALPix order 2 on the grid alone, offsets 5 px / 1 px,
# 300 Å mask, C1, seed 1, 2 threads; RELION also takes the reference as CTF-corrected and flattens the solvent
# (emkit always does both). The iteration count is each script's own; run.sh adds the E-step limit (STRICT).
flags_emkit=(--ref truthA64.mrc --ini-high 60 --K 2 --tau2-fudge 4 --healpix-order 2 --offset-range 5
             --offset-step 1 --particle-diameter 300 --sym C1 --threads 2 --seed 1)
flags_relion=(--ref truthA64.mrc --ini_high 60 --K 2 --tau2_fudge 4 --healpix_order 2 --offset_range 5
              --offset_step 1 --particle_diameter 300 --sym C1 --ctf --ctf_corrected_ref --flatten_solvent --pad 2
              --oversampling 0 --j 2 --random_seed 1 --dont_combine_weights_via_disc --pool 3)
