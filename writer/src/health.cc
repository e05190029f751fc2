#include "lottery/writer/health.h"

#include "absl/strings/str_cat.h"

namespace lottery::writer {

void Health::Subscribed(bool subscribed) {
  subscribed_ = subscribed;
  Update();
}

void Health::PgConnected() {
  pg_error_.clear();
  Update();
}

void Health::PgLost(const absl::Status& why) {
  pg_error_ = absl::StrCat("PostgreSQL unavailable: ", why.ToString());
  Update();
}

void Health::BatchCommitted() {
  pg_error_.clear();
  batch_error_.clear();
  aborts_in_a_row_ = 0;
  Update();
}

void Health::BatchFailed(const absl::Status& why) {
  if (why.code() == absl::StatusCode::kAborted && ++aborts_in_a_row_ < kMaxAbortsInARow) return;
  batch_error_ = absl::StrCat("batches failing: ", why.ToString());
  Update();
}

int64_t PartitionLag(int64_t low, int64_t high, std::optional<int64_t> committed) {
  const int64_t from = committed.value_or(low < 0 ? 0 : low);
  return high > from ? high - from : 0;
}

void Health::Update() {
  if (!pg_error_.empty()) {
    reason_ = pg_error_;
  } else if (!batch_error_.empty()) {
    reason_ = batch_error_;
  } else if (!subscribed_) {
    reason_ = "not subscribed";
  } else {
    reason_.clear();
  }
}

}  // namespace lottery::writer
