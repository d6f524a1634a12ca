#!/usr/bin/env python3
"""Where a run spends its energy beside where the energy lower bound would, per server model.

Reads the JSON of `smo simulate --lower-bound --json` and prints, for one strategy, each
datacenter's servers of each model: server-hours on, busy core-hours, booked memory (GiB-hours)
and IT energy (kWh), in the run (`strategies[].datacenters[].server_types`) and in the bound's
optimum (`lower_bounds[].server_types`), then the models summed over the datacenters. The bound
splits VMs and re-packs them every hour, so the rows where the run spends more show which
servers the packing of whole VMs over time keeps on.

Usage:
  smo simulate scenarios/eu-5dc-7d.yaml --seed 1 --lower-bound --json > run.json
  python3 bound_by_server_model.py run.json h3ni-energy/placement
"""

import json
import sys
from collections import defaultdict

FIELDS = ("server_hours_on", "busy_core_hours", "memory_gib_hours", "it_energy_kwh")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    strategy = sys.argv[2]
    runs = [s for s in doc.get("strategies", []) if s["strategy"] == strategy]
    bounds = [b for b in doc.get("lower_bounds", []) if b["strategy"] == strategy]
    if not runs or not bounds:
        names = [s["strategy"] for s in doc.get("strategies", [])]
        print(f"no run and bound of {strategy!r} in {sys.argv[1]} (runs: {names}; "
              "was it made with --lower-bound --json?)", file=sys.stderr)
        return 1
    run = {}
    for dc in runs[0]["datacenters"]:
        for t in dc["server_types"]:
            run[(dc["name"], t["model"])] = [t[k] for k in FIELDS]
    bound = {(g["datacenter"], g["model"]): [g[k] for k in FIELDS] for g in bounds[0]["server_types"]}
    keys = sorted(set(run) | set(bound))
    header = f"{'datacenter':11} {'model':18} " + " | ".join(
        f"{'run':>9} {'bound':>9}" for _ in FIELDS)
    print(f"{strategy}: run beside its bound; columns: " + ", ".join(FIELDS))
    print(header)
    by_model = defaultdict(lambda: [[0.0] * len(FIELDS), [0.0] * len(FIELDS)])
    for k in keys:
        r = run.get(k, [0.0] * len(FIELDS))
        b = bound.get(k, [0.0] * len(FIELDS))
        for i in range(len(FIELDS)):
            by_model[k[1]][0][i] += r[i]
            by_model[k[1]][1][i] += b[i]
        print(f"{k[0]:11} {k[1]:18} " + " | ".join(f"{x:9.0f} {y:9.0f}" for x, y in zip(r, b)))
    print()
    for model, (r, b) in sorted(by_model.items()):
        print(f"{'all':11} {model:18} " + " | ".join(f"{x:9.0f} {y:9.0f}" for x, y in zip(r, b)))
    it_run = sum(v[0][3] for v in by_model.values())
    it_bound = sum(v[1][3] for v in by_model.values())
    print(f"\nIT energy: run {it_run:.1f} kWh, bound {it_bound:.1f} kWh "
          f"(facility: run {bounds[0]['energy_kwh']:.1f}, bound {bounds[0]['bound_kwh']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
