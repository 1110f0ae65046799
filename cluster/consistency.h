/*
 * consistency.h - consistency levels and keyspace replication descriptions.
 *
 * Owns the names and parsing of consistency levels (ANY ... LOCAL_SERIAL),
 * the wc_replication description of a keyspace (SimpleStrategy with one
 * factor, or NetworkTopologyStrategy with a factor per data centre), its
 * text forms, and the rule that decides whether a level can be met.
 * Pure functions on caller-owned values: thread-safe.
 *
 * The rule (wc_consistency_check):
 *
 *   The effective factor of a data centre is min(factor, nodes in the
 *   cluster); on a one-node cluster every keyspace behaves as factor 1
 *   whatever its strategy or factors say (the product spec), and that one
 *   node is "local" for LOCAL_* levels whatever data-centre names the
 *   keyspace lists.  Let RF be the total effective factor and LRF the local
 *   one (SimpleStrategy: LRF = RF).  Then block_for is
 *
 *     ANY 1 (writes only)      ONE 1     TWO 2     THREE 3
 *     QUORUM / SERIAL          RF/2 + 1
 *     ALL                      RF
 *     LOCAL_ONE                1
 *     LOCAL_QUORUM / LOCAL_SERIAL   LRF/2 + 1
 *     EACH_QUORUM              sum over data centres of (factor_dc/2 + 1)
 *                              (SimpleStrategy: as QUORUM)
 *
 *   and the level is met when block_for <= live replicas.  TWO and THREE
 *   name a number of distinct replicas, so they stay 2 and 3 even when the
 *   keyspace has fewer: on one node they fail with WC_UNAVAILABLE
 *   ("consistency TWO needs 2 replicas, 1 alive").  ANY is refused for reads
 *   and SERIAL / LOCAL_SERIAL for writes (they are the levels of paxos.h)
 *   with WC_INVALID_ARGUMENT.  A keyspace whose total factor is 0 is
 *   unavailable at every level.
 */
#ifndef WC_CONSISTENCY_H
#define WC_CONSISTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum wc_consistency {
    WC_CL_ANY = 0,
    WC_CL_ONE,
    WC_CL_TWO,
    WC_CL_THREE,
    WC_CL_QUORUM,
    WC_CL_ALL,
    WC_CL_LOCAL_ONE,
    WC_CL_LOCAL_QUORUM,
    WC_CL_EACH_QUORUM,
    WC_CL_SERIAL,
    WC_CL_LOCAL_SERIAL,
} wc_consistency;

#define WC_CL_COUNT 11

typedef enum wc_repl_class {
    WC_REPL_SIMPLE = 1,           /* SimpleStrategy: replication_factor */
    WC_REPL_NETWORK_TOPOLOGY = 2, /* NetworkTopologyStrategy: dcs[] */
} wc_repl_class;

#define WC_REPL_MAX_DCS 8
#define WC_REPL_DC_NAME_MAX 48 /* including the NUL: names of 1..47 characters */
#define WC_REPL_MAX_FACTOR 1000

typedef struct wc_replication {
    wc_repl_class cls;
    uint32_t replication_factor; /* SimpleStrategy only */
    uint32_t ndcs;               /* NetworkTopologyStrategy only */
    struct {
        char name[WC_REPL_DC_NAME_MAX]; /* [A-Za-z0-9_.-]+ */
        uint32_t factor;
    } dcs[WC_REPL_MAX_DCS];
} wc_replication;

/* API: levels */

/* Upper-case name ("LOCAL_QUORUM"); "UNKNOWN" for a value out of range.  Never NULL. */
const char *wc_consistency_name(wc_consistency cl);
/*
 * Parse a level name, case-insensitively ("quorum", "Local_One").
 * WC_INVALID_ARGUMENT (with the accepted names in the detail) if unknown.
 */
wc_status wc_consistency_parse(const char *name, wc_consistency *out);
/* True if cl is one of the enum values. */
bool wc_consistency_valid(int cl);

/*
 * Replicas that must answer for cl (the table in the header comment).
 * REQUIRES: r valid (wc_replication_validate), cluster_nodes >= 1.
 * WC_INVALID_ARGUMENT for ANY on a read, SERIAL/LOCAL_SERIAL on a write or
 * an unknown level.
 */
wc_status wc_consistency_block_for(wc_consistency cl, const wc_replication *r,
                                   uint32_t cluster_nodes, bool is_write, uint32_t *out);
/*
 * Whether cl can be met with live_replicas replicas alive.  WC_OK if so;
 * WC_UNAVAILABLE with "consistency TWO needs 2 replicas, 1 alive" if not;
 * WC_INVALID_ARGUMENT as wc_consistency_block_for.
 */
wc_status wc_consistency_check(wc_consistency cl, const wc_replication *r, uint32_t cluster_nodes,
                               uint32_t live_replicas, bool is_write);

/* API: replication descriptions */

/* SimpleStrategy with factor 1. */
void wc_replication_default(wc_replication *r);
/* WC_OK or WC_INVALID_ARGUMENT explaining what is wrong (class, factor, dc name, duplicates). */
wc_status wc_replication_validate(const wc_replication *r);
/* Sum of the factors (SimpleStrategy: its factor). */
uint32_t wc_replication_total(const wc_replication *r);

/*
 * Parse a replication description.  Two forms are accepted:
 *   compact (the stored form, written by wc_replication_format):
 *             SimpleStrategy:3
 *             NetworkTopologyStrategy:dc1=3,dc2=2
 *   CQL map (read by the shared parser, wc_cql_parse_options):
 *             {'class': 'SimpleStrategy', 'replication_factor': 3}
 *             {'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': 0}
 * Class names are case-insensitive and may carry the
 * "org.apache.cassandra.locator." prefix.  Factors are whole numbers, bare
 * or quoted.  SimpleStrategy takes only replication_factor; for
 * NetworkTopologyStrategy every key but 'class' is a data centre
 * (replication_factor is refused).  The result passes
 * wc_replication_validate.  WC_INVALID_ARGUMENT with what is wrong (and
 * the position, for a syntax error) otherwise.
 */
wc_status wc_replication_parse(const char *text, wc_replication *out);
/*
 * Write the compact form into out (NUL-terminated).  Returns the length;
 * WC_INVALID_ARGUMENT if r is invalid or the text does not fit in cap.
 */
wc_status wc_replication_format(const wc_replication *r, char *out, size_t cap, size_t *len);

#endif /* WC_CONSISTENCY_H */
