#!/usr/bin/env python3
"""Turns recolor_bench's Google Benchmark JSON into the tables of docs/benchmarks.md and into
docs/bench-results.json (scripts/bench.sh calls it).

Benchmarks are named "<side>/<case>", side "recolor" or "libtorch"; the two are paired by case.
The ΔE00 map comes from delta_e_bench.cpp's own names (all threads). Where a run was repeated,
the median is taken. Ratio = recolor's time / LibTorch's: below 1, recolor is faster.
"""
import argparse
import json
import re
import subprocess
from collections import OrderedDict

BEGIN = "<!-- scripts/bench.sh: begin generated section -->"
END = "<!-- scripts/bench.sh: end generated section -->"
TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
RATES = {"GFLOP": "GFLOP/s", "GB": "GB/s", "images": "images/s", "Mpixel": "Mpixel/s"}
HEADLINE = ["train_step", "generator_forward_b1", "generator_forward_b16", "generator_forward_b64",
            "adam_step", "delta_e_map"]


def load_runs(path):
    """run name (without /real_time) -> (time in ms, counters), the median where repeated."""
    data = json.load(open(path))
    medians, iterations = {}, {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        # Google Benchmark appends the options a case sets itself (min_time:5.000) to its name.
        name = re.sub(r"/(real|manual)_time$", "", b.get("run_name", b["name"]))
        name = re.sub(r"/min_time:[0-9.]+", "", name)
        entry = (b["real_time"] * TO_MS[b.get("time_unit", "ns")], b)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = entry
        else:
            iterations.setdefault(name, []).append(entry)
    runs = {}
    for name, entries in iterations.items():
        entries.sort(key=lambda e: e[0])
        runs[name] = entries[len(entries) // 2]
    runs.update(medians)
    return data["context"], runs


def rate_of(bench):
    for key, unit in RATES.items():
        if key in bench:
            return bench[key], unit
    return None, ""


def pair_cases(context, runs):
    cases = OrderedDict()
    for name in runs:
        side, _, case = name.partition("/")
        if side in ("recolor", "libtorch"):
            cases.setdefault(case, {})[side] = runs[name]
    threads = context.get("num_cpus", 1)
    for side, name in (("recolor", "BM_delta_e_map_recolor"),
                       ("libtorch", "BM_delta_e_map_libtorch_cpu")):
        run = runs.get(f"{name}/threads:{threads}")
        if run:
            cases.setdefault("delta_e_map", {})[side] = run
    out = []
    for case, sides in cases.items():
        row = {"name": case}
        for side in ("recolor", "libtorch"):
            if side in sides:
                ms, bench = sides[side]
                rate, unit = rate_of(bench)
                row[f"{side}_ms"] = ms
                row[f"{side}_rate"] = rate
                row["rate_unit"] = unit
                if "peak_MiB" in bench:
                    row[f"{side}_peak_mib"] = bench["peak_MiB"]
                    row[f"{side}_step_mib"] = bench["step_MiB"]
            else:
                row[f"{side}_ms"] = None
        both = row.get("recolor_ms") and row.get("libtorch_ms")
        row["ratio"] = row["recolor_ms"] / row["libtorch_ms"] if both else None
        if "recolor_peak_mib" in row and "libtorch_peak_mib" in row:
            row["peak_ratio"] = row["recolor_peak_mib"] / row["libtorch_peak_mib"]
        out.append(row)
    order = {name: i for i, name in enumerate(HEADLINE)}
    out.sort(key=lambda r: (order.get(r["name"], len(order)),))
    return out


def fmt(value, digits=3):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def sgemm_rate(runs):
    """OpenBLAS's sgemm rate in GFLOP/s in the same run, or None."""
    run = runs.get("openblas/sgemm_2048")
    return run[1].get("GFLOP") if run else None


def floor_note(r, sgemm):
    """For a case with a GFLOP rate: the time its arithmetic takes at the sgemm rate, against
    LibTorch's time (no im2col, no element-wise work, every product at the square one's rate)."""
    if not sgemm or r.get("rate_unit") != "GFLOP/s" or not r.get("recolor_rate") \
            or not r.get("libtorch_ms"):
        return ""
    gflop = r["recolor_rate"] * r["recolor_ms"] / 1e3
    floor = gflop / sgemm * 1e3
    return (f"; its {gflop:.1f} GFLOP at the sgemm rate alone take {fmt(floor)} ms, "
            f"{floor / r['libtorch_ms']:.2f}x LibTorch's time")


def target_lines(rows, sgemm=None):
    by_name = {r["name"]: r for r in rows}
    lines = []
    for name, limit, what in (("train_step", 0.6, "training step"),
                              ("generator_forward_b1", 0.5, "generator forward, batch 1"),
                              ("generator_forward_b16", 0.5, "generator forward, batch 16"),
                              ("generator_forward_b64", 0.5, "generator forward, batch 64"),
                              ("adam_step", 1.0, "Adam step")):
        r = by_name.get(name)
        if not r or r["ratio"] is None:
            lines.append(f"- {what}: not measured")
            continue
        verdict = "met" if r["ratio"] <= limit else \
            f"missed: {r['ratio'] / limit:.2f}x the target's time"
        lines.append(f"- {what}: {r['ratio']:.2f}x LibTorch's time (target at most {limit}x): "
                     f"{verdict}{floor_note(r, sgemm) if r['ratio'] > limit else ''}")
    return lines


def markdown(context, rows, args, sgemm=None):
    load = context.get("load_avg", [])
    busy = load and load[0] > 0.5 * context.get("num_cpus", 1)
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                         capture_output=True, text=True).stdout.strip()
    lines = [BEGIN, "", "## recolor against LibTorch", "",
             "Written by `scripts/bench.sh` from one run of `recolor_bench`, in which every case "
             "runs on recolor and on its LibTorch twin (same architecture, shapes, initial "
             "weights and data). Ratio = recolor's time / LibTorch's: below 1, recolor is "
             "faster. Times are wall-clock per iteration; rates are GFLOP/s (layers, generator), "
             "GB/s (batch norm, Adam: bytes the kernel must move), images/s (scoring, training) "
             "and Mpixel/s (ΔE00 map).", ""]
    lines += [f"- Command: `{args.command}` ({args.mode} mode)",
              f"- Date: {context.get('date', '?')}",
              f"- Machine: {cpu or '?'}, {context.get('num_cpus', '?')} CPUs at "
              f"{context.get('mhz_per_cpu', '?')} MHz; threads: {context.get('threads', '?')}; "
              f"OpenBLAS kernels: {context.get('openblas_core', '?')}",
              f"- Load average at the start: {', '.join(f'{x:.2f}' for x in load) or '?'}",
              f"- OpenBLAS sgemm, 2048 x 2048 x 2048, in the same run: "
              f"{fmt(sgemm) + ' GFLOP/s' if sgemm else 'not measured'} (the ceiling of an "
              f"im2col + GEMM convolution here)",
              f"- Build: CMake Release, `{args.flags}`; Google Benchmark "
              f"({context.get('library_build_type', '?')} library); LibTorch: {args.torch}",
              ""]
    if busy:
        lines += ["**Contended:** other work shared the CPUs during this run (the load average "
                  "above exceeds half the CPU count); the ratios, which come from the same run, "
                  "hold better than the absolute times.", ""]
    lines += ["Targets (this machine):", ""] + target_lines(rows, sgemm) + [""]
    lines += ["| case | recolor (ms) | LibTorch (ms) | ratio | recolor rate | LibTorch rate |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "recolor_peak_mib" in r or "libtorch_peak_mib" in r:
            continue
        unit = r.get("rate_unit", "")
        lines.append(f"| `{r['name']}` | {fmt(r.get('recolor_ms'))} | {fmt(r.get('libtorch_ms'))}"
                     f" | {fmt(r.get('ratio'), 2)} | {fmt(r.get('recolor_rate'))} {unit} | "
                     f"{fmt(r.get('libtorch_rate'))} {unit} |")
    for r in rows:
        if "recolor_peak_mib" not in r and "libtorch_peak_mib" not in r:
            continue
        lines += ["", "Peak memory of a training step (batch 1, 256 px), from the kernel: VmHWM "
                  "of a fresh child process during its second step, the high-water mark reset "
                  "just before it; 'step' is that peak minus the resident set just before the "
                  "step (model, Adam moments, libraries). Large blocks are mmap'ed and returned "
                  "on free in the child, so the resident set follows live memory.", "",
                  "| | recolor | LibTorch | ratio |", "|---|---:|---:|---:|"]
        for key, what in (("peak_mib", "process peak (MiB)"), ("step_mib", "step (MiB)")):
            a, b = r.get(f"recolor_{key}"), r.get(f"libtorch_{key}")
            ratio = a / b if a and b else None
            lines.append(f"| {what} | {fmt(a)} | {fmt(b)} | {fmt(ratio, 2)} |")
    lines += ["", END]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--raw", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--mode", default="full")
    p.add_argument("--command", default="scripts/bench.sh")
    p.add_argument("--flags", default="?")
    p.add_argument("--torch", default="?")
    args = p.parse_args()

    context, runs = load_runs(args.raw)
    rows = pair_cases(context, runs)
    sgemm = sgemm_rate(runs)
    section = markdown(context, rows, args, sgemm)
    try:
        text = open(args.markdown).read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(args.markdown, "w").write(text)

    result = {"date": context.get("date"), "mode": args.mode, "command": args.command,
              "build_flags": args.flags, "libtorch": args.torch,
              "num_cpus": context.get("num_cpus"), "load_avg": context.get("load_avg"),
              "openblas_sgemm_gflops": sgemm,
              "ratio": "recolor time / LibTorch time", "cases": rows}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
