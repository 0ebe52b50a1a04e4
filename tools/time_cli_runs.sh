#!/usr/bin/env bash
# First and second `transfer-tutorial run --strategy features` on the same data, with a fresh feature cache:
# wall time and peak memory of each (GNU time). Usage: tools/time_cli_runs.sh DATA_DIR WEIGHTS_FILE [OUT_DIR]
set -euo pipefail
data=$1; weights=$2; out=${3:-runs/cli_timing}
rm -rf "$out"; mkdir -p "$out"
export TRANSFER_TUTORIAL_FEATURE_CACHE="$PWD/$out/feature_cache"
for run in first second; do
    /usr/bin/time -f "$run run: %e s wall, %M KB peak RSS" -o "$out/$run.time" \
        transfer-tutorial run --data "$data" --backbone mobilenet_v2 --weights "$weights" --strategy features \
        --out "$out/$run" > "$out/$run.log" 2>&1
    cat "$out/$run.time"
done
tail -8 "$out/second.log"
