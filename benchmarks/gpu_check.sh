#!/usr/bin/env bash
# The real-GPU check of `devlint confirm`: every fixture (fixtures/buggy, fixtures/clean)
# under `--device cuda` and under `--device emulated`, the two halves in parallel, then a
# per-finding comparison of the verdict, the exception type, the pair of devices and the
# operation (benchmarks/gpu_check.py).  Exit status: 0 when the halves agree, 1 when they
# disagree, 2 when something could not run.  The table goes to stdout and to $OUT/table.md.
#
# The GPU machine this project is lent has one CUDA GPU, Python 3.12, torch 2.11, click,
# pytest and PyYAML, no libcst, and reaches no package index: the check installs devlint
# and libcst from wheels it brings, in benchmarks/gpu_wheels/ (ignored by git: the folder
# holds its own .gitignore).  Three uses:
#
#   benchmarks/gpu_check.sh prepare
#       Here, with a network: build devlint's wheel from this checkout and download
#       libcst's (and PyYAML's) for CPython 3.12 on manylinux x86_64 into
#       benchmarks/gpu_wheels/.  Run it again after changing src/ (the check refuses a
#       wheel older than the source).
#   benchmarks/gpu_check.sh [--out DIR]
#       There, from the repository root, with benchmarks/gpu_wheels carried along (the
#       device tool: command `bash benchmarks/gpu_check.sh --out $OUT`, carry
#       ["benchmarks/gpu_wheels"], timeout_s 420).  Installs the wheels into a temporary
#       folder (pip --no-index --no-deps --target), then runs both halves.
#   benchmarks/gpu_check.sh --dry [--out DIR] [--only NAME ...]
#       Anywhere, without a GPU and without the wheels (devlint importable as it is): the
#       emulated half, compared with a synthetic CUDA half made of it (must agree), and
#       with a perturbed one (must disagree): checks the procedure and the comparison.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WHEELS="${DEVLINT_GPU_WHEELS:-$ROOT/benchmarks/gpu_wheels}"
PY="${PYTHON:-python3}"
LIMIT="${GPU_CHECK_LIMIT:-280}"  # seconds for each half; both run at once, within 5 minutes
JOBS="${GPU_CHECK_JOBS:-7}"  # processes per half: 16 cores on the lent machine

source_hash() {
    (cd "$ROOT" && find src -name '*.py' -o -name '*.toml' -o -name '*.yaml' | LC_ALL=C sort \
        | xargs cat pyproject.toml | sha256sum | cut -d' ' -f1)
}

if [ "${1:-}" = "prepare" ]; then
    set -e
    mkdir -p "$WHEELS"
    printf '*\n' > "$WHEELS/.gitignore"
    rm -f "$WHEELS"/*.whl
    "$PY" -m pip wheel --quiet --no-deps --wheel-dir "$WHEELS" "$ROOT"
    # libcst and PyYAML for CPython 3.12, manylinux x86_64 (pip matches the platform tags
    # exactly: several are named).  click is already there; tomli is for Python < 3.11.
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" "libcst==${LIBCST_VERSION:-1.9.0}" "pyyaml==${PYYAML_VERSION:-6.0.3}"
    source_hash > "$WHEELS/SOURCE_HASH"
    ls -l "$WHEELS"
    exit 0
fi

DRY=0
OUT="${OUT:-/tmp/devlint-gpu-check}"
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry) DRY=1 ;;
        --out) OUT="$2"; shift ;;
        --only) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do ONLY+=("$1"); shift; done; continue ;;
        *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"
cd "$ROOT" || exit 2
ONLY_ARGS=()
if [ ${#ONLY[@]} -gt 0 ]; then ONLY_ARGS=(--only "${ONLY[@]}"); fi

if [ "$DRY" = 0 ]; then
    if ! ls "$WHEELS"/devlint-*.whl >/dev/null 2>&1; then
        echo "gpu_check.sh: no wheels in $WHEELS: run 'benchmarks/gpu_check.sh prepare' first" >&2
        exit 2
    fi
    if [ -f "$WHEELS/SOURCE_HASH" ] && [ "$(cat "$WHEELS/SOURCE_HASH")" != "$(source_hash)" ]; then
        echo "gpu_check.sh: the devlint wheel is older than src/: run prepare again" >&2
        exit 2
    fi
    SITE="$(mktemp -d /tmp/devlint-site.XXXXXX)"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
        "$WHEELS"/*.whl || exit 2
    export PYTHONPATH="$SITE"
    "$PY" -c 'import torch, sys; ok = torch.cuda.is_available(); print("torch", torch.__version__, "cuda", ok, torch.cuda.get_device_name(0) if ok else ""); sys.exit(0 if ok else 2)' || {
        echo "gpu_check.sh: torch sees no CUDA device here" >&2; exit 2; }
else
    export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c 'import devlint, libcst; print("devlint from", devlint.__file__)' || exit 2

half() {  # device, output file
    timeout "$LIMIT" "$PY" benchmarks/gpu_check.py half --device "$1" --out "$2" \
        --jobs "$JOBS" "${ONLY_ARGS[@]}" > "$OUT/$1.log" 2>&1
}

started=$(date +%s)
if [ "$DRY" = 0 ]; then
    half cuda "$OUT/cuda.json" & cuda_pid=$!
    half emulated "$OUT/emulated.json" & emulated_pid=$!
    wait $cuda_pid; cuda_rc=$?
    wait $emulated_pid; emulated_rc=$?
else
    half emulated "$OUT/emulated.json"; emulated_rc=$?; cuda_rc=0
fi
echo "halves done in $(( $(date +%s) - started )) s (cuda: $cuda_rc, emulated: $emulated_rc;" \
    "124 is the ${LIMIT} s limit)"
if [ "$cuda_rc" != 0 ] || [ "$emulated_rc" != 0 ]; then
    tail -n 40 "$OUT"/*.log >&2
    exit 2
fi
if [ "$DRY" = 1 ]; then
    "$PY" benchmarks/gpu_check.py synthetic "$OUT/emulated.json" --out "$OUT/cuda.json" || exit 2
    "$PY" benchmarks/gpu_check.py synthetic "$OUT/emulated.json" --perturb \
        --out "$OUT/cuda-perturbed.json" || exit 2
fi
"$PY" benchmarks/gpu_check.py compare "$OUT/cuda.json" "$OUT/emulated.json" --table "$OUT/table.md"
rc=$?
if [ "$DRY" = 1 ]; then
    if "$PY" benchmarks/gpu_check.py compare "$OUT/cuda-perturbed.json" "$OUT/emulated.json" \
        > "$OUT/perturbed.md"; then
        echo "gpu_check.sh --dry: a perturbed CUDA half was not caught" >&2
        exit 1
    fi
    echo "dry run: the emulated half agrees with itself and a perturbed half is caught"
fi
exit $rc
