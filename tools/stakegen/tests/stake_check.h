// The tests' own reading of the input contract (independent of the generator): a value either is
// a stake the writer must accept, or it is not. Used to prove that valid messages are valid and
// that each malformed kind really is malformed.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace lottery::stakegen::testing {

struct CheckedStake {
  std::string player_id;
  std::string game_id;
  std::string stake;
};

// JSON unless content_type starts with "application/x-protobuf". kInvalidArgument with a reason.
absl::StatusOr<CheckedStake> CheckStake(const std::string& value,
                                        const std::optional<std::string>& content_type);

}  // namespace lottery::stakegen::testing
