"""Upstream SMO's re-placement model (V3: CVXPY, solved with HiGHS) on default-lp's instances.

Reads the SxC.request.json / SxC.default-lp.json pairs the Rust example `replacement_instances`
wrote, builds and solves upstream's integer program on each request `--runs` times, checks that
it reaches the same optimum (number of moved services) as default-lp, and prints one table row
per size: default-lp median ms, CVXPY median ms, and their ratio.

Upstream's model, written from the description in the research note (section 2.3):

    x[s][e] in {0, 1}
    minimise  w_dep * sum(x) + w_re * sum(y * (y - x))    (y: current placement, one-hot rows)
    (C1) sum_e x[s][e] == 1                     every service
    (C2) sum_s cpu_s * r_s * x[s][e] <= C_e     every cluster
    (C3) a_s * x[s][e] <= A_e                   every cluster, services 1.. (upstream skips s0)
    (C4) dropped: with d = [0, 0] it has no effect and raises IndexError from 4 services.

`--model same` (the default) adds what default-lp enforces on the same request so the optimum
is comparable: memory and GPU counts are capacities, C3 covers every service, services linked
by a `Required` dependency share a cluster (x[s] == x[t]), allowed clusters are honoured.
Preferred dependencies are not modelled (upstream has no such term; in default-lp they only
break ties). `--model upstream` is V3 exactly (CPU only); its optimum may need fewer moves.
The time of a run is building the CVXPY problem from arrays plus `solve` (what upstream's
`decide_placement` does per call); reading JSON and importing CVXPY are not timed.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import cvxpy as cp
import numpy as np

W_DEP = 1.0  # upstream's weights
W_RE = 1.0


def load(request):
    """Arrays of the request: demands (all replicas), capacities, current placement y."""
    services = request["graph"]["services"]
    clusters = request["clusters"]
    s_index = {s["name"]: i for i, s in enumerate(services)}
    e_index = {c["name"]: j for j, c in enumerate(clusters)}
    n, m = len(services), len(clusters)
    y = np.zeros((n, m))
    current_replicas = np.zeros(n)
    for a in (request.get("current") or {}).get("assignments", []):
        i = s_index.get(a["service"])
        if i is None:
            continue
        current_replicas[i] = a["replicas"]
        j = e_index.get(a["cluster"])
        if j is not None:  # a vanished cluster leaves a zero row: the service must move
            y[i, j] = 1.0
    replicas = np.maximum(
        np.maximum(np.array([s["replicas"] for s in services], float), current_replicas), 1.0
    )
    demand = lambda key: np.array([s["demand"][key] for s in services], float) * replicas
    available = lambda key: np.array([c["available"][key] for c in clusters], float)
    allowed = np.ones((n, m))
    for i, s in enumerate(services):
        if s["allowed_clusters"]:
            allowed[i] = 0.0
            for name in s["allowed_clusters"]:
                if name in e_index:
                    allowed[i, e_index[name]] = 1.0
    required = [
        (i, s_index[d["service"]])
        for i, s in enumerate(services)
        for d in s["dependencies"]
        if d["kind"] == "required" and d["service"] in s_index and s_index[d["service"]] != i
    ]
    return {
        "names": [s["name"] for s in services],
        "clusters": [c["name"] for c in clusters],
        "y": y,
        "cpu": demand("cpu"),
        "mem": demand("memory_mib"),
        "gpu": demand("gpu"),
        "C": available("cpu"),
        "M": available("memory_mib"),
        "G": available("gpu"),
        "A": np.array([1.0 if c["capacity"]["gpu"] > 0 else 0.0 for c in clusters]),
        "allowed": allowed,
        "required": required,
    }


def build(d, model):
    """Upstream's CVXPY problem (see the module doc) and its variable."""
    n, m = d["y"].shape
    y = d["y"]
    x = cp.Variable((n, m), boolean=True)
    a = (d["gpu"] > 0).astype(float)
    if model == "upstream":
        a[0] = 0.0  # upstream's C3 starts at the second service
    objective = cp.Minimize(W_DEP * cp.sum(x) + W_RE * cp.sum(cp.multiply(y, y - x)))
    constraints = [
        cp.sum(x, axis=1) == 1,  # C1
        d["cpu"] @ x <= d["C"],  # C2
        cp.multiply(np.outer(a, np.ones(m)), x) <= np.outer(np.ones(n), d["A"]),  # C3
    ]
    if model == "same":
        constraints += [d["mem"] @ x <= d["M"], d["gpu"] @ x <= d["G"]]
        if (d["allowed"] < 1).any():
            constraints.append(cp.multiply(1.0 - d["allowed"], x) == 0)
        if d["required"]:
            i = [p for p, _ in d["required"]]
            j = [q for _, q in d["required"]]
            constraints.append(x[i, :] == x[j, :])
    return cp.Problem(objective, constraints), x


def solve_once(d, model):
    stdout = os.dup(1)
    os.dup2(2, 1)  # HiGHS prints its banner on stdout, where the table goes
    try:
        started = time.perf_counter()
        problem, x = build(d, model)
        problem.solve(solver=cp.HIGHS)
        seconds = time.perf_counter() - started
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(f"CVXPY/HiGHS status {problem.status}")
    return seconds, problem.value, np.rint(x.value)


def feasible(d, model, x):
    """Whether the 0/1 matrix x satisfies the model's constraints (to 1e-6)."""
    ok = np.all(x.sum(axis=1) == 1) and np.all(d["cpu"] @ x <= d["C"] + 1e-6)
    if model == "same":
        ok = ok and np.all(d["mem"] @ x <= d["M"] + 1e-6) and np.all(d["gpu"] @ x <= d["G"])
        ok = ok and np.all(x[d["gpu"] > 0] <= d["A"]) and np.all(x <= d["allowed"])
        ok = ok and all(np.array_equal(x[i], x[j]) for i, j in d["required"])
    return bool(ok)


def moves(d, x):
    """Services placed before whose cluster changed (a vanished cluster counts as a move)."""
    placed = d["y"].sum(axis=1) > 0
    return int(np.sum(placed & (np.sum(d["y"] * x, axis=1) < 0.5)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=pathlib.Path, help="directory the Rust example wrote")
    parser.add_argument("--sizes", default="50x20,500x100,2000x200")
    parser.add_argument("--runs", type=int, default=5, help="timed solves per size (median)")
    parser.add_argument("--model", choices=["same", "upstream"], default="same")
    args = parser.parse_args()

    rows, mismatches = [], 0
    for size in args.sizes.split(","):
        request = json.loads((args.dir / f"{size}.request.json").read_text())
        rust = json.loads((args.dir / f"{size}.default-lp.json").read_text())
        d = load(request)
        runs = [solve_once(d, args.model) for _ in range(args.runs)]
        ms = statistics.median(r[0] for r in runs) * 1e3
        _, value, x = runs[0]
        cvx_moves = moves(d, x)
        # default-lp's placement as a matrix: it must be feasible for the model, and move as few.
        e_index = {c: j for j, c in enumerate(d["clusters"])}
        x_rust = np.zeros_like(d["y"])
        for i, name in enumerate(d["names"]):
            x_rust[i, e_index[rust["assignment"][name]]] = 1.0
        rust_ok = feasible(d, args.model, x_rust)
        if args.model == "same":
            ok = cvx_moves == rust["moves"] and rust_ok
            check = "same optimum" if ok else f"DIFFERENT (default-lp feasible here: {rust_ok})"
        else:
            # V3 is a relaxation of default-lp's model: fewer or as many moves.
            ok = cvx_moves <= rust["moves"] and rust_ok
            check = (
                "consistent (V3 ignores memory, GPU counts and co-location)"
                if ok
                else f"INCONSISTENT (default-lp feasible here: {rust_ok})"
            )
        if not ok:
            mismatches += 1
        print(
            f"{size}: CVXPY objective {value:.1f} = {W_DEP:g}*|S| + {cvx_moves} moves; "
            f"default-lp {rust['moves']} moves: {check}",
            file=sys.stderr,
        )
        rows.append((size, rust["median_ms"], ms, ms / rust["median_ms"], cvx_moves, rust["moves"]))

    print(f"| size (services x clusters) | default-lp median ms | CVXPY+HiGHS ({args.model}) median ms | ratio | moves (CVXPY / default-lp) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for size, rust_ms, cvx_ms, ratio, cm, rm in rows:
        print(f"| {size} | {rust_ms:.1f} | {cvx_ms:.1f} | {ratio:.1f}x | {cm} / {rm} |")
    if mismatches:
        print(f"{mismatches} size(s) failed the optimum check", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
