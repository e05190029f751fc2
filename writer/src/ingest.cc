// ApplyBatch (see ingest.h for the contract): parse -> fence -> lock -> load -> plan -> write,
// between one BEGIN and one COMMIT. The decisions are PlanBatch's (batch_plan.h); the reads and
// writes are batch_store.h's, each one set-based statement, so the round trips of a batch stay
// about a dozen whatever its size.
#include "lottery/writer/ingest.h"

#include <set>

#include "batch_store.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "lottery/writer/batch_plan.h"
#include "spdlog/spdlog.h"

namespace lottery::writer {

namespace d = lottery::domain;

namespace {

// The games of the batch's stakes, each once.
std::vector<d::Uuid> GamesOf(const std::vector<BatchStake>& stakes) {
  std::set<d::Uuid> games;
  for (const BatchStake& s : stakes) games.insert(s.stake.game_id);
  return {games.begin(), games.end()};
}

// Load, plan and write `batch` over `games` (locked by the caller).
absl::StatusOr<BatchResult> PlanAndWrite(PGconn* conn, const ParsedBatch& batch,
                                         const std::vector<d::Uuid>& games,
                                         const IngestOptions& options) {
  ASSIGN_OR_RETURN(BatchState state, store::LoadBatchState(conn, games, batch.stakes, options));
  const PlanContext context{absl::Now(), [] { return d::NewTimeOrderedUuid(absl::Now()); },
                            &options};
  ASSIGN_OR_RETURN(BatchPlan plan, PlanBatch(state, batch, context));
  // Bad data in a stored lottery: it stays started (visible, retried later); ingesting goes on.
  for (const std::string& failure : plan.draw_failures) spdlog::error("draw failed: {}", failure);
  RETURN_IF_ERROR(store::WriteBatchPlan(conn, plan, options.consumer_group));
  return std::move(plan.result);
}

absl::StatusOr<BatchOutcome> InTransaction(PGconn* conn, const BatchInput& input,
                                           const IngestOptions& options) {
  const ParsedBatch batch = ParseBatch(input.messages, options.parse);
  ASSIGN_OR_RETURN(auto differing,
                   store::Fence(conn, options.consumer_group, batch.first_offset, input.expected));
  if (!differing.empty()) return Fenced{std::move(differing)};
  const std::vector<d::Uuid> games = GamesOf(batch.stakes);
  RETURN_IF_ERROR(store::LockGames(conn, games));
  ASSIGN_OR_RETURN(BatchResult result, PlanAndWrite(conn, batch, games, options));
  return result;
}

// Runs `body` between BEGIN and COMMIT; rolls back when it fails or the batch is fenced (when
// the connection is gone the server already did).
absl::StatusOr<BatchOutcome> InOneTransaction(
    PGconn* conn, const std::function<absl::StatusOr<BatchOutcome>()>& body) {
  RETURN_IF_ERROR(pg::ExecCommand(conn, "BEGIN"));
  absl::StatusOr<BatchOutcome> outcome = body();
  if (!outcome.ok() || std::holds_alternative<Fenced>(*outcome)) {
    (void)pg::ExecCommand(conn, "ROLLBACK");
    return outcome;
  }
  RETURN_IF_ERROR(pg::ExecCommand(conn, "COMMIT"));
  return outcome;
}

}  // namespace

absl::StatusOr<BatchOutcome> ApplyBatch(PGconn* conn, const BatchInput& input,
                                        const IngestOptions& options) {
  if (input.messages.empty()) return BatchResult{};
  return InOneTransaction(conn, [&] { return InTransaction(conn, input, options); });
}

absl::StatusOr<std::map<TopicPartition, int64_t>> ReadOffsets(
    PGconn* conn, const std::string& consumer_group,
    const std::vector<TopicPartition>& partitions) {
  return store::ReadOffsets(conn, consumer_group, partitions);
}

absl::StatusOr<int> DrawLeftoverLotteries(PGconn* conn, const IngestOptions& options) {
  ASSIGN_OR_RETURN(pg::ResultPtr rows,
                   pg::Exec(conn,
                            "SELECT DISTINCT game_id FROM lottery WHERE status = 'started' "
                            "ORDER BY game_id"));
  int finished = 0;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    ASSIGN_OR_RETURN(d::Uuid game, d::ParseUuid(pg::Value(rows.get(), i, 0)));
    // One game per transaction, under its lock: a plan of no stakes draws its leftovers.
    ASSIGN_OR_RETURN(BatchOutcome outcome,
                     InOneTransaction(conn, [&]() -> absl::StatusOr<BatchOutcome> {
                       RETURN_IF_ERROR(store::LockGames(conn, {game}));
                       return PlanAndWrite(conn, ParsedBatch{}, {game}, options);
                     }));
    finished += static_cast<int>(std::get<BatchResult>(outcome).lotteries_finished);
  }
  return finished;
}

absl::StatusOr<int64_t> PruneOutbox(PGconn* conn, int64_t retention_seconds, int limit) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr r,
      pg::Exec(
          conn,
          "WITH del AS (DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
          "WHERE created_at < now() - make_interval(secs => $1::bigint) ORDER BY seq LIMIT $2) "
          "RETURNING 1) SELECT count(*) FROM del",
          {pg::Param::Text(std::to_string(retention_seconds)),
           pg::Param::Text(std::to_string(limit))}));
  return pg::Int64At(r.get(), 0, 0);
}

}  // namespace lottery::writer
