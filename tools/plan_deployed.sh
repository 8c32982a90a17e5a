#!/usr/bin/env bash
# Plans an environment's app stack with the image tags that run now (read
# from the deployed stack's outputs), read-only (-lock=false), and writes the
# plan summary to plan-summary.md. For pull requests and drift detection: a
# plan that changes images would be noise there.
#   tools/plan_deployed.sh ENV [-detailed-exitcode]
# Exit: tofu plan's own (with -detailed-exitcode, 2 means changes: drift).
set -uo pipefail
env_name="$1"; shift
stack=$(.venv/bin/python -m tools.ci_plan "$env_name" stack) || exit 1
tofu -chdir="$stack" init -input=false || exit 1
tofu -chdir="$stack" output -json > "$stack/deployed-outputs.json" || exit 1
# Notes (an image not deployed yet, a service removed) go to the log and the summary.
.venv/bin/python -m tools.ci_plan "$env_name" deployed-tfvars "$stack/deployed-outputs.json" > "$stack/deployed.auto.tfvars.json" 2> "$stack/deployed-notes.txt"
tfvars_status=$?
cat "$stack/deployed-notes.txt" >&2
case $tfvars_status in
  0) ;;
  3) printf '### Plan of `%s`\n\nNot deployed yet: nothing runs to compare with.\n' "$(basename "$stack")" > plan-summary.md; exit 0 ;;
  *) exit 1 ;;
esac
tofu -chdir="$stack" plan -input=false -lock=false "$@" -out=deployed.tfplan
status=$?
if [ "$status" -ne 1 ]; then
  tofu -chdir="$stack" show -json deployed.tfplan > "$stack/plan.json" || exit 1
  .venv/bin/python -m tools.plan_summary "$stack/plan.json" "$(basename "$stack")" > plan-summary.md || exit 1
  if [ -s "$stack/deployed-notes.txt" ]; then
    { echo; sed 's/^note: /> **Note:** /' "$stack/deployed-notes.txt"; } >> plan-summary.md
  fi
fi
exit "$status"
