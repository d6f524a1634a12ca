#!/usr/bin/env python3
"""Can an allocation be both accurate (the #8 KPI) and within the SLO, on a scenario's services?

For each service and hour of a `smo simulate` scenario, at the hour's base rate d (the noise
left out) and on the datacenter nearest the service's users:
  - accurate: capacity alpha r + beta covers d and is at most 1.2 x that of the fewest
    replicas n that cover it (the simulator's allocation-accuracy test);
  - within the SLO: latency + processing_ms / (1 - rho) <= slo_ms, rho = d / capacity
    (capped at 0.95, as the simulator does).
It prints, per service, the share of requests in hours where some r is both. Where that share
is low, a scaler that keeps the SLO cannot reach 95 % accuracy and one that is accurate breaks
the SLO: the two targets conflict on that scenario, whatever the strategy.

Usage: python3 accuracy_vs_slo.py scenarios/cloud-edge.yaml   (needs PyYAML: pip install pyyaml)
"""

import math
import sys

try:
    import yaml
except ImportError:
    sys.exit("needs PyYAML: pip install pyyaml")


def distance_km(a, b):
    """Haversine distance, R = 6371 km (host/src/sim/geo.rs)."""
    (la1, lo1), (la2, lo2) = [(math.radians(x), math.radians(y)) for x, y in (a, b)]
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def hourly(rate, hours):
    if isinstance(rate, (int, float)):
        return [float(rate)] * hours
    if isinstance(rate, list):
        return [float(x) for x in rate[:hours]]
    sys.exit("rate_rps from a CSV series is not supported by this script")


def main(path):
    sc = yaml.safe_load(open(path))
    net = sc.get("network", {})
    ms_per_km, base_ms = net.get("ms_per_km", 0.02), net.get("base_ms", 2.0)
    # Per-pair overrides of the base latency, either direction (scenarios/README.md).
    link_base = {}
    for link in net.get("links", []):
        if link.get("base_ms") is not None:
            link_base[(link["from"], link["to"])] = link_base[(link["to"], link["from"])] = link["base_ms"]
    slo = float(sc["slo_ms"])
    users = {u["name"]: (u["lat"], u["lon"]) for u in sc["users"]}
    first_user = sc["users"][0]["name"]
    dcs = sc["datacenters"]
    total, both_total = 0.0, 0.0
    for s in sc["workload"].get("services", []):
        user_name = s.get("user", first_user)
        user = users[user_name]
        allowed = s.get("allowed_clusters") or [d["name"] for d in dcs]
        lat = min(
            link_base.get((user_name, d["name"]), base_ms)
            + ms_per_km * distance_km(user, (d["lat"], d["lon"]))
            for d in dcs
            if d["name"] in allowed
        )
        alpha, beta = float(s["alpha"]), float(s.get("beta", 0.0))
        proc = float(s.get("processing_ms", 0.0))
        lo_r = max(1, int(s.get("min_replicas", 1)))
        hi_r = int(s.get("max_replicas", 10))
        reqs, both = 0.0, 0.0
        for d in hourly(s["rate_rps"], int(sc["hours"])):
            n = max(lo_r, math.ceil((d - beta) / alpha - 1e-9))
            cap_needed = max(alpha * n + beta, d)
            ok = False
            for r in range(n, hi_r + 1):
                cap = alpha * r + beta
                if cap > 1.2 * cap_needed + 1e-9:
                    break
                rho = min(d / cap, 0.95) if cap > 0 else 0.95
                if lat + proc / (1 - rho) <= slo:
                    ok = True
                    break
            reqs += d
            both += d * ok
        print(f"{s['name']}: {lat:.1f} ms from its users at best; accurate and within the SLO "
              f"in hours carrying {100 * both / reqs:.1f} % of its requests")
        total += reqs
        both_total += both
    if total > 0:
        print(f"all services: {100 * both_total / total:.1f} % of requests")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
