#!/usr/bin/env bash
# Reproduce the bundled models and every number in docs/distill.md.
#   bash scripts/distill_all.sh teacher    # stage-6 base teacher (char-aware, letter-free layout), bundled
#   bash scripts/distill_all.sh students   # bank, the four recipes, every checkpoint swept on the
#                                          # selection seeds (typography-mini-select) beside the
#                                          # same-cost baselines, factor table, bundled student chosen
#   bash scripts/distill_all.sh evaluate   # bundled measurement on typography-mini (seeds 0-3, not
#                                          # used for choosing) + the teacher on held-out words
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RECIPES=(default score ablate-clean ablate-budget)
SWEEPS=distill/results/sweeps
SELECT=typography-mini-select
mkdir -p distill/runs

last_ckpt() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]+'/done.json'))['last'])" "$1"; }

case "${1:-}" in
teacher)
  "$PY" -m distill teacher --config distill/configs/teacher-base-stage6.yaml > distill/runs/teacher-base-stage6.log 2>&1
  "$PY" -m distill.bundle "distill/runs/teacher-base-stage6/$(last_ckpt distill/runs/teacher-base-stage6)" distill/models/teacher-base
  ;;
students)
  "$PY" -m distill bank --recipe distill/recipes/default.yaml > distill/runs/bank-base.log 2>&1
  for r in "${RECIPES[@]}"; do
    rm -rf "distill/runs/student-$r"
    "$PY" -m distill train --recipe distill/recipes/$r.yaml > distill/runs/student-$r.log 2>&1
  done
  # Baselines on the selection seeds, rendered once: the teacher at full steps (the sweeps'
  # --teacher), at 4 NFE without CFG (same cost) and at 4 steps with CFG.
  "$PY" -m distill.sweeps baselines --pack "$SELECT" --out "$SWEEPS/baselines"
  for r in "${RECIPES[@]}"; do
    rm -rf "$SWEEPS/$r"
    mkdir -p "$SWEEPS/$r" && cp -r "$SWEEPS/baselines/teacher" "$SWEEPS/$r/"
    "$PY" -m evalsuite.cli.sweep "distill/runs/student-$r" --pack "$SELECT" --tags quick \
      --teacher distill/models/teacher-base --batch-size 16 --no-progress \
      --judge-opt ocr.casefold=false --judge-opt ocr.punctuation=keep \
      --sweep-dir "$SWEEPS/$r" > "distill/runs/sweep-$r.log" 2>&1
    mkdir -p distill/results/train-logs
    cp "distill/runs/student-$r/train_log.jsonl" "distill/results/train-logs/student-$r.jsonl"
  done
  # Factor table (each recipe's final checkpoint vs default, and every checkpoint vs the same-cost
  # teacher, case-clustered CIs) and the choice of the bundled student on these seeds.
  "$PY" -m distill.sweeps report --sweeps "$SWEEPS" --select distill/models/student
  ;;
evaluate)
  OUT=distill/results/bundled
  rm -rf "$OUT" distill/results/heldout
  "$PY" -m distill.evaluate_bundled --only teacher-full
  for role in teacher-4 teacher-4-nocfg student student-step0; do
    "$PY" -m distill.evaluate_bundled --only $role > "distill/runs/eval-$role.log" 2>&1
  done
  "$PY" -m distill.evaluate_bundled --report --latency
  # The teacher on words it never trained on (strict OCR), and its trained-word rate beside it.
  "$PY" -m distill.evaluate_bundled --pack typography-heldout --out distill/results/heldout --only teacher-full
  "$PY" -m distill.evaluate_bundled --pack typography-heldout --out distill/results/heldout --report
  ;;
*)
  echo "usage: $0 teacher|students|evaluate" >&2; exit 2 ;;
esac
