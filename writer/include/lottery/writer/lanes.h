// Spreading one consumed batch over several PostgreSQL connections (--pg-connections).
//
// One transaction keeps one PostgreSQL backend, one core, busy while the writer waits. A batch
// whose records come from several partitions is split by partition into lanes, and each lane is
// its own ingest transaction (ingest.h) on its own connection, all at once. A partition is never
// split: its records stay in consumption order in one transaction, together with its offset, so
// each lane is exactly the batch a writer owning only those partitions would have committed.
// Games may still span lanes (a producer that does not key stakes by game): their advisory
// locks make those transactions wait for each other, so a split changes how much runs at once,
// never what is written.
#pragma once

#include <cstddef>
#include <vector>

#include "lottery/writer/stake_parser.h"

namespace lottery::writer {

// Splits `batch` into at most `lanes` lanes. It uses as many lanes as there are partitions in
// the batch, but no more than `lanes` and no more than batch.size() / min_per_lane, so a small
// batch (a quiet stream) stays one transaction. Partitions are placed largest first, each on
// the lane with the fewest records so far (ties: the lower lane; partitions of equal size: the
// one seen first). Records keep their relative order within a lane. Never returns an empty
// lane; an empty batch gives no lanes.
std::vector<std::vector<RawMessage>> SplitIntoLanes(std::vector<RawMessage> batch, int lanes,
                                                    size_t min_per_lane);

}  // namespace lottery::writer
