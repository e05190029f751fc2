// The batching / checkpoint / skip logic of the relay, without servers.
#include "lottery/cdc/relay_core.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;

constexpr Oid kOutboxOid = 16400;

Relation OutboxRelation(bool with_extra_column = false) {
  Relation r;
  r.oid = kOutboxOid;
  r.namespace_name = "public";
  r.relation_name = "outbox";
  for (const char* name : {"seq", "id", "aggregatetype", "aggregateid", "type", "topic",
                           "content_type", "payload", "headers", "txid", "created_at"}) {
    r.columns.push_back(RelationColumn{0, name, 25, -1});
  }
  if (with_extra_column) r.columns.push_back(RelationColumn{0, "extra", 25, -1});
  return r;
}

Insert OutboxInsert(int n, bool with_extra_column = false) {
  auto t = [](std::string s) { return TupleValue{TupleValue::Kind::kText, std::move(s)}; };
  Insert ins;
  ins.relation_oid = kOutboxOid;
  ins.new_tuple.columns = {t(std::to_string(n)),
                           t("00000000-0000-0000-0000-00000000000" + std::to_string(n % 10)),
                           t("award"),
                           t("key" + std::to_string(n)),
                           t("lotteryAwardCreated"),
                           t("lottery.v1.award"),
                           t("application/json"),
                           t("\\x6869"),
                           t("{\"a\": \"b\"}"),
                           t("777"),
                           t("2024-01-01 00:00:00+00")};
  if (with_extra_column) ins.new_tuple.columns.push_back(t("x"));
  return ins;
}

Begin B(Lsn final_lsn, TransactionId xid = 7) { return Begin{final_lsn, 1000, xid}; }
Commit C(Lsn commit_lsn, Lsn end_lsn) { return Commit{0, commit_lsn, end_lsn, 2000}; }

TEST(TxnAssemblerTest, BuffersAWholeTransactionAndReturnsItAtCommit) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  auto r = a.Feed(B(0x100));
  ASSERT_OK(r.status());
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(a.in_transaction());
  ASSERT_OK(a.Feed(OutboxInsert(1)).status());
  ASSERT_OK(a.Feed(OutboxInsert(2)).status());
  r = a.Feed(C(0x100, 0x130));
  ASSERT_OK(r.status());
  ASSERT_TRUE(r->has_value());
  const CommittedTxn& txn = **r;
  EXPECT_EQ(txn.end_lsn, 0x130u);
  EXPECT_EQ(txn.commit_lsn, 0x100u);
  EXPECT_EQ(txn.xid, 7u);
  EXPECT_THAT(txn.events, ElementsAre(Field(&OutboxEvent::aggregateid, "key1"),
                                      Field(&OutboxEvent::aggregateid, "key2")));
  EXPECT_EQ(txn.events[0].payload, "hi");
  EXPECT_FALSE(a.in_transaction());
  EXPECT_EQ(a.events_decoded(), 2u);
}

TEST(TxnAssemblerTest, ALargeTransactionIsHandedOutInChunksAndItsCommitCountsThem) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  EXPECT_TRUE(a.TakeBuffered().empty());  // outside a transaction
  ASSERT_OK(a.Feed(B(0x100, 9)).status());
  EXPECT_EQ(a.open_xid(), 9u);
  EXPECT_EQ(a.open_final_lsn(), 0x100u);
  for (int i = 1; i <= 3; ++i) ASSERT_OK(a.Feed(OutboxInsert(i)).status());
  EXPECT_EQ(a.buffered_events(), 3u);
  std::vector<OutboxEvent> chunk = a.TakeBuffered();
  EXPECT_THAT(chunk, ElementsAre(Field(&OutboxEvent::aggregateid, "key1"),
                                 Field(&OutboxEvent::aggregateid, "key2"),
                                 Field(&OutboxEvent::aggregateid, "key3")));
  EXPECT_EQ(a.buffered_events(), 0u);
  ASSERT_OK(a.Feed(OutboxInsert(4)).status());
  auto r = a.Feed(C(0x100, 0x130));
  ASSERT_OK(r.status());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->streamed_events, 3u);
  EXPECT_THAT((*r)->events, ElementsAre(Field(&OutboxEvent::aggregateid, "key4")));

  // The tracker counts the streamed rows in the batch, and decides a re-send at Begin.
  BatchTracker t({500, absl::Milliseconds(20)}, /*checkpoint=*/0x100, /*confirmed=*/0x100);
  EXPECT_TRUE(t.WillSkip(0x0f0));   // its commit record starts before the checkpoint's end
  EXPECT_FALSE(t.WillSkip(0x100));  // starts right at it: a newer transaction
  EXPECT_EQ(t.Add(**r, absl::FromUnixSeconds(1000)), BatchTracker::Action::kPublish);
  EXPECT_EQ(t.batch_events(), 4u);
  CommittedTxn all_streamed = **r;
  all_streamed.events.clear();
  BatchTracker t2({500, absl::Milliseconds(20)}, 0, 0);
  EXPECT_EQ(t2.Add(all_streamed, absl::FromUnixSeconds(1000)),
            BatchTracker::Action::kPublish);  // not "nothing"
  EXPECT_EQ(t2.batch_events(), 3u);
}

TEST(TxnAssemblerTest, FollowsANewRelationMidStream) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  ASSERT_OK(a.Feed(B(0x100)).status());
  ASSERT_OK(a.Feed(OutboxInsert(1)).status());
  ASSERT_OK(a.Feed(OutboxRelation(/*with_extra_column=*/true)).status());
  ASSERT_OK(a.Feed(OutboxInsert(2, /*with_extra_column=*/true)).status());
  auto r = a.Feed(C(0x100, 0x130));
  ASSERT_OK(r.status());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->events.size(), 2u);
}

TEST(TxnAssemblerTest, ProtocolViolationsAreDataLoss) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  EXPECT_THAT(a.Feed(OutboxInsert(1)).status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(a.Feed(C(1, 2)).status(), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK(a.Feed(B(0x100)).status());
  EXPECT_THAT(a.Feed(B(0x200)).status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(a.Feed(C(0x999, 0x9a0)).status(), StatusIs(absl::StatusCode::kDataLoss));
  Insert unknown = OutboxInsert(1);
  unknown.relation_oid = 1;
  EXPECT_THAT(a.Feed(unknown).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(TxnAssemblerTest, AMalformedRowStopsInsteadOfBeingSkipped) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  ASSERT_OK(a.Feed(B(0x100)).status());
  Insert bad = OutboxInsert(1);
  bad.new_tuple.columns[7].data = "\\xZZ";  // payload not hex
  EXPECT_FALSE(a.Feed(bad).ok());
  Insert short_row = OutboxInsert(1);
  short_row.new_tuple.columns.pop_back();
  EXPECT_THAT(a.Feed(short_row).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(TxnAssemblerTest, UpdatesDeletesTruncatesAndMessagesAreCountedNotPublished) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  ASSERT_OK(a.Feed(B(0x100)).status());
  ASSERT_OK(
      a.Feed(Update{kOutboxOid, OldTupleKind::kNone, {}, OutboxInsert(1).new_tuple}).status());
  ASSERT_OK(a.Feed(Delete{kOutboxOid, OldTupleKind::kKey, {}}).status());
  ASSERT_OK(a.Feed(Truncate{0, {kOutboxOid}}).status());
  ASSERT_OK(a.Feed(LogicalMessage{1, 0x100, "p", "c"}).status());
  auto r = a.Feed(C(0x100, 0x130));
  ASSERT_OK(r.status());
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->events.empty());
  EXPECT_EQ(a.ignored().updates, 1u);
  EXPECT_EQ(a.ignored().deletes, 1u);
  EXPECT_EQ(a.ignored().truncates, 1u);
  EXPECT_EQ(a.ignored().messages, 1u);
}

TEST(TxnAssemblerTest, ResetDropsAHalfReceivedTransactionAndTheSchemas) {
  TxnAssembler a;
  ASSERT_OK(a.Feed(OutboxRelation()).status());
  ASSERT_OK(a.Feed(B(0x100)).status());
  ASSERT_OK(a.Feed(OutboxInsert(1)).status());
  a.Reset();
  EXPECT_FALSE(a.in_transaction());
  ASSERT_OK(a.Feed(B(0x100)).status());
  EXPECT_THAT(a.Feed(OutboxInsert(1)).status(), StatusIs(absl::StatusCode::kDataLoss));
}

CommittedTxn Txn(Lsn end, int events) {
  CommittedTxn t;
  t.end_lsn = end;
  t.commit_lsn = end - 8;
  for (int i = 0; i < events; ++i) t.events.push_back(OutboxEvent{});
  return t;
}

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(BatchTrackerTest, SkipsWhatTheCheckpointHoldsAndConfirmsIt) {
  BatchTracker t({500, absl::Milliseconds(20)}, /*checkpoint=*/0x200, /*confirmed=*/0x100);
  EXPECT_EQ(t.confirmable(), 0x200u);  // the checkpoint is in Kafka: confirmable at once
  EXPECT_EQ(t.Add(Txn(0x150, 1), kT0), BatchTracker::Action::kSkip);
  EXPECT_EQ(t.Add(Txn(0x200, 2), kT0), BatchTracker::Action::kSkip);
  EXPECT_FALSE(t.batch_open());
  EXPECT_EQ(t.Add(Txn(0x208, 1), kT0), BatchTracker::Action::kPublish);
  EXPECT_TRUE(t.batch_open());
  EXPECT_EQ(t.confirmable(), 0x200u);
}

TEST(BatchTrackerTest, ConfirmsOnlyAfterTheKafkaCommit) {
  BatchTracker t({3, absl::Milliseconds(20)}, 0, 0x100);
  EXPECT_EQ(t.Add(Txn(0x110, 2), kT0), BatchTracker::Action::kPublish);
  EXPECT_EQ(t.Add(Txn(0x120, 1), kT0), BatchTracker::Action::kPublish);
  EXPECT_EQ(t.confirmable(), 0x100u);
  EXPECT_FALSE(t.Due(kT0));
  EXPECT_EQ(t.Add(Txn(0x130, 1), kT0), BatchTracker::Action::kPublish);
  EXPECT_TRUE(t.Due(kT0));  // K transactions
  EXPECT_EQ(t.batch_end_lsn(), 0x130u);
  EXPECT_EQ(t.batch_events(), 4u);
  t.Committed();
  EXPECT_EQ(t.confirmable(), 0x130u);
  EXPECT_EQ(t.checkpoint(), 0x130u);
  EXPECT_FALSE(t.batch_open());
}

TEST(BatchTrackerTest, DueAfterMMilliseconds) {
  BatchTracker t({500, absl::Milliseconds(20)}, 0, 0);
  EXPECT_EQ(t.DueAt(), absl::InfiniteFuture());
  t.Add(Txn(0x110, 1), kT0);
  t.Add(Txn(0x120, 1), kT0 + absl::Milliseconds(15));
  EXPECT_FALSE(t.Due(kT0 + absl::Milliseconds(19)));
  EXPECT_TRUE(t.Due(kT0 + absl::Milliseconds(20)));
  EXPECT_EQ(t.DueAt(), kT0 + absl::Milliseconds(20));
}

TEST(BatchTrackerTest, GroupCommitIsDueWhenDrainedUnlessBehind) {
  BatchTracker t({500, absl::Milliseconds(20)}, 0, 0);
  EXPECT_FALSE(t.DueWhenDrained());  // nothing to commit
  EXPECT_EQ(t.Add(Txn(0x110, 0), kT0), BatchTracker::Action::kNothing);
  EXPECT_FALSE(t.DueWhenDrained());  // a transaction without outbox rows opens no batch
  t.Add(Txn(0x120, 1), kT0);
  EXPECT_TRUE(t.DueWhenDrained());
  EXPECT_FALSE(t.Due(kT0));  // without the drained signal, M still applies
  t.SetBacklogged(true);
  EXPECT_FALSE(t.DueWhenDrained());  // behind: batches grow (backlog_age, max_events)
  t.SetBacklogged(false);
  t.Committed();
  EXPECT_FALSE(t.DueWhenDrained());
}

TEST(BatchTrackerTest, ABacklogGrowsBatchesUpToTheirCaps) {
  BatchTracker t({500, absl::Milliseconds(20), absl::Milliseconds(250), 5}, 0, 0);
  t.SetBacklogged(true);
  t.Add(Txn(0x110, 2), kT0);
  EXPECT_FALSE(t.Due(kT0 + absl::Milliseconds(100)));  // behind: M does not apply
  EXPECT_TRUE(t.Due(kT0 + absl::Milliseconds(250)));
  t.Add(Txn(0x120, 3), kT0);
  EXPECT_TRUE(t.Due(kT0));  // max_events
  t.Committed();
  t.SetBacklogged(false);  // caught up: back to M
  t.Add(Txn(0x130, 1), kT0);
  EXPECT_TRUE(t.Due(kT0 + absl::Milliseconds(20)));
}

TEST(BatchTrackerTest, AbortConfirmsNothingAndTheRedeliveryIsPublishedAgain) {
  BatchTracker t({500, absl::Milliseconds(20)}, 0x100, 0x100);
  t.Add(Txn(0x110, 1), kT0);
  t.Aborted();
  EXPECT_EQ(t.confirmable(), 0x100u);
  EXPECT_EQ(t.checkpoint(), 0x100u);
  // The stream restarts from 0x100 and re-sends 0x110: it was never committed, so publish it.
  EXPECT_EQ(t.Add(Txn(0x110, 1), kT0), BatchTracker::Action::kPublish);
}

TEST(BatchTrackerTest, KeepaliveAdvancesOnlyWhenNothingIsPending) {
  BatchTracker t({500, absl::Milliseconds(20)}, 0, 0x100);
  t.OnServerPosition(0x500, /*in_pg_txn=*/true);
  EXPECT_EQ(t.confirmable(), 0x100u);
  t.OnServerPosition(0x500, /*in_pg_txn=*/false);
  EXPECT_EQ(t.confirmable(), 0x500u);
  t.Add(Txn(0x600, 1), kT0);
  t.OnServerPosition(0x700, false);  // batch open: its events are not in Kafka yet
  EXPECT_EQ(t.confirmable(), 0x500u);
  t.Committed();
  EXPECT_EQ(t.confirmable(), 0x600u);
  t.OnServerPosition(0x300, false);  // never backwards
  EXPECT_EQ(t.confirmable(), 0x600u);
}

TEST(BatchTrackerTest, TransactionsWithoutEventsJoinAnOpenBatchOrAreConfirmable) {
  BatchTracker t({500, absl::Milliseconds(20)}, 0, 0x100);
  EXPECT_EQ(t.Add(Txn(0x110, 0), kT0), BatchTracker::Action::kNothing);
  EXPECT_EQ(t.confirmable(), 0x110u);
  EXPECT_EQ(t.Add(Txn(0x120, 1), kT0), BatchTracker::Action::kPublish);
  EXPECT_EQ(t.Add(Txn(0x130, 0), kT0), BatchTracker::Action::kPublish);
  EXPECT_EQ(t.confirmable(), 0x110u);  // 0x130 must wait for 0x120's Kafka commit
  t.Committed();
  EXPECT_EQ(t.confirmable(), 0x130u);
}

}  // namespace
}  // namespace lottery::cdc

namespace lottery::cdc {
namespace {

TEST(ProgressWatchTest, LagWithAFlatConfirmedLsnIsAStall) {
  ProgressWatch w(absl::Seconds(60));
  absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  w.OnPosition(100, 500, t0);
  EXPECT_EQ(w.Stalled(t0 + absl::Seconds(59)), "");
  EXPECT_THAT(w.Stalled(t0 + absl::Seconds(61)), ::testing::HasSubstr("has not advanced"));
  w.OnPosition(150, 500, t0 + absl::Seconds(62));  // it moved
  EXPECT_EQ(w.Stalled(t0 + absl::Seconds(100)), "");
  // Idle with no lag is never a stall, however long.
  w.OnPosition(150, 0, t0 + absl::Seconds(200));
  EXPECT_EQ(w.Stalled(t0 + absl::Hours(5)), "");
}

TEST(ProgressWatchTest, AbortsInARowAreAStallUntilACommit) {
  ProgressWatch w(absl::Seconds(60), 3);
  absl::Time t = absl::FromUnixSeconds(1'000'000);
  w.OnAbort();
  w.OnAbort();
  EXPECT_EQ(w.Stalled(t), "");
  w.OnAbort();
  EXPECT_THAT(w.Stalled(t), ::testing::HasSubstr("3 Kafka transactions in a row aborted"));
  w.OnCommit();
  EXPECT_EQ(w.Stalled(t), "");
}

}  // namespace
}  // namespace lottery::cdc
