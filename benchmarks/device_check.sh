#!/usr/bin/env bash
# The prepared GPU check (issue 21; docs/predictors.md): under 8 minutes on one GPU, one table.
#
#   bash benchmarks/device_prepare.sh [--cpu-baseline]   # here, once: shards + wheels into data/device_check
#   bash benchmarks/device_check.sh                      # on the device machine (carry data/device_check)
#   bash benchmarks/device_check.sh --cpu-tiny           # here: the same steps at tiny sizes on the CPU
#
# Steps (each capped by `timeout`; a failed or timed-out step is reported in the table, the rest go on):
#   1. one epoch of `python -m model.train --mode full` on the shards: EfficientNet-Lite2 (random init:
#      throughput does not depend on the weights, and no weights package travels), bf16, batch 64,
#      8 loader workers -> images/s against the CPU figure measured by device_prepare.sh --cpu-baseline;
#   2. the same with `--mode finetune` (on shards the frozen trunk runs on the fly);
#   3. a StreetCLIP-sized (ViT-L/14-336) random-weight forward/backward at batch 64 in bf16, eager;
#   4. the same under torch.compile;
#   5. GeoCLIP-sized predict latency (ViT-L/14 224 + 100k gallery + the per-place answer), fp32 and bf16.
# Nothing is downloaded: ../shared does not travel, so the shards come from $GEOLOC_DEVICE_DATA
# (default data/device_check, git-ignored), with wheels of the packages the device image lacks.
# Output: $OUT (the device tool's folder; else runs/device_check): table.md, results.json, logs.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${GEOLOC_DEVICE_DATA:-data/device_check}
RES=${OUT:-runs/device_check}
WORK=${GEOLOC_DEVICE_WORK:-/tmp/geoloc-device-check}
PY=${PY:-python3}
TINY=0
COMPILE=1
for a in "$@"; do
  case "$a" in
    --cpu-tiny) TINY=1 ;;
    --no-compile) COMPILE=0 ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done
if [ ! -f "$DATA/shards/index.json" ]; then
  echo "error: no shards in $DATA/shards: run 'bash benchmarks/device_prepare.sh' where ../shared is, and carry $DATA" >&2
  exit 2
fi
rm -rf "$WORK"
mkdir -p "$RES" "$WORK"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if ! $PY -c "import webdataset, pycountry, efficientnet_lite_pytorch" 2>/dev/null; then
  if ls "$DATA"/wheels/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
      "$DATA"/wheels/*.whl || { echo "error: the carried wheels did not install" >&2; exit 2; }
    export PYTHONPATH="$PYTHONPATH:$WORK/site"
  else
    echo "error: webdataset/pycountry/efficientnet_lite_pytorch missing and no wheels in $DATA/wheels" >&2
    exit 2
  fi
fi
DEVICE_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
[ $TINY = 1 ] && DEVICE_NAME="CPU ($(nproc) cores), --cpu-tiny sizes"
{ echo "device: ${DEVICE_NAME:-unknown}"; $PY -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } >"$WORK/env.log" 2>&1
cat "$WORK/env.log" >&2

step() {  # step NAME SECONDS COMMAND...: runs it, writes NAME.log and NAME.status ("ok" or why not)
  local name=$1 limit=$2 t0 rc
  shift 2
  t0=$(date +%s)
  echo "== $name (at most ${limit} s)" >&2
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.log" 2>&1
  rc=$?
  if [ $rc = 0 ]; then
    echo ok >"$WORK/$name.status"
  elif [ $rc = 124 ]; then
    echo "timed out after ${limit} s" >"$WORK/$name.status"
  else
    echo "exit $rc: $(grep -v '^\s*$' "$WORK/$name.log" | tail -n 1 | cut -c1-160)" >"$WORK/$name.status"
  fi
  echo "   $(cat "$WORK/$name.status") ($(( $(date +%s) - t0 )) s)" >&2
}

if [ $TINY = 1 ]; then
  TRAIN_RT=(--device cpu --precision bf16 --workers 2 --batch-size 16 --input-size 64 --max-locations 12)
  VIT=(--tiny --batch 4 --steps 2 --warmup 1 --device cpu)
  GEO=(--tiny --n 3 --device cpu)
else
  TRAIN_RT=(--device cuda --precision bf16 --workers 8 --batch-size 64)
  VIT=(--batch 64 --steps 10 --warmup 3 --precision bf16 --device cuda)
  GEO=(--n 30 --device cuda)
fi
TRAIN=(--data "$DATA/shards" --backbone efficientnet_lite2 --no-pretrained --epochs 1 --no-eval --no-gallery
       --log-dir none --seed 0 "${TRAIN_RT[@]}")

step full 90 $PY -m model.train "${TRAIN[@]}" --mode full --out "$WORK/full"
step finetune 90 $PY -m model.train "${TRAIN[@]}" --mode finetune --out "$WORK/finetune"
step vit_eager 60 $PY benchmarks/device/vit_step.py "${VIT[@]}" --json "$WORK/vit_eager.json"
if [ $COMPILE = 1 ]; then
  step vit_compile 150 $PY benchmarks/device/vit_step.py "${VIT[@]}" --compile --json "$WORK/vit_compile.json"
else
  echo "skipped (--no-compile)" >"$WORK/vit_compile.status"
fi
step geoclip 60 $PY benchmarks/device/geoclip_latency.py "${GEO[@]}" --json "$WORK/geoclip.json"

CPU_REF=()
[ -f "$DATA/cpu_baseline.json" ] && CPU_REF=(--cpu "$DATA/cpu_baseline.json")
$PY benchmarks/device/table.py "$WORK" "${CPU_REF[@]}" --device "${DEVICE_NAME:-unknown}"
cp "$WORK/table.md" "$WORK/results.json" "$RES/"
for f in "$WORK"/*.status "$WORK"/*.log; do echo "---- $(basename "$f")"; tail -n 40 "$f"; done >"$RES/logs.txt" 2>&1
