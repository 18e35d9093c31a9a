#!/usr/bin/env bash
# The per-class tables on a CPU (fast path: 16-view training bank (64 for *_bank64 names), 64 test rotations, bf16 flow where
# the CPU has native bf16): the runs of PLAN below one after another (each uses every core), then
# pixel AUROC of each run's gradient maps (dsn-eval on its checkpoint, PIXEL_ROTATIONS rotations,
# default 8), then the report. Re-running skips finished runs and resumes an interrupted one from
# its last checkpoint (one killed while caching features keeps the images done, feature_cache.save_every_s).
# The pixel step is slow on magnetic_tile (gradient maps of all 583 test images: about 9 min per
# run here); stopping and re-running the script picks it up where it stopped.
#
#   bash experiments/cpu_tables.sh [more run dirs for the report]
#   -> runs in logs/cpu_tables/; report, metrics and figures in experiments/results/cpu_tables/
#
# PLAN lines: experiment category passes seed. 192 passes is the paper's schedule (24 meta-epochs
# of 8); on this 2-core CPU that costs about 12-14 min per bottle run (209 training images) and
# about 35 min of training per magnetic_tile run (761 training images; its 583 test images x 64
# rotations take another 13 min to embed, once), so magnetic_tile runs a shorter, stated schedule:
# 48 passes = 1536 optimizer steps, about as many as bottle's 192 passes (1728). A longer run
# starts from the checkpoint of the longest finished shorter run of the same experiment, category
# and seed (the learning rate is constant, so this ends where a run from scratch does: see
# tests/test_train.py::test_resumed_run_ends_where_an_uninterrupted_one_does); its metrics.json
# then times only the added passes (and records fit_from_epoch). Order = what matters most
# first. Needs the shared data and weights beside the checkout (../shared).
set -euo pipefail
SHARED=${DSN_SHARED:-../shared}
OUT=${OUT:-logs/cpu_tables}
PY=${PYTHON:-.venv/bin/python}
PIXEL_ROTATIONS=${PIXEL_ROTATIONS:-8}  # 0: no pixel-AUROC pass
# TRAIN_ARGS: more overrides for every run of PLAN, after the run name's own. The 64-view Magnetic
# Tile runs take TRAIN_ARGS="trainer.check_val_every_n_epoch=48 +callbacks.model_checkpoint.save_on_train_epoch_end=true":
# a test-set curve point every 48 passes instead of 8 (each point scores 583 x 64 views, about 3 min
# with the paper's flow here) and still a checkpoint every 8 (Lightning saves on validation otherwise)
read -r -a TRAIN_ARGS <<< "${TRAIN_ARGS:-}"
RESULTS=${RESULTS:-experiments/results/cpu_tables}
PLAN=${PLAN:-"
differsqueezenet_paper bottle 24 0
differsqueezenet_paper magnetic_tile 24 0
differnet_paper bottle 192 0
differsqueezenet_paper bottle 192 1
differnet_paper bottle 192 1
differsqueezenet_paper bottle 192 2
differnet_paper bottle 192 2
differnet_paper magnetic_tile 24 0
differsqueezenet_paper magnetic_tile 48 0
differnet_paper magnetic_tile 48 0
differsqueezenet_paper magnetic_tile 48 1
differnet_paper magnetic_tile 48 1
differsqueezenet_paper magnetic_tile 48 2
differnet_paper magnetic_tile 48 2
backbone_lite0 bottle 192 0
full_1scale bottle 192 0
differsqueezenet_paper magnetic_tile 96 0
differnet_paper magnetic_tile 96 0
"}

bank_views() { [[ $1 == *_bank64 ]] && echo 64 || echo 16; }  # seeded rotations banked per training image
root_of() { [[ $1 == bottle ]] && echo "$SHARED/data/mvtec_ad" || echo "$SHARED/data"; }
model_args() {
  case $1 in
    differsqueezenet_paper) echo "experiment=differsqueezenet_paper model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth" ;;
    differnet_paper) echo "experiment=differnet_paper model.features.weights=$SHARED/weights/alexnet_features_imagenet.pth" ;;
    backbone_lite0) echo "experiment=differsqueezenet_paper model=differlite0 task_name=backbone_lite0" ;;
    full_1scale) echo "experiment=differsqueezenet_paper model=squeezenet_full_1scale model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=full_1scale" ;;
    # the same with 8 test rotations (Magnetic Tile: 64 rotations of 583 test images at the full block take ~45 min to embed)
    full_1scale_T8) echo "$(model_args full_1scale) model.views.test_views=8 model.name=squeezenet_full_1scale_T8 task_name=full_1scale_T8" ;;
    # the tap table: the full block at 3 scales with the paper's flow and with a small one (the lean search's best)
    full_3scale) echo "experiment=differsqueezenet_paper model=squeezenet_full_3scale model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=full_3scale" ;;
    full_3scale_small) echo "experiment=differsqueezenet_paper model=squeezenet_full_3scale_small model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=full_3scale_small" ;;
    # the same with 8 test rotations, for Magnetic Tile (as full_1scale_T8)
    full_3scale_T8) echo "$(model_args full_3scale) model.views.test_views=8 model.name=squeezenet_full_3scale_T8 task_name=full_3scale_T8" ;;
    full_3scale_small_T8) echo "$(model_args full_3scale_small) model.views.test_views=8 model.name=squeezenet_full_3scale_small_T8 task_name=full_3scale_small_T8" ;;
    # the stabilisers (dsn.lit.stabilisers), each alone and together; run them at their full length
    # (a cosine schedule's length is the run's: do not continue a shorter one)
    differnet_ema) echo "$(model_args differnet_paper) callbacks=stabilised model.name=differnet_ema task_name=differnet_ema" ;;
    differnet_cosine) echo "$(model_args differnet_paper) model.optimizer.lr_schedule=cosine model.name=differnet_cosine task_name=differnet_cosine" ;;
    differnet_stable) echo "$(model_args differnet_paper) callbacks=stabilised model.optimizer.lr_schedule=cosine model.name=differnet_stable task_name=differnet_stable" ;;
    # the same, the average updated after every 8th step with decay 0.995**8 (callbacks.ema.every_n_steps)
    differnet_stable8) echo "$(model_args differnet_paper) callbacks=stabilised callbacks.ema.every_n_steps=8 model.optimizer.lr_schedule=cosine model.name=differnet_stable8 task_name=differnet_stable8" ;;
    # the same with the average's warm-up (callbacks.ema.warmup): the step-1 weights fade within a few passes
    differnet_stable_warm) echo "$(model_args differnet_paper) callbacks=stabilised callbacks.ema.warmup=true model.optimizer.lr_schedule=cosine model.name=differnet_stable_warm task_name=differnet_stable_warm" ;;
    # the Magnetic Tile ablation screen (DifferNet, one factor each): training rotations off; colour
    # jitter on (each banked view with its own seeded colour factors); test rotations: dsn-eval test_views=T
    differnet_norot) echo "$(model_args differnet_paper) model.views.train_rotations=false model.name=differnet_norot task_name=differnet_norot" ;;
    # the training bank's size (the reference renders a fresh random rotation every step; the CPU tables bank 16 per image)
    differnet_bank64) echo "$(model_args differnet_paper) model.name=differnet_bank64 task_name=differnet_bank64" ;;
    # DifferSqueezeNet's own flow on the 64-view bank (does the bank lift it as it lifts DifferNet on Magnetic Tile?)
    differsqueezenet_bank64) echo "$(model_args differsqueezenet_paper) model.name=differsqueezenet_bank64 task_name=differsqueezenet_bank64" ;;
    differnet_jitter) echo "$(model_args differnet_paper) model.views.brightness=0.1 model.views.contrast=0.1 model.views.saturation=0.1 model.name=differnet_jitter task_name=differnet_jitter" ;;
    # the same-feature baselines (one pass; give them 1 as the pass count): kNN on each flow's input, the patch bank
    knn) echo "model=knn model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=knn" ;;
    knn_alexnet) echo "model=knn_alexnet model.features.weights=$SHARED/weights/alexnet_features_imagenet.pth task_name=knn_alexnet" ;;
    # kNN on DifferNet's features from the 64-view bank: does the flow's gain from the larger bank belong to the bank?
    knn_alexnet_bank64) echo "$(model_args knn_alexnet) model.name=knn_alexnet_bank64 task_name=knn_alexnet_bank64" ;;
    # kNN on DifferSqueezeNet's features from the 64-view bank: the recommended preset's same-feature baseline
    knn_bank64) echo "$(model_args knn) model.name=knn_bank64 task_name=knn_bank64" ;;
    knn_lite0) echo "model=knn_lite0 task_name=knn_lite0" ;;
    knn_full_1scale) echo "model=knn_full_1scale model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=knn_full_1scale" ;;
    knn_full_1scale_T8) echo "$(model_args knn_full_1scale) model.views.test_views=8 model.name=knn_full_1scale_T8 task_name=knn_full_1scale_T8" ;;
    knn_full_3scale) echo "model=knn_full_3scale model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=knn_full_3scale" ;;
    knn_full_3scale_T8) echo "$(model_args knn_full_3scale) model.views.test_views=8 model.name=knn_full_3scale_T8 task_name=knn_full_3scale_T8" ;;
    patchcore) echo "model=patchcore model.features.weights=$SHARED/weights/squeezenet1_1_imagenet.pth task_name=patchcore" ;;
  esac
}

# PRINT_ARGS=<name>: print that run name's overrides (its training bank too) and stop (tests/test_experiment_scripts.py
# composes every name's config with them)
if [[ -n ${PRINT_ARGS:-} ]]; then echo "$(model_args "$PRINT_ARGS") feature_cache.bank_views=$(bank_views "$PRINT_ARGS")"; exit 0; fi

mkdir -p "$OUT"
while read -r exp cat passes seed; do
  [[ -z ${exp:-} ]] && continue
  dir=$OUT/${exp}_${cat}_${passes}p_s${seed}
  if [[ -f $dir/metrics.json ]]; then echo "done: $dir"; continue; fi
  from=()  # continue the longest finished shorter run, unless this run has a checkpoint of its own
  if [[ ! -e $dir/checkpoints/last.ckpt ]]; then
    shorter=$(for d in "$OUT/${exp}_${cat}_"*"p_s${seed}"; do
      p=${d##*_${cat}_}; p=${p%%p_s*}
      [[ -f $d/metrics.json && -e $d/checkpoints/last.ckpt && $p -lt $passes ]] && echo "$p $d"
    done | sort -n | tail -n 1 | cut -d" " -f2 || true)
    # ckpt_path, not a copy into $dir: Lightning would keep the copy as last.ckpt and link its own
    # newest checkpoint as last-v1.ckpt
    if [[ -n $shorter ]]; then from=("ckpt_path=$(readlink -f "$shorter/checkpoints/last.ckpt")"); echo "continuing $shorter"; fi
  fi
  echo "$(date -u +%FT%TZ) start $dir"
  # shellcheck disable=SC2046
  /usr/bin/time -v "$PY" -m dsn.train $(model_args "$exp") trainer=cpu_fast trainer.max_epochs="$passes" \
    feature_cache.bank_views="$(bank_views "$exp")" data.root="$(root_of "$cat")" data.category="$cat" seed="$seed" \
    logger=csv figures.pixel_auroc=false figures.map_rotations=16 hydra.run.dir="$dir" ${from[@]+"${from[@]}"} ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"} \
    2> >(tee "$dir.time.log" | grep -E "Maximum resident|Elapsed|Error" >&2)
  echo "$(date -u +%FT%TZ) end $dir"
done <<< "$PLAN"

runs=("$OUT"/*_bottle_*_s[0-9])  # pixel AUROC of finished runs' checkpoints, bottle first, each once
for dir in "$OUT"/*_s[0-9]; do [[ $dir == *_bottle_* ]] || runs+=("$dir"); done
for dir in "${runs[@]}"; do
  [[ $PIXEL_ROTATIONS == 0 || -f $dir/pixel/metrics.json || ! -f $dir/metrics.json || ! -f $dir/checkpoints/last.ckpt ]] && continue
  # the category as the run recorded it (a run name's own underscores make the folder name ambiguous)
  cat=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["category"])' "$dir/metrics.json")
  echo "$(date -u +%FT%TZ) pixel AUROC $dir"
  "$PY" -m dsn.evaluate ckpt_path="$dir/checkpoints/last.ckpt" data.root="$(root_of "$cat")" data.category="$cat" \
    figures.pixel_auroc=true figures.map_rotations="$PIXEL_ROTATIONS" hydra.run.dir="$dir/pixel" 2>&1 | tail -n 3
done
"$PY" -m dsn.report "$OUT" "$@" --out "$RESULTS"
for dir in "$OUT"/*_s[0-9]; do  # what is committed of each run: metrics and figures (not checkpoints)
  [[ -f $dir/metrics.json ]] || continue
  dest=$RESULTS/runs/$(basename "$dir")
  mkdir -p "$dest"
  cp "$dir/metrics.json" "$dest/"
  for png in "$dir"/figures/*.png; do if [[ -f $png ]]; then cp "$png" "$dest/"; fi; done  # none: figures.enabled=false
  if [[ -f $dir/pixel/metrics.json ]]; then cp "$dir/pixel/metrics.json" "$dest/pixel_metrics.json"; fi
done
