#include "lottery/cdc/byte_cursor.h"

#include "absl/strings/str_cat.h"
#include "absl_compat.h"

namespace lottery::cdc {

using internal::Sv;
namespace {

absl::Status Truncated(std::string_view field, size_t need, size_t have) {
  return absl::DataLossError(absl::StrCat(Sv(field), ": need ", need, " bytes, ", have, " remain"));
}

}  // namespace

absl::StatusOr<uint64_t> ByteCursor::ReadBigEndian(size_t n, std::string_view field) {
  if (n > remaining()) return Truncated(field, n, remaining());
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
  }
  pos_ += n;
  return v;
}

absl::StatusOr<uint8_t> ByteCursor::ReadU8(std::string_view field) {
  absl::StatusOr<uint64_t> v = ReadBigEndian(1, field);
  if (!v.ok()) return v.status();
  return static_cast<uint8_t>(*v);
}

absl::StatusOr<int16_t> ByteCursor::ReadI16(std::string_view field) {
  absl::StatusOr<uint64_t> v = ReadBigEndian(2, field);
  if (!v.ok()) return v.status();
  return static_cast<int16_t>(static_cast<uint16_t>(*v));
}

absl::StatusOr<int32_t> ByteCursor::ReadI32(std::string_view field) {
  absl::StatusOr<uint64_t> v = ReadBigEndian(4, field);
  if (!v.ok()) return v.status();
  return static_cast<int32_t>(static_cast<uint32_t>(*v));
}

absl::StatusOr<uint32_t> ByteCursor::ReadU32(std::string_view field) {
  absl::StatusOr<uint64_t> v = ReadBigEndian(4, field);
  if (!v.ok()) return v.status();
  return static_cast<uint32_t>(*v);
}

absl::StatusOr<int64_t> ByteCursor::ReadI64(std::string_view field) {
  absl::StatusOr<uint64_t> v = ReadBigEndian(8, field);
  if (!v.ok()) return v.status();
  return static_cast<int64_t>(*v);
}

absl::StatusOr<uint64_t> ByteCursor::ReadU64(std::string_view field) {
  return ReadBigEndian(8, field);
}

absl::StatusOr<std::string_view> ByteCursor::ReadBytes(size_t n, std::string_view field) {
  if (n > remaining()) return Truncated(field, n, remaining());
  std::string_view out = bytes_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<std::string_view> ByteCursor::ReadCString(std::string_view field) {
  std::string_view rest = bytes_.substr(pos_);
  size_t nul = rest.find('\0');
  if (nul == std::string_view::npos) {
    return absl::DataLossError(
        absl::StrCat(Sv(field), ": string not NUL-terminated within ", rest.size(), " bytes"));
  }
  pos_ += nul + 1;
  return rest.substr(0, nul);
}

}  // namespace lottery::cdc
