#include "lottery/cdc/confirm_gate.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace lottery::cdc {

void ConfirmGate::DropStable(LastOffsets& last) const {
  absl::erase_if(last, [&](const auto& entry) {
    auto s = stable_.find(entry.first);
    return s != stable_.end() && s->second > entry.second;
  });
}

void ConfirmGate::Committed(Lsn before, Lsn lsn, LastOffsets last, absl::Time now) {
  Waiting w{before, lsn, std::move(last), now};
  DropStable(w.last);
  if (w.last.empty() && waiting_.empty()) return;
  waiting_.push_back(std::move(w));
}

std::vector<TopicPartitionKey> ConfirmGate::Wanted() const {
  std::vector<TopicPartitionKey> out;
  absl::flat_hash_set<TopicPartitionKey> seen;
  for (const Waiting& w : waiting_) {
    for (const auto& [tp, offset] : w.last) {
      if (seen.insert(tp).second) out.push_back(tp);
    }
  }
  return out;
}

void ConfirmGate::OnStable(const LastOffsets& stable) {
  for (const auto& [tp, lso] : stable) {
    int64_t& known = stable_[tp];
    known = std::max(known, lso);
  }
  for (Waiting& w : waiting_) DropStable(w.last);
  while (!waiting_.empty() && waiting_.front().last.empty()) waiting_.pop_front();
}

Lsn ConfirmGate::Cap(Lsn confirmable) const {
  if (waiting_.empty()) return confirmable;
  return std::min(confirmable, waiting_.front().before);
}

absl::Time ConfirmGate::oldest_since() const {
  return waiting_.empty() ? absl::InfiniteFuture() : waiting_.front().since;
}

std::string ConfirmGate::Describe() const {
  if (waiting_.empty()) return "";
  const Waiting& w = waiting_.front();
  std::string out = absl::StrCat("the Kafka transaction up to LSN ", FormatLsn(w.lsn));
  if (w.last.empty()) return out;
  const auto& [tp, offset] = *w.last.begin();
  auto s = stable_.find(tp);
  absl::StrAppend(&out, ": ", tp.topic, "[", tp.partition, "] offset ", offset,
                  " is not below the last stable offset (",
                  s == stable_.end() ? std::string("unknown") : absl::StrCat(s->second), ")");
  return out;
}

}  // namespace lottery::cdc
