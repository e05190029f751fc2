// One row of the `outbox` table (sql/migrations/0001_init.sql), taken from a pgoutput tuple.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/cdc/pgoutput.h"

namespace lottery::cdc {

struct OutboxEvent {
  std::string id;  // uuid text, e.g. "6f1c...-..."
  std::string aggregatetype;
  std::string aggregateid;
  std::string type;
  std::string topic;
  std::string content_type;
  std::string payload;  // raw bytes (decoded from bytea's "\x<hex>" text)
  // From the jsonb `headers` column, in the order PostgreSQL prints them (jsonb sorts keys by
  // length, then bytewise; it keeps no duplicates).
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t seq = 0;
  std::string txid;  // xid8 as decimal text
  // Non-empty when the row can be decoded but its `headers` column is not a flat JSON object of
  // strings: the row itself is bad (no retry can fix it), so the relay dead-letters it instead of
  // stopping the stream. `headers` is then empty.
  std::string bad_headers;
};

// Builds an OutboxEvent from an Insert's new tuple and the relation current at that point.
// Columns are found BY NAME, so added or reordered columns are fine; extra columns are ignored.
// Values must be in text format (pgoutput proto 1 without the 'binary' option).
//
// Errors (the relay must stop on all of them, never skip the row):
//  - kFailedPrecondition: a required column is not in the relation (wrong table / schema).
//  - kDataLoss: tuple and relation disagree on the column count; a required column is null,
//    unchanged-toast or binary; payload is not strict "\x" + even-length hex (e.g. the server
//    runs with bytea_output=escape); seq is not a decimal int64; txid is not a decimal uint64.
// A `headers` value that is not a JSON object whose values are all strings is NOT an error: the
// event comes back with `bad_headers` set (the row itself is bad; the relay dead-letters it).
absl::StatusOr<OutboxEvent> ExtractOutboxEvent(const Relation& relation, const TupleData& tuple);

// Strict decoder of bytea's hex text output: "\x" followed by an even number of hex digits
// (either case). Anything else -> kDataLoss.
absl::StatusOr<std::string> DecodeByteaHex(std::string_view text);

// Parses a flat JSON object of string values, e.g. jsonb's text `{"a": "b"}`, keeping order.
// Invalid JSON, a non-object or a non-string value -> kInvalidArgument.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseFlatJsonObject(
    std::string_view json);

}  // namespace lottery::cdc
