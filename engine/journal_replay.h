// ReplayJournal: writes into the origin what an earlier holder of the image directory
// acknowledged but had not yet written (FORMAT.md §7, Replay).
#pragma once

#include <cstdint>

#include "engine/origin.h"
#include "engine/status.h"
#include "engine/write_journal.h"

namespace snapcow {

// Two passes. First every record's range gets its snapshot copies, from several threads at
// once: a kill under load can leave thousands of records, and one at a time each would wait
// for its own commit (two flushes). Then the records are written in order, so a later write
// over an earlier one wins. Records past the origin's end are cut there. A failed copy stops
// it before anything is written. Leaves the journal as it is: the caller syncs, then resets
// it. `*replayed`: the records written.
Status ReplayJournal(WriteJournal& journal, Origin& origin, uint64_t* replayed);

}  // namespace snapcow
