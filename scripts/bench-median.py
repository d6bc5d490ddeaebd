#!/usr/bin/env python3
"""The median of several bufshare-bench --json runs, with min-max, as
markdown tables: latencies (p50, and the ratio to the floor), servers'
cpu per export, and rates. Usage: bench-median.py run-1.json run-2.json ..."""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["results"]


def cell(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return (fmt + " ({}–{})").format(med, fmt.format(min(values)), fmt.format(max(values)))


def main(paths):
    runs = [load(p) for p in paths]
    lat, cpu, rate, order = {}, {}, {}, []
    for run in runs:
        for r in run:
            s = r.get("scenario", "")
            if "p50_us" in r:
                key = (s, r.get("variant", ""), r.get("pin", ""))
                table = lat
            elif s.endswith("-cpu"):
                key = (s[:-4], r.get("variant", ""), r.get("pin", ""))
                table = cpu
            elif "ops_per_s" in r and "ratio_to" in r:
                key = (s, r.get("variant", ""), r.get("ratio_to", ""))
                table = rate
            else:
                continue
            if key not in table:
                table[key] = []
                order.append((table, key))
            table[key].append(r)

    n = len(runs)
    print(f"Median of {n} runs, (min–max) across the runs.\n")
    print("| scenario | variant | pin | n | p50 µs | floor | floor p50 µs | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for table, key in order:
        if table is not lat:
            continue
        rs = lat[key]
        print("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            key[0], key[1], key[2], rs[0]["n"], cell([r["p50_us"] for r in rs], "{:.1f}"),
            rs[0].get("floor", "-"), cell([r.get("floor_p50_us") for r in rs], "{:.1f}"),
            cell([r.get("ratio_p50") for r in rs], "{:.2f}")))
    def table(which, header, row):
        if not which:
            return
        print("\n| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        for t, key in order:
            if t is which:
                print("| " + " | ".join(row(key, which[key])) + " |")

    table(cpu, ["scenario", "variant", "pin", "daemon cpu µs/op", "helper cpu µs/op", "ratio"],
          lambda key, rs: [*key, cell([r["daemon_cpu_us"] for r in rs], "{:.2f}"),
                           cell([r["floor_cpu_us"] for r in rs], "{:.2f}"), cell([r["ratio"] for r in rs], "{:.2f}")])
    table(rate, ["scenario", "variant", "ops/s", "ratio", "to"],
          lambda key, rs: [key[0], key[1], cell([r["ops_per_s"] for r in rs], "{:.0f}"),
                           cell([r["ratio"] for r in rs], "{:.2f}"), key[2]])

if __name__ == "__main__":
    main(sys.argv[1:])
