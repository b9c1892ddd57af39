#!/usr/bin/env bash
# Makes models/vla, the committed VLA adapter, from nothing but this repository: demonstrations
# collected in the tabletop world, annotated by rules, built into the SFT set, LoRA-trained on
# models/base with the `vla` recipe, then measured (action outputs per stage, held-out VQA retention,
# closed-loop success) and written with its model card.
#
#   bash scripts/make-vla.sh [WORK_DIR]     (default WORK_DIR: runs/make-vla)
#
# Every step is resumable: rerun the same command after an interruption and finished steps are kept.
# SIM_EPISODES (default 50 per task family) and OOD_EPISODES (default 20 per suite) set the
# closed-loop evaluation's size.
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-runs/make-vla}"
SIM_EPISODES="${SIM_EPISODES:-50}"
OOD_EPISODES="${OOD_EPISODES:-20}"
V="node bin/vlm2vla.mjs"
mkdir -p "$W"
step() { echo; echo "== $*"; }

step "1/8 collect 200 demonstrations (pick, pick-place), seed 0"
$V sim collect --tasks pick,pick-place --episodes 200 --seed 0 --out "$W/episodes"
step "2/8 annotate (rules)"
$V annotate --in "$W/episodes" --out "$W/ann"
step "3/8 build the SFT set (list actions, full reasoning)"
[ -f "$W/sft/build_info.json" ] || $V build --annotations "$W/ann" --episodes "$W/episodes" --out "$W/sft"
step "4/8 train: LoRA, the vla recipe"
if [ -f "$W/run/run.json" ]; then echo "done: $W/run"; elif [ -d "$W/run/checkpoints" ]; then $V train --preset vla --model models/base --data "$W/sft" --out "$W/run" --resume; else $V train --preset vla --model models/base --data "$W/sft" --out "$W/run"; fi
step "5/8 action outputs per stage on the validation episodes"
[ -f "$W/actions.json" ] || $V eval actions --model models/base --adapter "$W/run" --data "$W/sft" --out "$W/actions.json"
step "6/8 held-out VQA retention against models/base"
[ -f "$W/vqa.json" ] || $V eval vqa --model models/base --adapter "$W/run" --baseline models/base --out "$W/vqa.json"
step "7/8 closed loop: $SIM_EPISODES episodes per task family in distribution, $OOD_EPISODES per out-of-distribution suite"
for fam in pick pick-place; do
  $V eval sim --model models/base --adapter "$W/run" --greedy --tasks "$fam" --episodes "$SIM_EPISODES" --workers 2 --out "$W/sim-$fam"
done
$V eval sim --model models/base --adapter "$W/run" --greedy --tasks pick,pick-place --suite multilingual,unseen-objects,semantic --episodes "$OOD_EPISODES" --workers 2 --out "$W/sim-ood"
step "8/8 models/vla: the adapter and its model card"
node --import tsx scripts/vla-card.ts "$W" models/vla
