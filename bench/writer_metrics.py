#!/usr/bin/env python3
"""What the bench sections measure of a running lottery-writer, from its /metrics and the bench's
own clock (the writer keeps no benchmark bookkeeping of its own).

    writer_metrics.py free-port
        a TCP port on 127.0.0.1 that nothing listens on now
    writer_metrics.py progress URL --target N [--pid PID] [--timeout S]
        polls URL (every 50 ms) until lottery_writer_consumed_total reaches N; the rate is taken
        between the first sample with records and the first sample at N
    writer_metrics.py snapshot URL
        one scrape

Both print one line: records= elapsed_s= rate_per_s= batches= commit_p50_ms= commit_p99_ms=
(the commit quantiles are interpolated from lottery_writer_transaction_seconds, the way
Prometheus' histogram_quantile reads a histogram). Exit 1 when the target is not reached (the
writer exited, or the timeout passed).
"""
import argparse
import os
import re
import socket
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def scrape(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        text = r.read().decode()
    values, buckets = {}, []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "lottery_writer_transaction_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
        elif not labels:
            values[name] = value
    return values, sorted(buckets)


def quantile(q, buckets):
    """histogram_quantile: linear interpolation inside the bucket that holds the q-th sample."""
    if not buckets or buckets[-1][1] == 0:
        return 0.0
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            span = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / span if span else 1)
        lower_bound, lower_count = bound, count
    return lower_bound


def line(records, window_records, elapsed, values, buckets):
    """records: all committed; the rate is window_records over elapsed seconds."""
    rate = window_records / elapsed if elapsed > 0 else 0
    return ("records=%d elapsed_s=%.3f rate_per_s=%.0f batches=%d commit_p50_ms=%.1f "
            "commit_p99_ms=%.1f" % (records, elapsed, rate,
                                    values.get("lottery_writer_batches_total", 0),
                                    quantile(0.5, buckets) * 1000, quantile(0.99, buckets) * 1000))


def alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def progress(args):
    deadline = time.monotonic() + args.timeout
    first = None  # (time, count) of the first sample with records
    while time.monotonic() < deadline:
        try:
            values, buckets = scrape(args.url)
        except OSError:
            if not alive(args.pid):
                break
            time.sleep(0.05)
            continue
        now, count = time.monotonic(), values.get("lottery_writer_consumed_total", 0)
        if count > 0 and first is None:
            first = (now, count)
        if count >= args.target:
            # The first sample came up to 50 ms after its records: the rate is of what followed.
            print(line(count, count - first[1], now - first[0], values, buckets))
            return 0
        if not alive(args.pid):
            break
        time.sleep(0.05)
    print("writer_metrics: lottery_writer_consumed_total did not reach %d" % args.target,
          file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port")
    pr = sub.add_parser("progress")
    pr.add_argument("url")
    pr.add_argument("--target", type=int, required=True)
    pr.add_argument("--pid", type=int)
    pr.add_argument("--timeout", type=float, default=3600)
    sn = sub.add_parser("snapshot")
    sn.add_argument("url")
    args = p.parse_args()
    if args.cmd == "free-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
        return 0
    if args.cmd == "progress":
        return progress(args)
    values, buckets = scrape(args.url)
    print(line(values.get("lottery_writer_consumed_total", 0), 0, 0, values, buckets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
