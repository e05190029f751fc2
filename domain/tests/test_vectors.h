// The fixed draw vectors of docs/fairness.md. Every value below was computed by the Python
// reference implementation printed in that document (hashlib/hmac), not by this C++ code, so the
// tests check the C++ against a second implementation.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace lottery::domain::testing {

struct VectorEntry {
  std::string_view player_id;
  int64_t stake_minor;
};

struct DrawVector {
  std::string_view name;
  std::string_view lottery_id;
  std::string_view seed_hex;
  std::string_view mode;
  std::vector<VectorEntry> entries;  // in entry order; a repeated player merges
  std::string_view commitment_hex;
  std::string_view entries_digest_hex;
  uint64_t total_weight;
  std::vector<uint64_t> x_by_counter;  // x for i = 0..counter; only the last one is accepted
  uint32_t counter;
  std::string_view draw_hmac_hex;
  uint64_t ticket;
  size_t winner_index;
  std::string_view winner;
  std::string_view policy;
  uint32_t bps;
  int64_t win_sum_minor;
  std::string_view win_sum;
};

inline const std::vector<DrawVector>& DrawVectors() {
  static const auto* vectors = new std::vector<DrawVector>{
      {
          .name = "V1",
          .lottery_id = "3d1f0a6e-8b2c-4d7e-9f10-a1b2c3d4e5f6",
          .seed_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
          .mode = "uniform",
          .entries = {{"6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01", 1234500},
                      {"b3e0f6d2-7c19-4a65-8f2e-5d4c3b2a1902", 50},
                      {"6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01", 50},
                      {"0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c03", 100000}},
          .commitment_hex = "b1b89eb68cb24702cc289541293f648a7332bbb514dd87d7ccdd8d18a71ae125",
          .entries_digest_hex = "e89fc16badfe67d4f52c83f72ae61ec0fe0de1594b95684085374e7c8ef0bae0",
          .total_weight = 3,
          .x_by_counter = {8615544997451927823u},
          .counter = 0,
          .draw_hmac_hex = "779090872f84110f3fe8ba0dd951adf455a72f5bdaeb112e14ee6fc5ad47255a",
          .ticket = 0,
          .winner_index = 0,
          .winner = "6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01",
          .policy = "winner_stake",
          .bps = 3300,
          .win_sum_minor = 407401,
          .win_sum = "4074.01",
      },
      {
          .name = "V2",
          .lottery_id = "c0ffee00-0000-4000-8000-000000000002",
          .seed_hex = "1fca0ae54065ee6c9a91254e4fa4c6301dd832960993a5e2df1779f7a0a4f99d",
          .mode = "stake_weighted",
          .entries = {{"11111111-1111-4111-8111-111111111111", 100},
                      {"22222222-2222-4222-8222-222222222222", 200},
                      {"33333333-3333-4333-8333-333333333333", 300},
                      {"44444444-4444-4444-8444-444444444444", 407385}},
          .commitment_hex = "27058a21411267115b8c4eef6157e0658bb7cb21bca459d0c13518e9fc233c9a",
          .entries_digest_hex = "ee392feea196bd6e4096d80e6febcf08a0e75e31b8421fb75fd25f216e56c25e",
          .total_weight = 407985,
          .x_by_counter = {2413526375076442469u},
          .counter = 0,
          .draw_hmac_hex = "217e91736277b1651ae46205abf3f5ec2534f85ce2cab6e82675275885e9d65e",
          .ticket = 164864,
          .winner_index = 3,
          .winner = "44444444-4444-4444-8444-444444444444",
          .policy = "pot",
          .bps = 3300,
          .win_sum_minor = 134635,
          .win_sum = "1346.35",
      },
      {
          // T = 0x5555555555555556 rejects about one x in three: exercises the loop.
          .name = "V3",
          .lottery_id = "deadbeef-0000-4000-8000-000000000003",
          .seed_hex = "c33dc7a8aabd5ffb52b025482dd4fcbe910966c990f4b0f6837dddff3094d426",
          .mode = "stake_weighted",
          .entries = {{"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", 0x1555555555555555},
                      {"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", 0x4000000000000001}},
          .commitment_hex = "9abd4847a94ae671dace66cde058dde31f999d23665030445ee1d68ad3257142",
          .entries_digest_hex = "795a64129e7f6050b00fed414c7b75a20bd9007e52846ba3c6241694cadc8b52",
          .total_weight = 6148914691236517206u,
          .x_by_counter = {17220182917869202836u, 13077887469169164965u, 10841012946391573291u},
          .counter = 2,
          .draw_hmac_hex = "967303d62b14a32b8a1b99c1310a9f58bfd46bacbe740630c91201b316673632",
          .ticket = 4692098255155056085u,
          .winner_index = 1,
          .winner = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
          .policy = "winner_stake",
          .bps = 10000,
          .win_sum_minor = 4611686018427387905,
          .win_sum = "46116860184273879.05",
      },
  };
  return *vectors;
}

}  // namespace lottery::domain::testing
