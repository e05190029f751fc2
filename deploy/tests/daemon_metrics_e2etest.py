#!/usr/bin/env python3
"""The daemons' real /metrics output, linted, and the Grafana dashboard checked against it.

Starts lottery-writer and lottery-cdc-relay against the stack in LOTTERY_PG_DSN /
LOTTERY_KAFKA_BOOTSTRAP (a database, topics, consumer group and slot of their own), sends a few
stakes through so that the lazily created series exist too, scrapes both /metrics and checks:

  - `promtool check metrics` finds no problem (names, units, `_total` on counters, ...);
  - every label name has one documented meaning (LABEL_MEANINGS), whichever metric carries it;
  - every metric the dashboard (deploy/grafana/lottery.json) and the alert rules
    (deploy/prometheus/alerts.yml) query is exported by a daemon.

Usage: daemon_metrics_e2etest.py BIN_DIR REPO_ROOT   (ctest: deploy_daemon_metrics_e2etest)
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import yaml  # Debian's python3-yaml (scripts/bootstrap)

# One meaning per label name across both daemons. A new label needs a line here, so that the
# same name never means two different things.
LABEL_MEANINGS = {
    "le": "histogram bucket upper bound",
    "partition": "Kafka partition of the stake topic",
    "event_type": "eventType of a skipped stake-topic record",
    "kind": "kind of an outbox change the relay does not publish",
    "reason": "why an outbox row was dead-lettered",
}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dsn_with_db(dsn, db):
    if re.search(r"\bdbname=\S+", dsn):
        return re.sub(r"\bdbname=\S+", "dbname=" + db, dsn)
    return dsn + " dbname=" + db


def psql(dsn, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def scrape(port, deadline_s=30):
    end = time.time() + deadline_s
    last = None
    while time.time() < end:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                return r.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.3)
    raise RuntimeError("no /metrics on port %d: %s" % (port, last))


def wait_ready(port, proc, deadline_s=60):
    end = time.time() + deadline_s
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (proc.args[0], proc.returncode))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("port %d: /readyz not 200 within %d s" % (port, deadline_s))


def families(text):
    """{family: {"type": t, "samples": {sample name}, "labels": {label names}}}"""
    fams, types = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            fams.setdefault(m.group(1), {"type": m.group(2), "samples": set(), "labels": set()})
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if not m:
            fail("unparsable sample line: %r" % line)
            continue
        name = m.group(1)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                fam = name[: -len(suffix)]
        f = fams.setdefault(fam, {"type": types.get(fam, "untyped"), "samples": set(), "labels": set()})
        f["samples"].add(name)
        for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""):
            f["labels"].add(lm.group(1))
    return fams


def queried_metrics(exprs):
    names = set()
    for e in exprs:
        e = re.sub(r'"[^"]*"', '""', e)          # label values are not metric names
        e = re.sub(r"\[[^\]]*\]", "", e)          # range selectors
        names.update(re.findall(r"\b(lottery_[a-z0-9_]+)\b", e))
    return names


def check_exposition(name, text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or out:
        fail("promtool check metrics on %s (exit %d):\n%s" % (name, r.returncode, out))
    else:
        print("ok: promtool check metrics: %s" % name)


def main():
    bin_dir, root = sys.argv[1], sys.argv[2]
    dsn, bootstrap = os.environ.get("LOTTERY_PG_DSN"), os.environ.get("LOTTERY_KAFKA_BOOTSTRAP")
    if not dsn or not bootstrap:
        print("LOTTERY_PG_DSN and LOTTERY_KAFKA_BOOTSTRAP must be set (make test starts the stack)")
        return 1
    tag = "opsm%d_%d" % (os.getpid(), random.randrange(1 << 30))
    db = tag
    db_dsn = dsn_with_db(dsn, db)
    psql(dsn, "CREATE DATABASE %s" % db)
    procs = []
    try:
        # Each daemon runs under its shipped role, as in production (README "Database privileges").
        password = "test-only-password"
        subprocess.run([os.path.join(bin_dir, "lottery-migrate"), "--pg-dsn", db_dsn, "--roles"],
                       check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, LOTTERY_WRITER_PASSWORD=password,
                                LOTTERY_RELAY_PASSWORD=password))
        wport, rport = free_port(), free_port()
        env = dict(os.environ, LOTTERY_KAFKA_BOOTSTRAP=bootstrap, PGPASSWORD=password,
                   LOTTERY_LOG_LEVEL=os.environ.get("LOTTERY_LOG_LEVEL", "warn"))
        env.pop("LOTTERY_METRICS_ADDR", None)
        if not env.get("LOTTERY_SEED_KEY_FILE") and not env.get("LOTTERY_SEED_KEYS"):
            env["LOTTERY_SEED_KEYS"] = "opsm-1:" + os.urandom(32).hex()  # docs/fairness.md
        # A few stakes first (the topic is created by them), so that the per-partition lag and
        # the relay's publish path have values when scraped.
        subprocess.run([os.path.join(bin_dir, "lottery-stakegen"), "--kafka-bootstrap", bootstrap,
                        "--topic-prefix", tag + "_", "--count", "60", "--games", "2",
                        "--players", "12"], env=env, check=True, stdout=subprocess.DEVNULL)
        relay = subprocess.Popen(
            [os.path.join(bin_dir, "lottery-cdc-relay"), "run", "--slot", tag,
             "--pg-dsn", db_dsn + " user=lottery_relay",
             "--checkpoint-topic", tag + ".checkpoints",
             "--dlq-topic", tag + ".dlq", "--metrics-addr", "127.0.0.1:%d" % rport], env=env)
        procs.append(relay)
        # The writer starts once the relay streams, so that its awards travel the WAL path
        # (rows written before the slot existed would go through the initial snapshot instead).
        scrape(rport)
        wait_ready(rport, relay)
        writer = subprocess.Popen(
            [os.path.join(bin_dir, "lottery-writer"), "--topic-prefix", tag + "_",
             "--pg-dsn", db_dsn + " user=lottery_writer",
             "--consumer-group", tag, "--metrics-addr", "127.0.0.1:%d" % wport,
             "--players-per-lottery", "3"], env=env)
        procs.append(writer)
        end = time.time() + 60
        while time.time() < end:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %d" % (p.args[0], p.returncode))
            wtext, rtext = scrape(wport), scrape(rport)
            published = re.search(r"^lottery_relay_events_published_total (\S+)", rtext, re.M)
            if published and float(published.group(1)) > 0 and "partition=" in wtext:
                break
            time.sleep(0.5)
        else:
            fail("no event published by the relay within 60 s (or no partition lag series):\n%s" % (
                "\n".join(l for l in (wtext + rtext).splitlines()
                          if re.match(r"lottery_(writer_(consumed|entries|awards|ready|consumer_lag|partition_lag)|"
                                      r"relay_events)", l))))

        check_exposition("lottery-writer /metrics", wtext)
        check_exposition("lottery-cdc-relay /metrics", rtext)
        fams = {}
        for daemon, text in (("lottery-writer", wtext), ("lottery-cdc-relay", rtext)):
            for fam, f in families(text).items():
                if fam in fams:
                    fail("metric family %s exported by two daemons" % fam)
                fams[fam] = dict(f, daemon=daemon)
                if not fam.startswith("lottery_"):
                    fail("%s: %s does not start with lottery_" % (daemon, fam))
                for label in f["labels"]:
                    if label not in LABEL_MEANINGS:
                        fail("%s: label %r of %s has no entry in LABEL_MEANINGS" % (daemon, label, fam))
        print("ok: %d metric families, labels %s" % (
            len(fams), sorted({l for f in fams.values() for l in f["labels"]})))

        exported = {s for f in fams.values() for s in f["samples"]} | set(fams)
        with open(os.path.join(root, "deploy/grafana/lottery.json")) as fh:
            dash = json.load(fh)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        for name in sorted(queried_metrics(exprs)):
            if name not in exported:
                fail("deploy/grafana/lottery.json queries %s, which no daemon exports" % name)
        print("ok: dashboard: %d queries over %d metrics" % (len(exprs), len(queried_metrics(exprs))))
        with open(os.path.join(root, "deploy/prometheus/alerts.yml")) as fh:
            rules = yaml.safe_load(fh)
        alert_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
        for name in sorted(queried_metrics(alert_exprs)):
            if name not in exported:
                fail("deploy/prometheus/alerts.yml queries %s, which no daemon exports" % name)
        print("ok: alert rules: %d metrics queried" % len(queried_metrics(alert_exprs)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            psql(dsn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      "WHERE slot_name = '%s'" % tag)
            psql(dsn, "DROP DATABASE IF EXISTS %s" % db)
        except subprocess.CalledProcessError as e:
            print("cleanup: %s" % e)
    if failures:
        print("%d problem(s)" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
