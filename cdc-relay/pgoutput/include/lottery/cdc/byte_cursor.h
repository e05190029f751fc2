// Bounds-checked reader over untrusted bytes from the wire (WAL, replication framing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lottery::cdc {

// Reads big-endian (network byte order) integers, byte runs and C strings from a
// std::string_view it does not own; the viewed bytes must outlive the cursor and every
// string_view it returns.
//
// Contract: every read checks `n > remaining()` before touching memory, so an untrusted length
// can never overflow a pointer sum. A read that would run past the end returns kDataLoss (the
// input is malformed WAL / a malformed protocol message: the caller must stop and alert, not
// skip) and leaves the cursor where it was. `field` names what was being read
// ("Begin.final_lsn") and appears in the error message.
class ByteCursor {
 public:
  explicit ByteCursor(std::string_view bytes) : bytes_(bytes) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  absl::StatusOr<uint8_t> ReadU8(std::string_view field);
  absl::StatusOr<int16_t> ReadI16(std::string_view field);
  absl::StatusOr<int32_t> ReadI32(std::string_view field);
  absl::StatusOr<uint32_t> ReadU32(std::string_view field);
  absl::StatusOr<int64_t> ReadI64(std::string_view field);
  absl::StatusOr<uint64_t> ReadU64(std::string_view field);
  // Exactly n bytes; n may come straight from the wire.
  absl::StatusOr<std::string_view> ReadBytes(size_t n, std::string_view field);
  // Bytes up to the next NUL, which is consumed but not returned. No NUL before the end of the
  // input is kDataLoss.
  absl::StatusOr<std::string_view> ReadCString(std::string_view field);

 private:
  absl::StatusOr<uint64_t> ReadBigEndian(size_t n, std::string_view field);

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace lottery::cdc
