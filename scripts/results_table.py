"""Prints the table of docs/results.md from the runs that scripts/results.sh wrote."""
import json
import pathlib
import sys

runs = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
variants = ["sum", "leaf_mean", "top1_mean"]
print("| set | seed | train s | total s | " + " | ".join(f"{v} AUC | {v} F1@K" for v in variants) + " |")
print("|---|---:|---:|---:|" + "---:|---:|" * len(variants))
means = {}
for path in sorted(runs.glob("*-seed*/metrics.json")):
    name, seed = path.parent.name.rsplit("-seed", 1)
    m = json.loads(path.read_text())
    total = pathlib.Path(str(path.parent) + ".seconds")
    total_s = float(total.read_text().split()[-1]) if total.exists() else float("nan")
    cells = []
    for v in variants:
        cells += [f"{m[v]['auc']:.3f}", f"{m[v]['f1_at_k']:.3f}"]
        means.setdefault((name, v), []).append((m[v]["auc"], m[v]["f1_at_k"]))
    print(f"| {name} | {seed} | {m['setup']['train_seconds']:.0f} | {total_s:.0f} | " + " | ".join(cells) + " |")
for (name, v), values in sorted(means.items()):
    auc = sum(a for a, _ in values) / len(values)
    f1 = sum(f for _, f in values) / len(values)
    print(f"mean over {len(values)} seeds: {name} {v}: AUC {auc:.3f}, F1@K {f1:.3f}")
