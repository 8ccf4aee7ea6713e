#!/usr/bin/env bash
# LoG (and template) picking with emkit's defaults beside relion_autopick LoG on the same micrographs
#  1. the 10 real EMPIAR-10028 micrographs in ../shared/data (1024² 8-bit PNG, ~5.4 Å/px, ribosome
#     ~57 px = ~308 Å; labels incomplete: precision is a lower bound), converted to MRC for RELION;
#  2. simulated micrographs (ribosome map, 1024² at 5 Å/px): SNR 0.05 / 0.1 / 0.2 at the default
#     density, a densely packed set (coverage 0.4, half the particles touching) and that set
#     quantised to 8 bits.
# Each emkit method runs twice: with its defaults (the operating point: precision, recall, F1)
# and with no threshold (the ranking of every local maximum: AP, best F1). Edge picks are counted.
#   usage: [EMKIT_SHARED_DATA=../shared/data] benchmarks/picking/real_data.sh [build dir (build)] [work dir]
# -> benchmarks/results/picking/real_data.json, real_data.md
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${1:-build}")
W=$(realpath -m "${2:-/tmp/emkit_bench_picking_real}")
OUT=$(pwd)/benchmarks/results/picking
THREADS=${THREADS:-2}
DATA=$(realpath "${EMKIT_SHARED_DATA:-../shared/data}")
MAP=$DATA/maps/ribosome70s_65.mrc
PY=/usr/bin/python3
mkdir -p "$W/bin" "$W/times" "$OUT"
ninja -C "$BUILD" emkit >/dev/null
cp "$BUILD/apps/emkit" "$BUILD/apps/libemkit_plugin.so" "$W/bin/"
E="$W/bin/emkit"
timed() {  # timed NAME command...: wall seconds into $W/times/NAME.wall
  local name=$1 t0=$EPOCHREALTIME
  shift
  "$@"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >"$W/times/$name.wall"
}
relion_star() {  # relion_star OUT.star PIXEL MRC...: micrographs STAR with one optics group
  local out=$1 px=$2
  shift 2
  {
    printf 'data_optics\nloop_\n_rlnOpticsGroupName #1\n_rlnOpticsGroup #2\n_rlnMicrographPixelSize #3\n'
    printf '_rlnVoltage #4\n_rlnSphericalAberration #5\n_rlnAmplitudeContrast #6\nopticsGroup1 1 %s 300 2.7 0.1\n\n' "$px"
    printf 'data_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\n'
    for f in "$@"; do echo "$f 1"; done
  } >"$out"
}

# 1. Real micrographs.
R=$W/real
rm -rf "$R"/{mrc,truth,log,log_ranking,template,template_ranking,relion_log,extract,class2d,template_classes} \
    "$R/template_classes_ranking"
mkdir -p "$R/mrc" "$R/truth"
cp "$DATA"/micrographs/empiar10028/*/coords/*.csv "$R/truth/"
"$PY" - "$DATA/micrographs/empiar10028" "$R/mrc" <<'EOF'
import glob, os, sys
import matplotlib.image as mpimg, mrcfile, numpy as np
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*", "images", "*.png"))):
    a = mpimg.imread(p)  # row 0 = top of the PNG = first MRC row (rlnCoordinateY = row)
    with mrcfile.new(os.path.join(sys.argv[2], os.path.basename(p)[:-4] + ".mrc"), overwrite=True) as m:
        m.set_data(a.astype(np.float32))
        m.voxel_size = 5.4
EOF
(cd "$R" && relion_star micrographs.star 5.4 mrc/*.mrc)
PNGS="$DATA/micrographs/empiar10028/*/images/*.png"
timed real_log "$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method log --threads "$THREADS" -q -o "$R/log"
"$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method log --threshold -1000 --threads "$THREADS" -q \
    -o "$R/log_ranking"
timed real_template "$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method template --reference-map "$MAP" \
    --reference-pixel-size 6 --views 10 --threads "$THREADS" -q -o "$R/template"
"$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method template --reference-map "$MAP" \
    --reference-pixel-size 6 --views 10 --threshold -1 --threads "$THREADS" -q -o "$R/template_ranking"
mkdir -p "$R/relion_log"
(cd "$R" && timed real_relion_log relion_autopick --i micrographs.star --odir relion_log/ --pickname autopick --LoG \
    --LoG_diam_min 246 --LoG_diam_max 370 --angpix 5.4 >relion_log/log.txt 2>&1)

# Template matching from 2D class averages, RELION's tutorial route: the LoG picks above -> extract ->
# class2d -> the sharp classes (estimated resolution <= 30 Å) as references.
(cd "$R" && relion_star png_micrographs.star 5.4 "$DATA"/micrographs/empiar10028/*/images/*.png)
"$E" extract -i "$R/png_micrographs.star" -c "$R/log" --box 80 --invert-contrast --threads "$THREADS" -q \
    -o "$R/extract"
(cd "$R" && timed real_class2d "$E" class2d --i extract/particles.star --o class2d --K 10 --iter 15 \
    --particle-diameter 340 --threads "$THREADS" -q)
CLASSES=$(awk '/classes.mrcs/ { split($1, a, "@"); if ($5 + 0 <= 30) printf "%s%d", (n++ ? "," : ""), a[1] + 0 }' \
    "$R/class2d/run_it015_model.star")
echo "$CLASSES" >"$R/classes.txt"
timed real_template_classes "$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method template \
    --references "$R/class2d/run_it015_classes.mrcs" --classes "$CLASSES" --threads "$THREADS" -q -o "$R/template_classes"
"$E" pick -i "$PNGS" --pixel-size 5.4 --diameter 308 --method template --references "$R/class2d/run_it015_classes.mrcs" \
    --classes "$CLASSES" --threshold -1 --threads "$THREADS" -q -o "$R/template_classes_ranking"

# 2. Simulated micrographs (the same generator and seed as run.sh for the three SNRs).
sim() {  # sim NAME options...
  local S=$W/sim_$1
  shift
  [ -f "$S/micrographs.star" ] || "$E" simulate micrographs --map "$MAP" --pixel-size 5 --n 3 --size 1024 \
      --threads "$THREADS" -q -o "$S" "$@"
}
sim 0.05 --snr 0.05 --seed 7
sim 0.1 --snr 0.1 --seed 7
sim 0.2 --snr 0.2 --seed 7
sim dense --snr 0.1 --density 0.4 --touching 0.5 --seed 8
if [ ! -f "$W/sim_dense8/micrographs.star" ]; then  # 8-bit quantisation (0.5-99.5 percentiles -> 0-255)
  cp -r "$W/sim_dense" "$W/sim_dense8"
  sed -i "s|$W/sim_dense/|$W/sim_dense8/|" "$W/sim_dense8/micrographs.star"
  "$PY" - "$W/sim_dense8/micrographs" <<'EOF'
import glob, os, sys
import mrcfile, numpy as np
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.mrc"))):
    with mrcfile.open(p, mode="r+") as m:
        a, vs = m.data.astype(np.float32), m.voxel_size.copy()
        lo, hi = np.percentile(a, [0.5, 99.5])
        m.set_data(np.clip(np.round((a - lo) / (hi - lo) * 255), 0, 255).astype(np.float32))
        m.voxel_size = vs
EOF
fi
for s in 0.05 0.1 0.2 dense dense8; do
  S=$W/sim_$s
  rm -rf "$S/log" "$S/log_ranking" "$S/relion_log"
  timed "sim_${s}_log" "$E" pick -i "$S/micrographs.star" --diameter 250 --method log --threads "$THREADS" -q -o "$S/log"
  "$E" pick -i "$S/micrographs.star" --diameter 250 --method log --threshold -1000 --threads "$THREADS" -q \
      -o "$S/log_ranking"
  mkdir -p "$S/relion_log"
  (cd "$S" && timed "sim_${s}_relion_log" relion_autopick --i micrographs.star --odir relion_log/ --pickname autopick \
      --LoG --LoG_diam_min 200 --LoG_diam_max 300 >relion_log/log.txt 2>&1)
done
uptime >"$W/load.txt"
"$PY" benchmarks/picking/real_report.py "$W" "$OUT"
echo "wrote $OUT/real_data.md"
