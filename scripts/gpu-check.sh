#!/usr/bin/env bash
# The one prepared check for a lent GPU machine (an H200, sm_90). It configures and builds
# Release for sm_90 in build/gpu, runs every case of the gpu suite one process at a time (a
# sticky CUDA error in one case cannot fail the next), runs the recolor program on CUDA (the
# reference training, quick preset, on the potato images for 2 epochs: a fixed 2 steps per
# image, with its rate in images/s; then scoring them on CUDA and on the CPU and comparing the
# two scores.csv), runs every CUDA benchmark present (bench/*cuda*), then the whole suite under
# compute-sanitizer memcheck where that exists, and prints a table of step / result / seconds
# last. A step that fails, times out or is missing is recorded in the table and the script
# goes on. Each step's timeout is cut to what is left of a 450 s budget, so the whole run ends
# within 8 minutes.
#
# Full log: $OUT/gpu-check.log when OUT is set, else build/gpu-check.log; benchmark results as
# JSON beside it. Exit status 0 when no step failed.
# Usage: scripts/gpu-check.sh   (GPU_CHECK_BUDGET=seconds changes the budget; GPU_CHECK_BUILD
# and GPU_CHECK_JOBS the build folder and the build's parallel jobs, for a dry run elsewhere;
# GPU_CHECK_DATA the data folder, else shared/data in the checkout, else ../shared/data: the
# device machine gets the checkout alone, so the images must travel inside it)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

build=${GPU_CHECK_BUILD:-build/gpu}
out_dir=${OUT:-build}
mkdir -p "$out_dir" build
log=$out_dir/gpu-check.log
budget=${GPU_CHECK_BUDGET:-450}
start=$(date +%s.%N)
rows=()
failed=0

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
left() {
    awk -v s="$start" -v n="$(date +%s.%N)" -v b="$budget" 'BEGIN { printf "%d", b - (n - s) }'
}
record() { rows+=("$1"$'\t'"$2"$'\t'"$3"); }

# The images: PlantVillage's potato and strawberry folders (../shared/data/README.md).
data_dir() {
    local d
    for d in "${GPU_CHECK_DATA:-}" shared/data ../shared/data; do
        [[ -n $d && -d $d/plantvillage ]] && { (cd "$d" && pwd); return 0; }
    done
    return 1
}

# Compares two scores.csv files column by column (score, leaf_mean, top1_mean): exit 0 when
# every value agrees within 1e-3 relative.
compare_scores_py='
import csv, sys
def read(path):
    with open(path) as f:
        return {r["file"]: r for r in csv.DictReader(f)}
a, b = read(sys.argv[1]), read(sys.argv[2])
if not a or sorted(a) != sorted(b):
    sys.exit(f"different files: {len(a)} and {len(b)} rows")
worst = {}
for name in a:
    for column in ("score", "leaf_mean", "top1_mean"):
        x, y = float(a[name][column]), float(b[name][column])
        error = abs(y - x) / abs(x) if x else abs(y - x)
        worst[column] = max(worst.get(column, 0.0), error)
print(f"{len(a)} images; worst relative difference: "
      + ", ".join(f"{c} {e:.2e}" for c, e in worst.items()))
sys.exit(0 if max(worst.values()) <= 1e-3 else 1)
'

# step NAME CAP COMMAND...: runs COMMAND with a timeout of CAP seconds or what is left.
step() {
    local name=$1 cap=$2
    shift 2
    local limit=$(($(left) - 10))
    if ((limit < 5)); then
        record "$name" "not run: out of time" "0.0"
        failed=1
        return 1
    fi
    ((cap < limit)) && limit=$cap
    echo
    echo "=== $name (timeout ${limit} s): $*"
    local t0 rc result
    t0=$(date +%s.%N)
    if [[ -n ${capture:-} ]]; then
        # The output also goes to $capture, for a figure read from it afterwards.
        timeout --kill-after=10 "$limit" "$@" >"$capture" 2>&1
        rc=$?
        cat "$capture"
    else
        timeout --kill-after=10 "$limit" "$@"
        rc=$?
    fi
    case $rc in
        0) result="pass" ;;
        77) result="skipped: no CUDA device" ;;
        124 | 137) result="TIMEOUT after ${limit} s"; failed=1 ;;
        *) result="FAIL (exit $rc)"; failed=1 ;;
    esac
    record "$name" "$result" "$(elapsed "$t0")"
    return $rc
}

main() {
    echo "gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), budget ${budget} s"
    if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
        export PATH=/usr/local/cuda/bin:$PATH
    fi

    # Device.
    if command -v nvidia-smi >/dev/null; then
        step "nvidia-smi" 30 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
            --format=csv
    else
        record "nvidia-smi" "missing" "0.0"
    fi

    # Configure and build: the recolor program too, unless its configuration fails (CLI11
    # missing), in which case the rest goes on without it.
    local data configure_data=()
    if data=$(data_dir); then
        configure_data=(-DRECOLOR_DATA_DIR="$data")
        echo "gpu-check: images from $data"
    else
        record "images (shared/data)" "missing: data steps skip" "0.0"
    fi
    local configure=(cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRECOLOR_CUDA=ON
        -DCMAKE_CUDA_ARCHITECTURES=90 -DRECOLOR_BUILD_BENCH=ON "${configure_data[@]}")
    local targets=(recolor_gpu_tests recolor_cli)
    if ! step "configure (Release, sm_90, recolor program)" 90 "${configure[@]}" \
        -DRECOLOR_BUILD_EXAMPLES=ON; then
        targets=(recolor_gpu_tests)
        step "configure (Release, sm_90, no program)" 90 "${configure[@]}" \
            -DRECOLOR_BUILD_EXAMPLES=OFF || return
    fi
    local jobs=${GPU_CHECK_JOBS:-$(nproc)}
    # -k (make): one target failing to build does not stop the other.
    step "build ${targets[*]}" 360 env MAKEFLAGS=-k cmake --build "$build" -j "$jobs" \
        --target "${targets[@]}"
    local benches=()
    mapfile -t benches < <(cmake --build "$build" --target help 2>/dev/null |
        sed -E 's/^\.\.\. //; s/[: ].*//' | grep -i 'cuda' | grep -i 'bench' | sort -u)
    if ((${#benches[@]})); then
        step "build benchmarks: ${benches[*]}" 200 cmake --build "$build" -j "$jobs" \
            --target "${benches[@]}"
    else
        record "CUDA benchmarks" "none present" "0.0"
    fi

    # The gpu suite, one case per process.
    local tests=$build/tests/recolor_gpu_tests
    if [[ -x $tests ]]; then
        local listing cases=() name
        listing=$("$tests" --list-test-cases --no-version 2>&1)
        case $? in
            0) mapfile -t cases < <(grep -v -e '^\[doctest\]' -e '^====' -e '^$' <<<"$listing") ;;
            77) record "gpu suite" "skipped: no CUDA device" "0.0" ;;
            *) step "gpu suite (whole; listing failed)" 180 env RECOLOR_LOG=info "$tests" ;;
        esac
        for name in "${cases[@]}"; do
            step "gpu: $name" 90 env RECOLOR_LOG=info "$tests" --test-case="${name//,/\\,}"
        done
    else
        record "gpu suite" "not built" "0.0"
        failed=1
    fi

    # The recolor program on CUDA: the reference training (quick preset) on the potato images
    # for 2 epochs, then scoring them on CUDA and on the CPU, which must agree within 1e-3.
    local recolor=$build/recolor potato=${data:-}/plantvillage/color/Potato___healthy
    if [[ ! -x $recolor ]]; then
        record "recolor program" "not built" "0.0"
        [[ ${targets[*]} == *recolor_cli* ]] && failed=1
    elif [[ ! -d $potato ]]; then
        record "recolor program" "skipped: no potato images" "0.0"
    else
        local work
        work=$(mktemp -d)
        if capture=$work/train.txt step "recolor train --device cuda (potato, 2 epochs)" 150 \
            "$recolor" train --device cuda --healthy "$potato" --epochs 2 \
            --out "$work/model.safetensors"; then
            # The step count is fixed by the images: 2 epochs of one step per image.
            local rate steps
            rate=$(grep -o '[0-9.]* img/s' "$work/train.txt" | tail -n 1 | cut -d ' ' -f 1)
            steps=$(($(wc -l <"$work/model.losses.csv") - 1))
            record "  training on CUDA: steps, rate" "$steps steps, ${rate:-?} img/s" ""
            step "recolor score --device cuda (potato)" 90 "$recolor" score --device cuda \
                --model "$work/model.safetensors" --out "$work/cuda" "$potato"
            step "recolor score --device cpu (same model)" 120 "$recolor" score --device cpu \
                --model "$work/model.safetensors" --out "$work/cpu" "$potato"
            step "scores.csv: CUDA against CPU (rel 1e-3)" 30 python3 -c "$compare_scores_py" \
                "$work/cpu/scores.csv" "$work/cuda/scores.csv"
        fi
        rm -rf "$work"
    fi

    # Benchmarks.
    local bench
    for bench in "${benches[@]}"; do
        local binary
        binary=$(find "$build" -type f -executable -name "$bench" | head -n 1)
        if [[ -z $binary ]]; then
            record "bench: $bench" "not built" "0.0"
            failed=1
            continue
        fi
        step "bench: $bench" 90 "$binary" --benchmark_min_time=0.2 \
            --benchmark_out="$out_dir/$bench.json" --benchmark_out_format=json
    done

    # Memory errors.
    local sanitizer
    sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    if [[ -x $tests && -x $sanitizer ]]; then
        step "compute-sanitizer memcheck: gpu suite" 240 "$sanitizer" --tool memcheck \
            --error-exitcode 1 "$tests"
    elif [[ -x $tests ]]; then
        record "compute-sanitizer memcheck" "compute-sanitizer missing" "0.0"
    fi
}

summary() {
    echo
    echo "=== gpu-check summary ($(elapsed "$start") s of ${budget} s)"
    printf '%-78s  %-28s  %8s\n' "step" "result" "seconds"
    local row
    for row in "${rows[@]}"; do
        IFS=$'\t' read -r name result seconds <<<"$row"
        printf '%-78.78s  %-28s  %8s\n' "$name" "$result" "$seconds"
    done
}

{
    main
    summary
    exit "$failed"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
