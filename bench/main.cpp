// The main of the benchmark binaries whose cases register themselves (delta_e_bench).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
