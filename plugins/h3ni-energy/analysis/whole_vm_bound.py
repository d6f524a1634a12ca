#!/usr/bin/env python3
"""How much of a run's gap to the energy lower bound comes from splitting VMs?

`smo simulate --lower-bound` solves each hour as an LP: VMs split over servers, servers
switched on in fractions. This script takes the demand the bound exported
(`lower_bounds[].demand` in `--lower-bound --json`) and solves some hours again, as a MILP over
single servers (HiGHS through `highspy`):
  - each VM is whole: an integer count of each shape on each server;
  - each server is on or off (binary);
  - a server's cores and memory cap what it carries;
  - its power is at least the lower convex envelope of its curve, as in the LP;
  - VMs stay at the datacenters the LP allows them (`allowed`).
The hour's mean counts are rounded to whole VMs. The MILP uses the same envelope, so what it
adds over the LP is the cost of whole VMs and whole servers, with no migration cost and the
power curves still underestimated.

For each hour the script prints the LP (on the rounded counts), the MILP's proven bound and
its best packing, and the run's own energy that hour (`strategies[].hourly`).

Usage (needs `pip install highspy pyyaml`):
  smo simulate scenarios/eu-5dc-7d.yaml --seed 1 --strategy h3ni-energy/placement \\
      --lower-bound --json > run.json
  python3 whole_vm_bound.py run.json scenarios/eu-5dc-7d.yaml h3ni-energy/placement [EVERY_H] [LIMIT_S]
(every EVERY_H-th hour, from hour EVERY_H / 2; default 8; LIMIT_S seconds per MILP, default 30)
"""

import json
import sys

try:
    import highspy
    import numpy as np
    import yaml
except ImportError as e:
    sys.exit(f"{e}: pip install highspy pyyaml")


def envelope(curve):
    """Lower convex hull of the curve's points over utilisation 0..1, as (a, b): a + b u."""
    pts = [(i / (len(curve) - 1), w) for i, w in enumerate(curve)]
    hull = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) >= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    return [((y1 - (y2 - y1) / (x2 - x1) * x1), (y2 - y1) / (x2 - x1))
            for (x1, y1), (x2, y2) in zip(hull, hull[1:])]


def servers_of(scenario):
    out = []
    for d, dc in enumerate(scenario["datacenters"]):
        for s in dc["servers"]:
            curve = s.get("power_curve_w") or [s["idle_w"], s["peak_w"]]
            for _ in range(s["count"]):
                out.append(dict(dc=d, pue=dc["pue"], cores=s["cores"],
                                mem=s["memory_gib"] * 1024.0, segs=envelope(curve),
                                group=(d, s.get("model", ""))))
    return out


def solve(items, servers, integral, limit_s):
    """items: [(cpu, memory_mib, allowed datacenters, count)]; facility watts (bound, best)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", limit_s)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.002)
    inf = highspy.kHighsInf
    lo, hi, cost, ints = [], [], [], []

    def col(l, u, c, i):
        lo.append(l); hi.append(u); cost.append(c); ints.append(i)
        return len(lo) - 1

    y = {}
    for f, (cpu, mem, allowed, n) in enumerate(items):
        for j, sv in enumerate(servers):
            if sv["dc"] in allowed and cpu <= sv["cores"] and mem <= sv["mem"]:
                y[f, j] = col(0, n, 0, True)
    on = [col(0, 1, 0, True) for _ in servers]
    power = [col(0, inf, sv["pue"], False) for sv in servers]
    n = len(lo)
    h.addVars(n, np.array(lo, dtype=float), np.array(hi, dtype=float))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(cost, dtype=float))
    if integral:
        kinds = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                 for i in ints]
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array(kinds))

    def row(l, u, entries):
        h.addRow(l, u, len(entries), np.array([e[0] for e in entries], dtype=np.int32),
                 np.array([e[1] for e in entries], dtype=float))

    for f, item in enumerate(items):
        row(item[3], item[3], [(y[f, j], 1.0) for j in range(len(servers)) if (f, j) in y])
    for j, sv in enumerate(servers):
        fs = [f for f in range(len(items)) if (f, j) in y]
        row(-inf, 0, [(y[f, j], items[f][0]) for f in fs] + [(on[j], -sv["cores"])])
        row(-inf, 0, [(y[f, j], items[f][1]) for f in fs] + [(on[j], -sv["mem"])])
        for a, b in sv["segs"]:
            row(-inf, 0, [(y[f, j], b * items[f][0] / sv["cores"]) for f in fs]
                + [(on[j], a), (power[j], -1.0)])
    for j in range(1, len(servers)):  # identical servers switched on in order
        if servers[j]["group"] == servers[j - 1]["group"]:
            row(0, inf, [(on[j - 1], 1.0), (on[j], -1.0)])
    h.run()
    info = h.getInfo()
    if integral:
        return info.mip_dual_bound, info.objective_function_value
    return info.objective_function_value, info.objective_function_value


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip())
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    scenario = yaml.safe_load(open(sys.argv[2], encoding="utf-8"))
    strategy = sys.argv[3]
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    limit_s = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
    bound = next((b for b in doc.get("lower_bounds", []) if b["strategy"] == strategy), None)
    run = next((s for s in doc.get("strategies", []) if s["strategy"] == strategy), None)
    if bound is None or run is None or "demand" not in bound:
        sys.exit(f"no run and bound of {strategy!r} with its demand in {sys.argv[1]} "
                 "(made with --lower-bound --json?)")
    demand = bound["demand"]
    servers = servers_of(scenario)
    shapes = demand["shapes"]
    totals = [0.0, 0.0, 0.0, 0.0]
    print(f"{strategy}: facility W per hour; the MILP packs whole VMs on single servers")
    for hour in range(every // 2, len(demand["hourly"]), every):
        items = []
        for i, mean in demand["hourly"][hour]:
            s = shapes[i]
            if s["gpu"] > 0:
                sys.exit("GPU shapes are not modelled")
            if round(mean) > 0:
                items.append((s["cpu"], s["memory_mib"], set(s["allowed"]), round(mean)))
        if not items:
            continue
        lp, _ = solve(items, servers, False, limit_s)
        proven, best = solve(items, servers, True, limit_s)
        actual = run["hourly"][hour]["energy_kwh"] * 1000.0
        for k, v in enumerate((lp, proven, best, actual)):
            totals[k] += v
        print(f"hour {hour:4d}: LP {lp:9.0f}  whole VMs >= {proven:9.0f} ({proven / lp - 1:+.1%}), "
              f"best packing {best:9.0f} ({best / lp - 1:+.1%}); run {actual:9.0f} ({actual / lp - 1:+.1%})")
    lp, proven, best, actual = totals
    print(f"sampled hours: whole VMs >= LP {proven / lp - 1:+.1%} (best packing "
          f"{best / lp - 1:+.1%}); the run {actual / lp - 1:+.1%}")


if __name__ == "__main__":
    main()
