#!/usr/bin/env bash
# Installs mmvc into .venv and runs the main job end to end on the bundled sample
# (examples/sample: images, audio tones and captions), offline, in a scratch copy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh >/dev/null
MMVC="$PWD/.venv/bin/mmvc"
work=${1:-$(mktemp -d)/sample}
rm -rf "$work" && mkdir -p "$(dirname "$work")" && cp -r examples/sample "$work"
cd "$work"
echo "== sample copied to $work"
set -x
"$MMVC" init
# Offline run: text embeddings come from the bundled MiniLM; no CLIP model ships with mmvc,
# so the clip family is turned off explicitly (status, the commit and the report record it).
"$MMVC" config process.families.clip false
"$MMVC" add images text 'audio/*.wav'
"$MMVC" status
"$MMVC" process
"$MMVC" status
"$MMVC" report
"$MMVC" commit -m "sample v1: images, captions, tones"
echo "A fourth tone, added later." > text/e659.txt
"$MMVC" add text
"$MMVC" process
"$MMVC" commit -m "caption for e659"
"$MMVC" log --oneline
"$MMVC" show
"$MMVC" ls-files -l HEAD
"$MMVC" status
# What the version is good for downstream: the catalog, a datasheet, a recipe and its shards.
"$MMVC" search "waves on the sea" -k 3
"$MMVC" query --where "modality = 'image'" --columns key,width,height,status
"$MMVC" lineage text/ocean.txt
"$MMVC" datasheet -o datasheet
"$MMVC" recipe create sample-train --seed 7
"$MMVC" export --webdataset shards/ --recipe sample-train --shard-items 8
"$(dirname "$MMVC")/python" -c "
import webdataset as wds
n = sum(1 for _ in wds.WebDataset('shards/shard-{000000..000001}.tar', shardshuffle=False, empty_check=False))
print(f'webdataset read back {n} samples')"
