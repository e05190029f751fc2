// The writer's readiness (/readyz): ready while it is subscribed, holds a live PostgreSQL
// connection (checked by every batch, and by a cheap query while idle) and its batches commit.
// A batch that fails with anything but kAborted (a lost race, redone at once) makes it not ready
// at once; kAborted only after kMaxAbortsInARow in a row. The next committed batch makes it ready
// again. Pure: the run loop reports what happened, and logs the transitions with reason().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace lottery::writer {

class Health {
 public:
  static constexpr int kMaxAbortsInARow = 3;

  void Subscribed(bool subscribed);
  void PgConnected();                    // a connection was opened, or a query succeeded
  void PgLost(const absl::Status& why);  // a connect or a query failed
  void BatchCommitted();
  void BatchFailed(const absl::Status& why);

  bool ready() const { return reason_.empty(); }
  // Why it is not ready ("" when ready), e.g. "batches failing: FAILED_PRECONDITION: ...".
  const std::string& reason() const { return reason_; }

 private:
  void Update();
  bool subscribed_ = false;
  std::string pg_error_ = "not connected to PostgreSQL";
  std::string batch_error_;
  int aborts_in_a_row_ = 0;
  std::string reason_ = "starting";
};

// Records of a partition not yet committed: its high watermark minus the offset stored in
// consumer_offset (`committed`; none yet: from the low watermark). Never negative.
int64_t PartitionLag(int64_t low, int64_t high, std::optional<int64_t> committed);

}  // namespace lottery::writer
