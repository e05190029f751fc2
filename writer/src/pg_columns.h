// One column of a set-based statement: PostgreSQL's binary array format (array_recv), sent as a
// binary parameter and unnest()ed on the server. No text formatting on our side, no parsing on
// the server's, no quoting to get wrong. One dimension; NULL elements allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lottery/common/pg.h"
#include "lottery/domain/uuid.h"

namespace lottery::writer {

class Column {
 public:
  static constexpr uint32_t kBytea = 17, kInt8 = 20, kInt4 = 23, kText = 25, kUuid = 2950,
                            kJsonb = 3802;
  explicit Column(uint32_t element_oid) : oid_(element_oid) {}

  void AddUuid(const lottery::domain::Uuid& u) {
    Element(reinterpret_cast<const char*>(u.data()), u.size());
  }
  void AddInt4(int32_t v) { Be(4), Be(static_cast<uint32_t>(v)), ++n_; }
  void AddInt8(int64_t v) {
    Be(8), Be(static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32)), Be(static_cast<uint32_t>(v)),
        ++n_;
  }
  void AddBytes(std::string_view b) { Element(b.data(), b.size()); }  // bytea, text (UTF-8)
  void AddJsonb(std::string_view json) {  // jsonb binary = version 1 + the text
    Be(static_cast<uint32_t>(json.size() + 1)), data_.push_back('\x01'), data_.append(json), ++n_;
  }
  void AddNull() { Be(0xffffffffu), has_null_ = true, ++n_; }

  size_t size() const { return n_; }
  // The array as a binary parameter.
  pg::Param Param() const;

 private:
  void Be(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) data_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void Element(const char* p, size_t len) {
    Be(static_cast<uint32_t>(len)), data_.append(p, len), ++n_;
  }
  uint32_t oid_;
  std::string data_;
  size_t n_ = 0;
  bool has_null_ = false;
};

}  // namespace lottery::writer
