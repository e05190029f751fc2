// The relay's Prometheus metrics (docs/relay.md lists them). Private to src/.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "lottery/cdc/record_guard.h"
#include "lottery/common/metrics.h"

namespace lottery::cdc {

struct Metrics {
  explicit Metrics(metrics::Registry& r)
      : events_decoded(r.AddCounter("lottery_relay_events_decoded_total",
                                    "Outbox inserts decoded from the WAL")),
        events_published(r.AddCounter("lottery_relay_events_published_total",
                                      "Outbox events committed to Kafka")),
        pg_txns_published(r.AddCounter("lottery_relay_pg_transactions_published_total",
                                       "PostgreSQL transactions committed to Kafka")),
        pg_txns_skipped(r.AddCounter(
            "lottery_relay_pg_transactions_skipped_total",
            "PostgreSQL transactions re-sent by the slot but already in Kafka (checkpoint)")),
        kafka_committed(r.AddCounter("lottery_relay_kafka_transactions_committed_total",
                                     "Kafka transactions committed")),
        kafka_aborted(r.AddCounter("lottery_relay_kafka_transactions_aborted_total",
                                   "Kafka transactions aborted")),
        commit_seconds(r.AddHistogram("lottery_relay_kafka_commit_seconds",
                                      "Duration of commit_transaction", metrics::LatencyBuckets())),
        lag_bytes(r.AddGauge("lottery_relay_lag_bytes",
                             "Server WAL end minus the LSN confirmed to PostgreSQL")),
        lag_seconds(r.AddGauge(
            "lottery_relay_lag_seconds",
            "At the last Kafka commit: now minus the commit time of its last PostgreSQL txn")),
        last_published_commit_time(
            r.AddGauge("lottery_relay_last_published_commit_timestamp_seconds",
                       "Commit time (unix) of the last PostgreSQL transaction published to Kafka")),
        retained_bytes(r.AddGauge("lottery_relay_slot_retained_wal_bytes",
                                  "WAL retained by the slot: current WAL LSN - restart_lsn")),
        confirmed_lsn(r.AddGauge("lottery_relay_confirmed_lsn", "LSN confirmed to PostgreSQL")),
        unstable_commit_age(r.AddGauge(
            "lottery_relay_unstable_commit_age_seconds",
            "How long the oldest committed Kafka transaction has waited for Kafka to show its "
            "records as stable (its LSN is not confirmed until then); 0 when none waits")),
        reconnects(r.AddCounter("lottery_relay_reconnects_total",
                                "Replication sessions restarted (errors, aborts)")),
        producer_restarts(r.AddCounter(
            "lottery_relay_producer_restarts_total",
            "Transactional producers replaced after the broker ended one (not fenced by a relay)")),
        updates(r.AddCounter("lottery_relay_ignored_changes_total{kind=\"update\"}",
                             "Outbox changes that are not published (the outbox is insert-only)")),
        deletes(r.AddCounter("lottery_relay_ignored_changes_total{kind=\"delete\"}", "")),
        truncates(r.AddCounter("lottery_relay_ignored_changes_total{kind=\"truncate\"}", "")),
        messages(r.AddCounter("lottery_relay_ignored_changes_total{kind=\"message\"}", "")) {
    const char* help = "Outbox rows written to the dead-letter topic instead of their own";
    for (RecordError e :
         {RecordError::kInvalidTopic, RecordError::kTooLarge, RecordError::kBadHeaders,
          RecordError::kReservedHeader, RecordError::kRejectedByKafka}) {
      dead_lettered[static_cast<int>(e)] = &r.AddCounter(
          absl::StrCat("lottery_relay_dead_lettered_total{reason=\"", RecordErrorLabel(e), "\"}"),
          help);
      help = "";
    }
  }
  metrics::Counter& DeadLettered(RecordError e) { return *dead_lettered[static_cast<int>(e)]; }
  metrics::Counter& events_decoded;
  metrics::Counter& events_published;
  metrics::Counter& pg_txns_published;
  metrics::Counter& pg_txns_skipped;
  metrics::Counter& kafka_committed;
  metrics::Counter& kafka_aborted;
  metrics::Histogram& commit_seconds;
  metrics::Gauge& lag_bytes;
  metrics::Gauge& lag_seconds;
  metrics::Gauge& last_published_commit_time;
  metrics::Gauge& retained_bytes;
  metrics::Gauge& confirmed_lsn;
  metrics::Gauge& unstable_commit_age;
  metrics::Counter& reconnects;
  metrics::Counter& producer_restarts;
  metrics::Counter& updates;
  metrics::Counter& deletes;
  metrics::Counter& truncates;
  metrics::Counter& messages;
  metrics::Counter* dead_lettered[6] = {};
};

}  // namespace lottery::cdc
