// Which LSN the relay may confirm to PostgreSQL, given what Kafka shows as stable. Pure: the
// relay feeds it the last offsets of each committed Kafka transaction (from the delivery
// reports) and the partitions' last stable offsets (ListOffsets under read_committed).
//
// Why: commit_transaction returning OK is not enough. Kafka 4.4.0's coordinator completes a
// commit without writing the markers of a partition whose leader it cannot find (a single-replica
// partition while its broker shuts down). Those records stay in an open range, and the producer's
// next ABORT on that partition (the coordinator aborting an unfinished transaction after a
// restart) hides them. If their LSN had been confirmed, nothing would publish them again
// (docs/delivery.md, "Known gap"). A partition's last stable offset passes a record only when a
// marker closed its range, so the gate holds an LSN back until every partition of its
// transaction is stable past the transaction's records. A confirmation that comes later is
// harmless: after a restart the checkpoint skips what Kafka already holds.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "lottery/cdc/lsn.h"

namespace lottery::cdc {

struct TopicPartitionKey {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartitionKey& o) const {
    return partition == o.partition && topic == o.topic;
  }
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartitionKey& k) {
    return H::combine(std::move(h), k.topic, k.partition);
  }
};

// Per partition, the highest offset a transaction wrote there.
using LastOffsets = absl::flat_hash_map<TopicPartitionKey, int64_t>;

class ConfirmGate {
 public:
  // A Kafka transaction committed. `before`: the LSN that was confirmable before it; `lsn`: the
  // commit end LSN it covers; `last`: its records' highest offset per partition. A transaction
  // with no known offsets passes at once.
  void Committed(Lsn before, Lsn lsn, LastOffsets last, absl::Time now);
  // The partitions whose last stable offset would let the oldest transactions pass.
  std::vector<TopicPartitionKey> Wanted() const;
  // Last stable offsets read just now (a partition missing from `stable` is unknown). Passes
  // every transaction, oldest first, whose offsets are all below them.
  void OnStable(const LastOffsets& stable);
  // The LSN that may be confirmed: `confirmable` (the batch tracker's) capped below the oldest
  // transaction that has not passed.
  Lsn Cap(Lsn confirmable) const;
  size_t waiting() const { return waiting_.size(); }
  // Since when the oldest waiting transaction waits (InfiniteFuture when none does).
  absl::Time oldest_since() const;
  // "" or a description of the oldest waiting transaction: its LSN and the partition that holds
  // it back, for the log.
  std::string Describe() const;

 private:
  // Removes the partitions already known to be stable past their offset.
  void DropStable(LastOffsets& last) const;
  struct Waiting {
    Lsn before = 0;
    Lsn lsn = 0;
    LastOffsets last;  // partitions not yet stable past their offset
    absl::Time since;
  };
  std::deque<Waiting> waiting_;
  LastOffsets stable_;  // the latest known last stable offset, per partition
};

}  // namespace lottery::cdc
