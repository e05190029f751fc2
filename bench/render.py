#!/usr/bin/env python3
"""Merges bench/results/sections/*.json into latest.json and renders docs/benchmarks.md.

Targets are the ones the issues set; a ratio is only ever computed from two numbers measured in
the same run, side by side (the machines are shared and noisy)."""
import datetime
import json
import os
import platform
import sys

sections_dir, latest_path, doc_path = sys.argv[1:4]

# metric -> (description, target text, check function or None)
TARGETS = {
    "ingest_stakes_per_s": ("writer: stakes ingested per second (first consumed to last offset committed)", "", None),
    "copy_rows_per_s": ("COPY of the same rows into lottery_entry (this machine's limit)", "", None),
    "ingest_vs_copy": ("ingest / copy", ">= 0.5", lambda v: v >= 0.5),
    "writer_rss_mb": ("writer peak RSS (MB)", "", None),
    "writer_batch_commit_p99_ms": ("writer p99 batch commit latency (ms)", "", None),
    "relay_events_per_s": ("relay: backlog events committed to Kafka per second", "", None),
    "recvlogical_rows_per_s": ("pg_recvlogical reading the same changes (WAL decoding limit)", "", None),
    "relay_vs_recvlogical": ("relay / recvlogical", ">= 0.8", lambda v: v >= 0.8),
    "e2e_rate_per_s": ("steady stake rate for the e2e latency run", ">= 1000", lambda v: v >= 1000),
    "e2e_p50_ms": ("stake that fills a lottery -> award readable (p50, ms)", "", None),
    "e2e_p99_ms": ("stake that fills a lottery -> award readable (p99, ms)", "", None),
    "e2e_floor_p99_ms": ("the floor at the same rate: consume -> PG transaction -> Kafka transaction -> read_committed (p99, ms)", "", None),
    "e2e_p99_vs_floor": ("e2e p99 / floor p99, same run", "<= 3", lambda v: v <= 3),
    "e2e_capacity_stakes_per_s": ("highest stake rate with e2e p99 < 3x the floor p99 (steps)", "", None),
    "cpu_s_per_1000_stakes_writer": ("writer CPU seconds per 1,000 stakes", "", None),
    "cpu_s_per_1000_stakes_relay": ("relay CPU seconds per 1,000 stakes", "", None),
    "cpu_s_per_1000_stakes_postgres": ("PostgreSQL CPU seconds per 1,000 stakes", "", None),
    "cpu_s_per_1000_stakes_kafka": ("broker CPU seconds per 1,000 stakes", "", None),
    "relay_latency_p99_ms": ("relay: outbox INSERT -> readable (p99, ms)", "", None),
    "relay_latency_p99_vs_floor": ("relay latency p99 / e2e floor p99, same run", "", None),
    "relay_latency_group_commit_p99_ms": ("same with --group-commit true", "", None),
    "relay_rss_mb": ("relay peak RSS (MB)", "<= 64", lambda v: v <= 64),
    "relay_bigtxn_rss_mb": ("relay peak RSS, one 1M-row transaction (MB)", "<= 128",
                            lambda v: v <= 128),
    "debezium_events_per_s": ("Debezium on Kafka Connect (deploy/kafka-connect/, exactly-once): the same backlog, events per second", "", None),
    "relay_vs_debezium": ("relay / Debezium, backlog events per second", ">= 5", lambda v: v >= 5),
    "debezium_latency_p99_ms": ("Debezium: outbox INSERT -> readable (p99, ms), same rate as relay_latency_*", "", None),
    "relay_latency_p99_vs_debezium": ("relay / Debezium, INSERT -> readable p99", "<= 0.2",
                                      lambda v: v <= 0.2),
    "debezium_rss_mb": ("Debezium worker JVM peak RSS (MB)", "", None),
}

merged = {}
notes = {}
for name in sorted(os.listdir(sections_dir)) if os.path.isdir(sections_dir) else []:
    if not name.endswith(".json"):
        continue
    with open(os.path.join(sections_dir, name)) as f:
        data = json.load(f)
    section = name[:-5]
    if "notes" in data:
        notes[section] = data.pop("notes")
    merged.update(data)

if "ingest_stakes_per_s" in merged and merged.get("copy_rows_per_s"):
    merged["ingest_vs_copy"] = round(merged["ingest_stakes_per_s"] / merged["copy_rows_per_s"], 3)
if "relay_events_per_s" in merged and merged.get("recvlogical_rows_per_s"):
    merged["relay_vs_recvlogical"] = round(merged["relay_events_per_s"] / merged["recvlogical_rows_per_s"], 3)
if "e2e_p99_ms" in merged and merged.get("e2e_floor_p99_ms"):
    merged["e2e_p99_vs_floor"] = round(merged["e2e_p99_ms"] / merged["e2e_floor_p99_ms"], 3)
if "relay_latency_p99_ms" in merged and merged.get("e2e_floor_p99_ms"):
    merged["relay_latency_p99_vs_floor"] = round(merged["relay_latency_p99_ms"] / merged["e2e_floor_p99_ms"], 3)
# Relay and Debezium run one after the other in one `make bench`, against the same servers.
if "relay_events_per_s" in merged and merged.get("debezium_events_per_s"):
    merged["relay_vs_debezium"] = round(merged["relay_events_per_s"] / merged["debezium_events_per_s"], 2)
if "relay_latency_p99_ms" in merged and merged.get("debezium_latency_p99_ms"):
    merged["relay_latency_p99_vs_debezium"] = round(
        merged["relay_latency_p99_ms"] / merged["debezium_latency_p99_ms"], 3)

meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
}
with open(latest_path, "w") as f:
    json.dump({"meta": meta, "results": merged, "notes": notes}, f, indent=2, sort_keys=True)
    f.write("\n")

lines = [
    "# Benchmarks",
    "",
    "Produced by `make bench` (bench/run); raw numbers in `bench/results/latest.json`. Every ratio",
    "is computed from two numbers measured side by side in the same run on the same machine; these",
    "machines are shared and noisy (2 cores), so read the ratios, not the absolute numbers.",
    "",
    f"Last run: {meta['date']} on {meta['machine']}.",
    "",
    "| metric | value | target | met |",
    "|---|---|---|---|",
]
for key, (desc, target, check) in TARGETS.items():
    if key not in merged:
        continue
    v = merged[key]
    met = "" if check is None else ("yes" if check(v) else "**no**")
    lines.append(f"| `{key}` — {desc} | {v} | {target} | {met} |")
for key in sorted(set(merged) - set(TARGETS)):
    lines.append(f"| `{key}` | {merged[key]} | | |")
if notes:
    lines += ["", "## Notes", ""]
    for section, text in sorted(notes.items()):
        lines.append(f"- **{section}**: {text}")
# The written analysis (what was tried, what bounds each ratio) lives next to the numbers and is
# kept across runs: bench/analysis.md, appended as it is.
analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
if os.path.exists(analysis):
    with open(analysis) as f:
        lines += ["", f.read().rstrip()]
with open(doc_path, "w") as f:
    f.write("\n".join(lines) + "\n")
print(json.dumps(merged, indent=2, sort_keys=True))
