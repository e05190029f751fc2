#include "test_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lottery::cdc::testing {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "test data error: %s\n", why.c_str());
  std::abort();
}

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  Die(std::string("bad hex digit ") + c);
}

}  // namespace

std::string HexToBytes(std::string_view hex) {
  if (hex.size() % 2 != 0) Die("odd hex length");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(Nibble(hex[i]) << 4 | Nibble(hex[i + 1])));
  }
  return out;
}

std::vector<std::string> LoadGolden(std::string_view name) {
  std::string path = std::string(PGOUTPUT_GOLDEN_DIR) + "/" + std::string(name) + ".hex";
  std::ifstream in(path);
  if (!in) Die("cannot open " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out.push_back(HexToBytes(line));
  }
  if (out.empty()) Die(path + " has no messages");
  return out;
}

std::vector<std::string> GoldenNames() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(PGOUTPUT_GOLDEN_DIR)) {
    if (entry.path().extension() == ".hex") out.push_back(entry.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lottery::cdc::testing
