#!/usr/bin/env bash
# The one prepared check for a lent GPU machine (an H200, sm_90). It configures and builds
# Release for sm_90 in build/gpu, runs every case of the gpu suite one process at a time (a
# sticky CUDA error in one case cannot fail the next), runs every CUDA benchmark present
# (bench/*cuda*), then the whole suite under compute-sanitizer memcheck where that exists, and
# prints a table of step / result / seconds last. A step that fails, times out or is missing is
# recorded in the table and the script goes on. Each step's timeout is cut to what is left of a
# 450 s budget, so the whole run ends within 8 minutes.
#
# Full log: $OUT/gpu-check.log when OUT is set, else build/gpu-check.log; benchmark results as
# JSON beside it. Exit status 0 when no step failed.
# Usage: scripts/gpu-check.sh   (GPU_CHECK_BUDGET=seconds changes the budget; GPU_CHECK_BUILD
# and GPU_CHECK_JOBS the build folder and the build's parallel jobs, for a dry run elsewhere)
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
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
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

    # Configure and build.
    if ! step "configure (Release, sm_90)" 90 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DRECOLOR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DRECOLOR_BUILD_EXAMPLES=OFF \
        -DRECOLOR_BUILD_BENCH=ON; then
        return
    fi
    local jobs=${GPU_CHECK_JOBS:-$(nproc)}
    step "build recolor_gpu_tests" 300 cmake --build "$build" --target recolor_gpu_tests -j "$jobs"
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
