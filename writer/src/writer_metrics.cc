// The writer's metrics (docs/writer.md lists them) and how a committed batch is counted.
#include "absl/strings/str_cat.h"
#include "lottery/writer/writer.h"
#include "spdlog/spdlog.h"

namespace lottery::writer {

WriterMetrics::WriterMetrics(lottery::metrics::Registry& r)
    : registry(r),
      consumed(r.AddCounter("lottery_writer_consumed_total", "Kafka records applied (committed)")),
      entries(r.AddCounter("lottery_writer_entries_total", "lottery_entry rows inserted")),
      duplicates(r.AddCounter("lottery_writer_duplicates_total",
                              "stakes whose event id was already applied")),
      conflicting_duplicates(
          r.AddCounter("lottery_writer_conflicting_duplicates_total",
                       "stakes whose event id was already applied with another body (rejected)")),
      rejected(
          r.AddCounter("lottery_writer_rejected_total", "malformed stakes (rejected_stake + DLQ)")),
      skipped(r.AddCounter("lottery_writer_skipped_total", "records of another eventType")),
      opened(r.AddCounter("lottery_writer_lotteries_opened_total", "lotteries created")),
      started(
          r.AddCounter("lottery_writer_lotteries_started_total", "lotteries filled and started")),
      finished(r.AddCounter("lottery_writer_lotteries_finished_total", "lotteries drawn")),
      awards(r.AddCounter("lottery_writer_awards_total", "lottery_award rows created")),
      draw_failures(r.AddCounter("lottery_writer_draw_failures_total",
                                 "draws that failed (lottery left started)")),
      batches(r.AddCounter("lottery_writer_batches_total", "committed batch transactions")),
      retries(r.AddCounter("lottery_writer_batch_retries_total",
                           "batch transactions redone after an error")),
      fenced(r.AddCounter("lottery_writer_fenced_total",
                          "partitions re-sought because PostgreSQL held another offset")),
      pruned(
          r.AddCounter("lottery_writer_outbox_pruned_total", "outbox rows deleted by retention")),
      offset_resets(r.AddCounter(
          "lottery_writer_offset_resets_total",
          "partitions whose stored offset the broker no longer had (recreated topic, retention)")),
      batch_size(r.AddHistogram("lottery_writer_batch_size", "records per committed batch",
                                {1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000})),
      txn_seconds(r.AddHistogram("lottery_writer_transaction_seconds",
                                 "batch transaction latency (BEGIN..COMMIT)",
                                 lottery::metrics::LatencyBuckets())),
      lag(r.AddGauge("lottery_writer_consumer_lag",
                     "records behind the high watermark, all partitions")),
      ready(r.AddGauge("lottery_writer_ready", "1 while /readyz answers 200")) {}

void WriterMetrics::CountBatch(const BatchResult& r) {
  batch_size.Observe(static_cast<double>(r.consumed));
  batches.Inc();
  consumed.Inc(r.consumed);
  entries.Inc(r.entries);
  duplicates.Inc(r.duplicates);
  conflicting_duplicates.Inc(r.conflicting_duplicates);
  rejected.Inc(r.rejected);
  skipped.Inc(r.skipped);
  opened.Inc(r.lotteries_opened);
  started.Inc(r.lotteries_started);
  finished.Inc(r.lotteries_finished);
  awards.Inc(r.awards);
  draw_failures.Inc(r.draw_failures);
  for (const auto& [type, n] : r.skipped_by_type) {
    spdlog::debug("skipped {} record(s) of eventType '{}'", n, type);
    const std::string label = skip_labels.LabelFor(type);
    lottery::metrics::Counter*& c = skipped_by_type[label];
    if (c == nullptr) {
      c = &registry.AddCounter(
          absl::StrCat("lottery_writer_skipped_by_type_total{event_type=\"", label, "\"}"),
          "records of another eventType, by type (the first 20 types; later ones as \"other\")");
    }
    c->Inc(n);
  }
}

}  // namespace lottery::writer
