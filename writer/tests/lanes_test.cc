#include "lottery/writer/lanes.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace lottery::writer {
namespace {

RawMessage Record(int32_t partition, int64_t offset, std::string topic = "t") {
  RawMessage m;
  m.topic = std::move(topic);
  m.partition = partition;
  m.offset = offset;
  return m;
}

// "p:offset" of each record, lane by lane.
std::vector<std::vector<std::string>> Shape(const std::vector<std::vector<RawMessage>>& lanes) {
  std::vector<std::vector<std::string>> out;
  for (const auto& lane : lanes) {
    out.emplace_back();
    for (const RawMessage& m : lane)
      out.back().push_back(m.topic + std::to_string(m.partition) + ":" + std::to_string(m.offset));
  }
  return out;
}

TEST(SplitIntoLanes, EmptyBatchGivesNoLanes) { EXPECT_TRUE(SplitIntoLanes({}, 4, 1).empty()); }

TEST(SplitIntoLanes, OneLaneOrOnePartitionKeepsTheBatchWhole) {
  std::vector<RawMessage> batch = {Record(0, 1), Record(1, 1), Record(0, 2)};
  EXPECT_EQ(Shape(SplitIntoLanes(batch, 1, 1)),
            (std::vector<std::vector<std::string>>{{"t0:1", "t1:1", "t0:2"}}));
  EXPECT_EQ(Shape(SplitIntoLanes({Record(2, 5), Record(2, 6)}, 4, 1)),
            (std::vector<std::vector<std::string>>{{"t2:5", "t2:6"}}));
}

TEST(SplitIntoLanes, NeverSplitsAPartitionAndKeepsItsOrder) {
  std::vector<RawMessage> batch = {Record(0, 10), Record(1, 20), Record(0, 11),
                                   Record(2, 30), Record(1, 21), Record(0, 12)};
  // p0 has 3 records (lane 0); p1 has 2, p2 has 1: both on lane 1, which has fewer.
  EXPECT_EQ(Shape(SplitIntoLanes(batch, 2, 1)),
            (std::vector<std::vector<std::string>>{{"t0:10", "t0:11", "t0:12"},
                                                   {"t1:20", "t2:30", "t1:21"}}));
}

TEST(SplitIntoLanes, NoMoreLanesThanPartitions) {
  std::vector<RawMessage> batch = {Record(0, 1), Record(1, 1), Record(0, 2)};
  EXPECT_EQ(SplitIntoLanes(batch, 8, 1).size(), 2u);
}

TEST(SplitIntoLanes, ASmallBatchStaysOneTransaction) {
  std::vector<RawMessage> batch;
  for (int i = 0; i < 900; ++i) batch.push_back(Record(i % 3, i));
  EXPECT_EQ(SplitIntoLanes(batch, 4, 500).size(), 1u);  // 900 / 500 = 1 lane
  EXPECT_EQ(SplitIntoLanes(batch, 4, 300).size(), 3u);
  EXPECT_EQ(SplitIntoLanes(batch, 2, 300).size(), 2u);
}

TEST(SplitIntoLanes, SameNumberedPartitionsOfTwoTopicsAreDifferentPartitions) {
  std::vector<RawMessage> batch = {Record(0, 1, "a"), Record(0, 1, "b")};
  EXPECT_EQ(Shape(SplitIntoLanes(batch, 2, 1)),
            (std::vector<std::vector<std::string>>{{"a0:1"}, {"b0:1"}}));
}

TEST(SplitIntoLanes, BalancesLargestFirstAndKeepsEveryRecord) {
  // Partition sizes p0..p3 = 3, 5, 4, 3, placed 5, 4, 3 (p0, seen first), 3: lane 0 gets p1 and
  // p3 (8 records), lane 1 gets p2 and p0 (7).
  std::vector<RawMessage> batch;
  const int sizes[] = {3, 5, 4, 3};
  for (int p = 0; p < 4; ++p)
    for (int k = 0; k < sizes[p]; ++k) batch.push_back(Record(p, k));
  auto lanes = SplitIntoLanes(batch, 2, 1);
  ASSERT_EQ(lanes.size(), 2u);
  EXPECT_EQ(lanes[0].size(), 8u);
  EXPECT_EQ(lanes[1].size(), 7u);
  EXPECT_EQ(lanes[0].front().partition, 1);  // the batch's order: p1's records before p3's
  EXPECT_EQ(lanes[1].front().partition, 0);
}

}  // namespace
}  // namespace lottery::writer
