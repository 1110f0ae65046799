/*
 * compaction_options.h - a table's compaction strategy and its options,
 * parsed from the CQL `compaction` map the user wrote, e.g.
 *
 *   {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS',
 *    'compaction_window_size': 24}
 *
 * The map is kept verbatim in wc_table_def.compaction (and in the catalog);
 * the engine parses it when a table is created, altered or loaded, as an
 * options map of the shared CQL-literal parser (wc_cql_parse_options in
 * cql_literal.h): keys are CQL strings ('class'), values strings, numbers,
 * booleans or bare words.  Keys and enumerated values are case-insensitive.
 * An empty or blank text means the defaults (STCS).
 *
 * Classes: the full Cassandra name ('org.apache.cassandra.db.compaction.
 * LeveledCompactionStrategy'), the short name ('LeveledCompactionStrategy')
 * or the abbreviation ('LCS', 'STCS', 'TWCS').
 *
 * Options (default in brackets; docs/user-guide.md lists them for users):
 *   every class   enabled [true], tombstone_threshold [0.2],
 *                 tombstone_compaction_interval [86400 s],
 *                 unchecked_tombstone_compaction [false],
 *                 min_threshold [4], max_threshold [32]
 *   STCS, TWCS    bucket_low [0.5], bucket_high [1.5],
 *                 min_sstable_size [1048576 bytes; Cassandra's is 50 MiB,
 *                 scaled down because our SSTables are LZ4-compressed and
 *                 small memtables are common]
 *   LCS           sstable_size_in_mb [160; fractions allowed, >= 1 KiB, so
 *                 tests can use tiny levels], fanout_size [10]
 *   TWCS          compaction_window_unit [DAYS] (MINUTES|HOURS|DAYS),
 *                 compaction_window_size [1], timestamp_resolution
 *                 [MICROSECONDS; the only one accepted],
 *                 unsafe_aggressive_sstable_expiration [false]
 *
 * Pure functions; thread-safe.
 */
#ifndef WC_COMPACTION_OPTIONS_H
#define WC_COMPACTION_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum wc_compaction_class {
    WC_COMPACTION_STCS = 0,
    WC_COMPACTION_LCS = 1,
    WC_COMPACTION_TWCS = 2,
} wc_compaction_class;

typedef struct wc_compaction_options {
    wc_compaction_class cls;
    bool enabled;
    double tombstone_threshold;            /* droppable-tombstone ratio that triggers */
    int64_t tombstone_compaction_interval; /* seconds an SSTable must exist first */
    bool unchecked_tombstone_compaction;
    uint32_t min_threshold, max_threshold;
    double bucket_low, bucket_high;
    uint64_t min_sstable_size;             /* bytes */
    uint64_t sstable_size;                 /* LCS target output size, bytes */
    uint32_t fanout;
    uint32_t window_size;                  /* TWCS */
    int64_t window_unit_seconds;           /* 60, 3600 or 86400 */
    bool unsafe_aggressive_sstable_expiration;
} wc_compaction_options;

/* API */

/* The defaults (STCS, every option at its default). */
void wc_compaction_options_default(wc_compaction_options *o);

/*
 * Parse a CQL compaction map into *out (defaults for what it leaves out).
 * text may be NULL or blank.  WC_INVALID_ARGUMENT for a syntax error, an
 * unknown class or option, an option the class does not take, or a bad
 * value; the detail (wc_last_error) names the option and, for unknown
 * names, the closest valid one ("unknown compaction option 'min_treshold'
 * for SizeTieredCompactionStrategy; did you mean 'min_threshold'?").
 * *out is unchanged on failure.
 */
wc_status wc_compaction_options_parse(const char *text, wc_compaction_options *out);

/* "SizeTieredCompactionStrategy" etc.; "STCS"/"LCS"/"TWCS" with abbrev. Never NULL. */
const char *wc_compaction_class_name(wc_compaction_class c, bool abbrev);

/* TWCS window length in seconds (unit * size). */
static inline int64_t wc_compaction_window_seconds(const wc_compaction_options *o)
{
    return o->window_unit_seconds * (int64_t)(o->window_size ? o->window_size : 1);
}

#endif /* WC_COMPACTION_OPTIONS_H */
