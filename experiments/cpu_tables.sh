#!/usr/bin/env bash
# Both models x both shared categories x 3 seeds on a CPU, fast path, one fixed schedule; then
# pixel AUROC of each run's gradient maps (dsn-eval on its checkpoint, PIXEL_ROTATIONS rotations,
# default 8); then the per-class report. Runs one after another (each uses every core), seed-major so that a cut-short
# queue still holds a complete comparison for the first seeds. Re-running skips finished runs and
# resumes an interrupted one from its last checkpoint.
#
#   bash experiments/cpu_tables.sh [passes]        (default 24 = 3 of the paper's 8-pass meta-epochs)
#
# Needs the shared data and weights beside the checkout (../shared), as on the development machine.
set -euo pipefail
PASSES=${1:-24}
SHARED=${DSN_SHARED:-../shared}
OUT=logs/cpu_tables_${PASSES}
PY=${PYTHON:-.venv/bin/python}
PIXEL_ROTATIONS=${PIXEL_ROTATIONS:-8}

root_of() { [[ $1 == bottle ]] && echo "$SHARED/data/mvtec_ad" || echo "$SHARED/data"; }

run() {  # model experiment, category, data root, weights file, seed
  local exp=$1 cat=$2 root=$3 weights=$4 seed=$5
  local dir=$OUT/${exp}_${cat}_s${seed}
  if [[ -f $dir/metrics.json ]]; then echo "done: $dir"; return; fi
  echo "$(date -u +%FT%TZ) start $dir"
  /usr/bin/time -v "$PY" -m dsn.train experiment="$exp" trainer=cpu_fast trainer.max_epochs="$PASSES" \
    feature_cache.bank_views=16 data.root="$root" data.category="$cat" model.weights="$weights" \
    logger=csv figures.pixel_auroc=false figures.map_rotations=16 seed="$seed" \
    hydra.run.dir="$dir" 2> >(tee "$dir.time.log" >&2 | grep -E "Maximum resident|Elapsed" >&2)
  echo "$(date -u +%FT%TZ) end $dir"
}

mkdir -p "$OUT"
for seed in 0 1 2; do
  for exp in differsqueezenet_paper differnet_paper; do
    case $exp in
      differsqueezenet_paper) w=$SHARED/weights/squeezenet1_1_imagenet.pth ;;
      differnet_paper) w=$SHARED/weights/alexnet_features_imagenet.pth ;;
    esac
    run "$exp" bottle "$(root_of bottle)" "$w" "$seed"
    run "$exp" magnetic_tile "$(root_of magnetic_tile)" "$w" "$seed"
  done
done

for dir in "$OUT"/*_s[0-9]; do  # pixel AUROC from the saved checkpoints
  [[ -f $dir/pixel/metrics.json ]] && continue
  cat=$(basename "$dir" | sed -E 's/^differ(squeezenet|net)_paper_(.*)_s[0-9]+$/\2/')
  echo "$(date -u +%FT%TZ) pixel AUROC $dir"
  "$PY" -m dsn.evaluate ckpt_path="$dir/checkpoints/last.ckpt" data.root="$(root_of "$cat")" data.category="$cat" \
    figures.pixel_auroc=true figures.map_rotations="$PIXEL_ROTATIONS" hydra.run.dir="$dir/pixel" 2>&1 | tail -n 3
done
"$PY" -m dsn.report "$OUT" --out "experiments/results/cpu_tables_${PASSES}"
