// UUIDs as 16 raw bytes in RFC 4122 (network) order: the byte order the draw hashes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lottery::domain {

using Uuid = std::array<uint8_t, 16>;

// Parses the canonical 8-4-4-4-12 hex form, either case. Anything else (braces, "urn:uuid:",
// missing hyphens, surrounding spaces) is kInvalidArgument with the reason in the message.
absl::StatusOr<Uuid> ParseUuid(std::string_view text);

// The canonical lowercase form, the only form events carry.
std::string FormatUuid(const Uuid& uuid);

// True when `text` is exactly FormatUuid(ParseUuid(text)): canonical and lowercase.
bool IsCanonicalUuid(std::string_view text);

// A version 4 UUID from the OpenSSL CSPRNG. A failing CSPRNG is unrecoverable (an id from a
// broken generator could collide), so this aborts the process; use TryNewRandomUuid to get
// kUnavailable instead.
Uuid NewRandomUuid();
absl::StatusOr<Uuid> TryNewRandomUuid();

// RFC 9562 version 7: the first 48 bits are `now` as Unix milliseconds, the other 74 (all but
// version and variant) come from the OpenSSL CSPRNG. Ids made later sort later to the
// millisecond, in bytes and in PostgreSQL's uuid order, so a B-tree keyed by them grows at its
// right edge instead of touching a random leaf per row. The id reveals when it was made, to the
// millisecond; nothing else. Times before 1970 are taken as 1970. A failing CSPRNG aborts, as
// in NewRandomUuid.
Uuid NewTimeOrderedUuid(absl::Time now);
absl::StatusOr<Uuid> TryNewTimeOrderedUuid(absl::Time now);

// RFC 4122 section 4.3 name-based UUID, version 5 (SHA-1): the same (namespace, name) always
// gives the same id, which makes ids derived from upstream keys idempotent.
Uuid UuidV5(const Uuid& name_space, std::string_view name);

}  // namespace lottery::domain
