// Helpers shared by the pgoutput tests: golden files and a writer for hand-made wire bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lottery::cdc::testing {

// "00ff" -> "\x00\xff". Aborts the test binary on malformed hex (test data is trusted).
std::string HexToBytes(std::string_view hex);

// Messages of tests/golden/<name>.hex, one per non-comment line, as raw bytes.
std::vector<std::string> LoadGolden(std::string_view name);

// Names (without .hex) of every golden file.
std::vector<std::string> GoldenNames();

// Appends big-endian fields, mirroring what PostgreSQL's pq_send* functions write.
class Wire {
 public:
  Wire& U8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& I16(int16_t v) { return BigEndian(static_cast<uint16_t>(v), 2); }
  Wire& I32(int32_t v) { return BigEndian(static_cast<uint32_t>(v), 4); }
  Wire& U32(uint32_t v) { return BigEndian(v, 4); }
  Wire& I64(int64_t v) { return BigEndian(static_cast<uint64_t>(v), 8); }
  Wire& U64(uint64_t v) { return BigEndian(v, 8); }
  Wire& Str(std::string_view s) {
    out_.append(s);
    out_.push_back('\0');
    return *this;
  }
  Wire& Bytes(std::string_view s) {
    out_.append(s);
    return *this;
  }
  // A text column value: 't' Int32 len bytes.
  Wire& Text(std::string_view s) {
    U8('t');
    I32(static_cast<int32_t>(s.size()));
    return Bytes(s);
  }
  const std::string& str() const { return out_; }

 private:
  Wire& BigEndian(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  std::string out_;
};

}  // namespace lottery::cdc::testing
