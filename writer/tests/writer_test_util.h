// Helpers of the writer's integration tests: stakes in the game service's exact format, the
// writer as a child process, and the invariants every test checks at the end.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/testing/stack.h"
#include "lottery/v1/award.pb.h"
#include "lottery/writer/ingest.h"
#include "lottery/writer/seed_keys.h"

namespace lottery::writer::testing {

// The game service's JSON, byte for byte.
std::string StakeJson(const std::string& player, const std::string& game, const std::string& stake);
std::string NewId();  // a fresh lowercase v4 UUID

// A valid stake record with header uuid = event_id.
lottery::testing::OutRecord StakeRecord(const std::string& topic, const std::string& event_id,
                                        const std::string& player, const std::string& game,
                                        const std::string& stake, int partition = -1);

// A fresh seed keyring text "<id>:<64 random hex digits>" (one key), for a test's own key file.
std::string NewSeedKeyText(const std::string& id);
// The keyring of in-process ingest tests: LOTTERY_SEED_KEYS (set by CTest for every test, so a
// writer child process holds the same keys), or a fresh key when run outside CTest.
std::shared_ptr<const SeedKeyring> TestKeyring();

// Creates `topic` with 3 partitions.
void CreateTopic(const std::string& topic, int partitions = 3);

// Starts lottery-writer against `db_dsn` / `topic` / `group` with extra flags.
std::unique_ptr<lottery::testing::Process> StartWriter(const std::string& db_dsn,
                                                       const std::string& topic,
                                                       const std::string& group,
                                                       const std::vector<std::string>& extra_args,
                                                       const std::string& log_name);

// The counts of a committed batch; a fenced one is kFailedPrecondition naming the partitions.
absl::StatusOr<BatchResult> Committed(absl::StatusOr<BatchOutcome> outcome);

// An int64 scalar.
int64_t Count(const lottery::testing::TestDatabase& db, const std::string& sql);

// Asserts the invariants that hold after any run (gtest failures, not exceptions):
//  - at most one in_waiting lottery per game; a lottery's player_count = its distinct players,
//    entry_count = its entries, entry_no = 1..entry_count;
//  - finished lotteries have exactly players_needed distinct players, one award, one
//    lotteryAwardCreated outbox row whose AwardCreated verifies (VerifyAward) and names the
//    stored winner and win_sum, exactly one winner entry player; no lottery left started;
//  - every finished lottery has one lotteryStarted row; with `created_events`, every lottery
//    one lotteryCreated row (off for tests that insert lotteries themselves).
//  - every award reveals the seed of the commitment stored with its lottery.
void ExpectInvariants(const lottery::testing::TestDatabase& db, bool created_events = true);

// The protobuf AwardCreated events of the outbox, by lottery id.
std::map<std::string, lottery::v1::AwardCreated> AwardsByLottery(
    const lottery::testing::TestDatabase& db);

}  // namespace lottery::writer::testing
