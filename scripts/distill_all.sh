#!/usr/bin/env bash
# Reproduce the bundled models and the ablation data after the base teacher (docs/distill.md).
#   bash scripts/distill_all.sh experts    # typography and editing experts from the bundled base
#   bash scripts/distill_all.sh students   # banks, the five recipes, every checkpoint evaluated beside
#   bash scripts/distill_all.sh evaluate   # bundled measurement (teacher full / 4 steps / student)
# The base teacher comes first:
#   python -m distill teacher --config distill/configs/teacher-base-stage3.yaml
#   python -m distill.bundle distill/runs/teacher-base-stage3/<last> distill/models/teacher-base
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RECIPES=(default ablate-clean ablate-single ablate-t2i ablate-edit)
SWEEPS=distill/results/sweeps
mkdir -p distill/runs

last_ckpt() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]+'/done.json'))['last'])" "$1"; }

case "${1:-}" in
experts)
  for t in typo edit; do
    "$PY" -m distill teacher --config distill/configs/teacher-$t.yaml > distill/runs/teacher-$t.log 2>&1 &
  done
  wait
  for t in typo edit; do
    "$PY" -m distill.bundle "distill/runs/teacher-$t/$(last_ckpt distill/runs/teacher-$t)" distill/models/teacher-$t
  done
  ;;
students)
  # Teacher trajectories once per teacher (shared by all recipes: pool keys are prefixes).
  for t in base typo edit; do
    "$PY" -m distill bank --recipe distill/recipes/default.yaml --teacher $t > distill/runs/bank-$t.log 2>&1 &
  done
  wait
  for r in "${RECIPES[@]}"; do
    rm -rf "distill/runs/student-$r" "$SWEEPS/typo-$r" "$SWEEPS/edit-$r"
    "$PY" -m distill train --recipe distill/recipes/$r.yaml > distill/runs/student-$r.log 2>&1 &
  done
  # Every checkpoint evaluated beside training, each sweep in its own process (--watch). The
  # teacher is rendered once (typo-default/teacher) and copied to the other sweeps: same pack,
  # same teacher, so the same run directory.
  sweep() {  # sweep RECIPE PACK PREFIX [--watch]
    "$PY" -m evalsuite.cli.sweep "distill/runs/student-$1" --pack "$2" --tags quick \
      --teacher distill/models/teacher-base --batch-size 16 --no-progress "${@:4}" \
      --sweep-dir "$SWEEPS/$3-$1" >> "distill/runs/sweep-$3-$1.log" 2>&1
  }
  sweep default typography-mini typo --watch &
  until [[ -f "$SWEEPS/typo-default/teacher/summary.json" ]]; do sleep 10; done
  for r in "${RECIPES[@]:1}"; do
    mkdir -p "$SWEEPS/typo-$r" && cp -r "$SWEEPS/typo-default/teacher" "$SWEEPS/typo-$r/"
    sweep "$r" typography-mini typo --watch &
  done
  wait
  # The edit side of the task-mixture factor: every checkpoint of the three task recipes on edit-mini.
  sweep default edit-mini edit
  for r in ablate-t2i ablate-edit; do
    mkdir -p "$SWEEPS/edit-$r" && cp -r "$SWEEPS/edit-default/teacher" "$SWEEPS/edit-$r/"
    sweep "$r" edit-mini edit &
  done
  wait
  mkdir -p distill/results/train-logs
  for r in "${RECIPES[@]}"; do
    cp "distill/runs/student-$r/train_log.jsonl" "distill/results/train-logs/student-$r.jsonl"
  done
  "$PY" -m distill.ablations --sweeps "$SWEEPS" --prefix typo
  "$PY" -m distill.ablations --sweeps "$SWEEPS" --prefix edit
  "$PY" - "${RECIPES[@]}" <<'PYEOF' | tee distill/results/overhead.json
import json, sys
from pathlib import Path
from distill.overhead import overhead
print(json.dumps({r: overhead(Path(f"distill/runs/student-{r}"), Path(f"distill/results/sweeps/typo-{r}"))
                  for r in sys.argv[1:]}, indent=2))
PYEOF
  ;;
evaluate)
  OUT=distill/results/bundled
  rm -rf "$OUT"
  "$PY" -m distill.evaluate_bundled --only teacher-full
  for role in teacher-4 teacher-4-nocfg student; do
    "$PY" -m distill.evaluate_bundled --only $role > "distill/runs/eval-$role.log" 2>&1 &
  done
  DEF="distill/runs/student-default/$(last_ckpt distill/runs/student-default)"
  "$PY" -m distill.evaluate_bundled --only student-default-recipe --extra "student-default-recipe=$DEF" \
    > distill/runs/eval-student-default-recipe.log 2>&1 &
  wait
  "$PY" -m distill.evaluate_bundled --report --latency --extra "student-default-recipe=$DEF"
  ;;
*)
  echo "usage: $0 experts|students|evaluate" >&2; exit 2 ;;
esac
