#!/usr/bin/env bash
# The daily drift check of one environment, read-only (the planner's plans,
# -lock=false), from a checkout of main after `make synth`:
#   - app-ENV is planned at the infrastructure commit its last deploy recorded,
#     with the images and rollout that run: a change there is drift. What main
#     merged since is "merged, not deployed" (its commits and the plan of main
#     are shown), not drift.
#   - bootstrap-ENV, when its state is in the bucket, is planned from main: the
#     admin applies the bootstrap by hand and no commit is recorded, so a change
#     there is drift or a merged change the admin has not applied yet.
# Writes drift-report.md (Markdown) at the root.
#   tools/drift_check.sh ENV
# Exit: 0 no drift, 2 drift, 1 the check itself failed.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: tools/drift_check.sh ENV" >&2; exit 1; }
env_name="$1"
root=$PWD
# The deployed commit's tree synthesizes into its own cdktf.out.
worktree_outdir=cdktf.out
report="$root/drift-report.md"
python="$root/.venv/bin/python"
drift=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A path from `ci_plan ... stack`: relative to the checkout, unless CDKTF_OUTDIR is absolute.
in_tree() { case "$2" in /*) echo "$2" ;; *) echo "$1/$2" ;; esac; }
fail() { echo "error: drift_check: $*" >&2; exit 1; }

{ echo "## Drift check of \`$env_name\`"; echo; } > "$report"

# plan_stack ROOT STACK: plan with -detailed-exitcode, the summary appended to the report.
plan_stack() {
  local dir="$1" stack status
  stack=$(in_tree "$1" "$2")
  tofu -chdir="$stack" init -input=false >&2 || return 1
  tofu -chdir="$stack" plan -input=false -lock=false -detailed-exitcode -out=drift.tfplan >&2
  status=$?
  case $status in 0|2) ;; *) return 1 ;; esac
  tofu -chdir="$stack" show -json drift.tfplan > "$stack/plan.json" || return 1
  (cd "$dir" && "$python" -m tools.plan_summary "$stack/plan.json" "$(basename "$stack")") >> "$report" || return 1
  return "$status"
}

# The bootstrap, from main.
if bootstrap=$("$python" -m tools.ci_plan "$env_name" bootstrap-stack 2> "$scratch/bootstrap-note"); then
  plan_stack "$root" "$bootstrap"
  case $? in
    0) ;;
    2) drift=2; printf '\n> **Note:** the admin applies `%s` by hand, so this is drift, or a change merged to main that an admin has not applied yet (README, "Respond to drift").\n\n' "$(basename "$bootstrap")" >> "$report" ;;
    *) fail "the plan of $bootstrap failed" ;;
  esac
else
  [ $? -eq 3 ] || fail "$(cat "$scratch/bootstrap-note")"
  { printf '> **Note:** '; sed 's/^error: ci_plan: //' "$scratch/bootstrap-note"; echo; } >> "$report"
fi

# The app stack from main: what runs is read from its state (outputs).
rm -f plan-summary.md
tools/plan_deployed.sh "$env_name" -detailed-exitcode
main_status=$?
case $main_status in 0|2) ;; *) fail "the plan of app-$env_name at main failed" ;; esac
stack=$("$python" -m tools.ci_plan "$env_name" stack) || exit 1
outputs=$(in_tree "$root" "$stack")/deployed-outputs.json
"$python" -m tools.ci_plan "$env_name" deployed-tfvars "$outputs" > /dev/null 2>&1
if [ $? -eq 3 ]; then
  cat plan-summary.md >> "$report"   # never deployed: nothing runs to compare with
  exit "$drift"
fi
recorded=$("$python" -m tools.ci_plan "$env_name" deployed-commit "$outputs") || exit 1
head=$(git rev-parse HEAD) || fail "not a git checkout"
deployed=""
if [ -n "$recorded" ]; then
  deployed=$(git rev-parse --verify -q "$recorded^{commit}") || deployed=""
fi

if [ -z "$deployed" ] || [ "$deployed" = "$head" ]; then
  cat plan-summary.md >> "$report"
  if [ -z "$recorded" ]; then
    printf '\n> **Note:** the last deploy recorded no infrastructure commit, so main was planned: a change merged and not deployed yet shows here as drift.\n' >> "$report"
  elif [ -z "$deployed" ]; then
    printf '\n> **Note:** the deployed infrastructure commit %s is not in this history, so main was planned: a change merged and not deployed yet shows here as drift.\n' "$recorded" >> "$report"
  fi
  [ "$main_status" -eq 0 ] || drift=2
  exit "$drift"
fi

# What main merged since the deploy: shown, not drift.
cp plan-summary.md "$scratch/main-plan-summary.md"
worktree=$scratch/deployed
git worktree add --detach -q "$worktree" "$deployed" >&2 || fail "cannot check out $deployed"
trap 'git worktree remove --force "$worktree" >/dev/null 2>&1; rm -rf "$scratch"; git worktree prune' EXIT
# Same locked packages: synthesize with this checkout's environment, else install the deployed commit's.
if cmp -s Pipfile.lock "$worktree/Pipfile.lock"; then
  (cd "$worktree" && CDKTF_OUTDIR=$worktree_outdir "$python" main.py >&2) || fail "cannot synthesize $deployed"
  ln -s "$root/.venv" "$worktree/.venv"
else
  CDKTF_OUTDIR=$worktree_outdir make -C "$worktree" synth >&2 || fail "cannot synthesize $deployed"
fi
(cd "$worktree" && CDKTF_OUTDIR=$worktree_outdir tools/plan_deployed.sh "$env_name" -detailed-exitcode)
deployed_status=$?
case $deployed_status in 0|2) ;; *) fail "the plan of app-$env_name at the deployed commit $deployed failed" ;; esac
cat "$worktree/plan-summary.md" >> "$report"
[ "$deployed_status" -eq 0 ] || drift=2
{
  echo
  echo "### Merged, not deployed (not drift)"
  echo
  if git merge-base --is-ancestor "$deployed" "$head"; then
    echo "\`$env_name\` runs infrastructure commit \`$deployed\`; main is at \`$head\`, $(git rev-list --count "$deployed..$head") commit(s) later:"
    echo
    git log --format='- %h %s' -n 20 "$deployed..$head"
  else
    echo "\`$env_name\` runs infrastructure commit \`$deployed\`, which is not in main's history (deployed from another branch?); main is at \`$head\`."
  fi
  echo
  if [ "$main_status" -eq 2 ]; then
    echo "The next deploy of \`$env_name\` applies these changes:"
    echo
    sed 's/^###/####/' "$scratch/main-plan-summary.md"
  else
    echo "They change nothing in \`$env_name\`'s app stack."
  fi
} >> "$report"
exit "$drift"
