#!/usr/bin/env bash
# Build, where ../shared/geodata is, what benchmarks/device_check.sh needs on a bare device machine:
#
#   bash benchmarks/device_prepare.sh [--cpu-baseline] [--data MANIFEST] [--budget-mib 14]
#
# into $GEOLOC_DEVICE_DATA (default data/device_check, git-ignored; never committed):
#   shards/            WebDataset shards of a small subset of the shared set (whole places, splits kept,
#                      about --budget-mib MiB of images (14 by default); 64 samples a shard, so 8 loader workers all read)
#   wheels/            wheels (Python 3.12, x86-64) of the packages the device image lacks
#   subset.csv         the subset's manifest (paths into ../shared; not needed on the device)
#   cpu_baseline.json  with --cpu-baseline: the device check's training steps and GeoCLIP-sized predict
#                      timed on this CPU on the same shards, the table's CPU reference (a few minutes)
# The working tree plus this folder must stay under the device tool's 64 MiB; the sizes are printed.
# Then, with a device: run(command="bash benchmarks/device_check.sh", carry=["data/device_check"]).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SRC=../shared/geodata/manifest.csv
BUDGET=14
BASELINE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-baseline) BASELINE=1 ;;
    --data) SRC=$2; shift ;;
    --budget-mib) BUDGET=$2; shift ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
D=${GEOLOC_DEVICE_DATA:-data/device_check}
[ -f "$SRC" ] || { echo "error: no manifest at $SRC (the shared set is not beside this checkout)" >&2; exit 2; }
rm -rf "$D/shards" "$D/wheels" "$D/subset.csv" "$D/cpu_baseline.json"
mkdir -p "$D"

$PY benchmarks/device/subset.py --data "$SRC" --out "$D/subset.csv" --budget-mib "$BUDGET"
$PY -m model.shards write --data "$D/subset.csv" --out "$D/shards" --shard-size 64 --workers 2 >/dev/null
$PY -m model.shards verify "$D/shards" --no-decode

# the versions this checkout runs with, for CPython 3.12 on x86-64 (the device image's python3)
PKGS=$($PY -c "import importlib.metadata as m; print(' '.join(f'{n}=={m.version(n)}' for n in
  ('webdataset', 'braceexpand', 'pycountry', 'efficientnet-lite-pytorch')))")
# shellcheck disable=SC2086
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$D/wheels" $PKGS 2>&1 | { grep -v "^WARNING: Location" >&2 || true; }

if [ $BASELINE = 1 ]; then
  B=$(mktemp -d)
  COMMON=(--data "$D/shards" --backbone efficientnet_lite2 --no-pretrained --epochs 1 --no-eval --no-gallery
          --log-dir none --seed 0 --device cpu --precision bf16 --workers 0 --batch-size 16 --max-locations 40)
  echo "CPU baseline: --mode full, --mode finetune (40 places), GeoCLIP-sized predict (fp32) ..." >&2
  $PY -m model.train "${COMMON[@]}" --mode full --out "$B/full" >"$B/full.log" 2>&1
  $PY -m model.train "${COMMON[@]}" --mode finetune --out "$B/finetune" >"$B/finetune.log" 2>&1
  $PY benchmarks/device/geoclip_latency.py --n 3 --precisions fp32 --device cpu --json "$B/geoclip.json" >/dev/null
  $PY - "$B" "$D/cpu_baseline.json" <<'EOF'
import json, os, sys
import torch
b, out = sys.argv[1], sys.argv[2]
ep = lambda m: json.load(open(f"{b}/{m}/metrics.json"))["epochs"][0]["train_images_per_s"]
g = json.load(open(f"{b}/geoclip.json"))["fp32"]
load = os.getloadavg()[0]
res = {"full": ep("full"), "finetune": ep("finetune"), "geoclip_fp32_p50_ms": g["p50_ms"],
       "machine": f"{os.cpu_count()}-core CPU, load {load:.1f}",
       "train_setting": "efficientnet_lite2 at 260 px, random init, bf16, batch 16, 0 workers, 40 places",
       "data": "data/device_check/shards (40 places for the CPU runs)", "torch": torch.__version__}
json.dump(res, open(out, "w"), indent=2)
print(json.dumps(res))
EOF
  rm -rf "$B"
fi
for p in "$D/shards" "$D/wheels"; do du -sh "$p" >&2; done
echo "carry: data/device_check ($(du -sm "$D" | cut -f1) MiB); the working tree must stay under 64 MiB with it" >&2
