#!/usr/bin/env python3
"""Re-derives the files in scenarios/data/ from the project's offline data (shared/data).

Run from the repository root: `python3 scenarios/data/derive.py ../shared/data`.
Standard library only. The output is what the repository ships; see README.md next to this file.
"""

import csv
import shutil
import sys
from collections import defaultdict
from pathlib import Path

PERIOD = "2024-10"  # the month the reference scenarios read (UTC)
OUT = Path(__file__).resolve().parent


def carbon(src: Path) -> None:
    """Electricity Maps hourly 2024 export, cut to one month; all 20 value columns kept."""
    with open(src / "electricitymaps_2024_hourly_FR_DE_IT_ES_SE.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r[0].startswith(PERIOD)]
    with open(OUT / f"electricitymaps_{PERIOD}_hourly_FR_DE_IT_ES_SE.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)


def shapes(src: Path) -> None:
    """ENTSO-E generation as capacity factors: hourly mean MW / the country's 2024 maximum hourly MW."""
    hourly = defaultdict(list)  # (hour, country, type) -> MW samples (15-min rows averaged)
    with open(src / "entsoe_2024_generation_FR_IT_SE.csv", newline="") as f:
        for row in csv.DictReader(f):
            hour = row["timestamp_utc"][:13] + ":00:00"
            hourly[(hour, row["country"], row["energy_type"])].append(float(row["generation_mw"]))
    mean = {k: sum(v) / len(v) for k, v in hourly.items()}
    peak = defaultdict(float)
    for (_, country, kind), mw in mean.items():
        peak[(country, kind)] = max(peak[(country, kind)], mw)
    codes = {"France": "FR", "Italy": "IT", "Sweden": "SE"}
    kinds = ["Solar", "Wind", "Hydro"]
    cols = [(c, k) for c in codes for k in kinds]
    hours = sorted({h for (h, _, _) in mean if h.startswith(PERIOD)})
    with open(OUT / f"entsoe_{PERIOD}_capacity_factors_FR_IT_SE.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["datetime_utc"] + [f"{codes[c]}_{k.lower()}_cf" for c, k in cols])
        for h in hours:
            w.writerow([h] + [f"{mean.get((h, c, k), 0.0) / peak[(c, k)]:.4f}" for c, k in cols])


def trace(src: Path) -> None:
    """The Azure 2017 V1 VM trace as re-encoded by huaweicloud/trace_generation_rnn, unchanged."""
    dst = OUT / "azure_vm_trace_2017"
    dst.mkdir(exist_ok=True)
    for name in ["v1.test.txt", "v1.test.c2591400.txt", "flav_map.txt", "v1.interval_map.txt", "LICENSE"]:
        shutil.copyfile(src / "azure_vm_trace_2017" / name, dst / name)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    carbon(source)
    shapes(source)
    trace(source)
