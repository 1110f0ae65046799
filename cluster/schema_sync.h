/*
 * schema_sync.h - a node's copy of the cluster schema, and its agreement
 * with the other nodes, after Cassandra's schema migrations.
 *
 * The store holds keyspaces (name, replication, owner role, DDL timestamp,
 * dropped flag) and tables keyed by (keyspace, name): the table id, the
 * definition (engine/schema_def.h encoding, whose keyspace, table and
 * table_id match the entry), a DDL timestamp and a dropped flag.  A dropped
 * object stays as a tombstone for grace_ms after its timestamp, so that a
 * node that was away learns of the drop instead of bringing the object back.
 * A table is visible when it is not dropped and its keyspace is live.
 *
 * The version is the XXH3-128 of the canonical encoding of every entry,
 * live and dropped, in name order: equal stores give equal versions on
 * every node.  Merging an entry from a peer is deterministic: per object
 * the entry with the higher timestamp wins, ties go to the larger canonical
 * encoding, so concurrent DDL converges to one definition everywhere.  A
 * local DDL stamps the node's wall clock, or one microsecond past the entry
 * it replaces when that is later (a skewed clock still supersedes what it
 * sees).
 *
 * Table ids are cluster-wide and need no coordination: a create draws a
 * random non-zero 32-bit id from env randomness, refusing every id the
 * store knows (live or tombstoned).  When a merge leaves two entries with
 * the same id, the one created first (lower timestamp, then keyspace and
 * name) keeps it and the other is re-id'd deterministically (a hash of its
 * keyspace, name and attempt, past every known id), so every node makes
 * the same choice; on_id_clash tells the owner.
 *
 * Propagation: the store announces its version as the gossip SCHEMA value
 * (32 lowercase hex digits).  When a live peer announces another version
 * (gossip on_join, on_change, on_alive), the store sends it a PULL after
 * pull_delay_ms; the peer answers a PUSH with all its entries, which are
 * merged.  While the peer's announced version still differs, PULLs repeat
 * with a doubling backoff (from pull_delay_ms to 30 s), at most
 * max_pull_attempts times per announced version.  After a local DDL the
 * changed entries are pushed at once to every live peer.  Malformed
 * messages are dropped and logged.
 *
 * Listeners are called on the loop after a change is applied (local DDL,
 * merge, re-id, purge of a tombstone) and may query the store but must
 * not change it or destroy it.
 *
 * Thread-safety: a store lives on its node's loop (env.h); every call must
 * come from that loop.
 */
#ifndef WC_SCHEMA_SYNC_H
#define WC_SCHEMA_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "consistency.h"
#include "env.h"
#include "gossip.h"
#include "schema_sync_format.h"
#include "status.h"

typedef struct wc_schema_sync wc_schema_sync;

/* A keyspace entry as the store holds it; valid only during the call that gives it. */
typedef struct wc_schema_keyspace {
    const char *name;
    wc_replication replication;
    const char *owner_role; /* "" when none */
    int64_t timestamp_us;   /* of the last DDL */
    bool dropped;
} wc_schema_keyspace;

/* A table entry; valid only during the call that gives it. */
typedef struct wc_schema_table {
    const char *keyspace;
    const char *name;
    uint32_t id;               /* cluster-wide engine table id */
    const uint8_t *definition; /* wc_schema encoding; len 0 when dropped */
    size_t definition_len;
    int64_t timestamp_us;
    bool dropped;
} wc_schema_table;

typedef struct wc_schema_sync_listener {
    /* old NULL: new keyspace; new->dropped: dropped; new NULL: tombstone purged. */
    void (*on_keyspace_change)(void *ctx, const wc_schema_keyspace *old,
                               const wc_schema_keyspace *new_);
    /* Same for tables; an id change (re-id) arrives here too. */
    void (*on_table_change)(void *ctx, const wc_schema_table *old, const wc_schema_table *new_);
    /* Two tables drew the same id: the second was given new_id. */
    void (*on_id_clash)(void *ctx, const char *keyspace, const char *table, uint32_t old_id,
                        uint32_t new_id);
    /*
     * The store changed: encode it (wc_schema_sync_encode) and write it
     * durably.  Any status other than WC_OK undoes the change: the store
     * goes back to what it held before (the on_*_change calls made for it
     * are not repeated in reverse), announces nothing new, and a local DDL
     * call returns that status; a peer's push is merged again when the
     * peer's version is pulled once more.
     */
    wc_status (*on_persist)(void *ctx, wc_schema_sync *s);
    void *ctx;
} wc_schema_sync_listener;

#define WC_SCHEMA_SYNC_MAX_LISTENERS 4

typedef struct wc_schema_sync_options {
    uint64_t pull_delay_ms;     /* wait after a peer announces another version (500) */
    uint64_t check_interval_ms; /* tick: retries, agreement waits, purges (250) */
    uint32_t max_pull_attempts; /* per peer and announced version (10) */
    uint64_t grace_ms;          /* tombstones are kept this long (10 days) */
} wc_schema_sync_options;

/* Called once when a wait ends: WC_OK (agreement) or WC_TIMEOUT with the nodes that disagree. */
typedef void (*wc_schema_sync_wait_cb)(void *arg, wc_status st, const wc_addr *disagreeing,
                                       size_t n);

/* API: the store */

void wc_schema_sync_options_default(wc_schema_sync_options *o);

/*
 * A store on env, announcing through g (NULL: no gossip, a lone store as in
 * unit tests of merges).  saved[0..saved_len) is what on_persist last wrote
 * (NULL/0 for a new node).  It registers a gossip listener and sets the
 * SCHEMA value.  WC_CORRUPTION if saved is not a schema file;
 * WC_INVALID_ARGUMENT for zero intervals or all gossip listener slots taken;
 * WC_NO_MEMORY.  Caller destroys *out (before g).
 */
wc_status wc_schema_sync_create(wc_env *env, wc_gossip *g, const wc_schema_sync_options *o,
                                const uint8_t *saved, size_t saved_len, wc_schema_sync **out);

/* Cancels the timer, ends pending waits with WC_UNAVAILABLE, frees everything. */
void wc_schema_sync_destroy(wc_schema_sync *s);

/* WC_INVALID_ARGUMENT when all slots are taken.  l is copied. */
wc_status wc_schema_sync_add_listener(wc_schema_sync *s, const wc_schema_sync_listener *l);

/* The message handler for types 48..63 (signature of wc_env_handlers.on_message; ctx is s). */
void wc_schema_sync_on_message(void *s, const wc_addr *from, const uint8_t *msg, size_t len);

/* API: local DDL.  Each applies the change, persists, announces the new version
 * and pushes the change to live peers.  Names are 1..255 bytes without NUL. */

/* WC_EXISTS if the keyspace is live; WC_INVALID_ARGUMENT for a bad name or replication. */
wc_status wc_schema_sync_create_keyspace(wc_schema_sync *s, const char *name,
                                         const wc_replication *r, const char *owner_role);
/* WC_NOT_FOUND if the keyspace is not live. */
wc_status wc_schema_sync_alter_keyspace(wc_schema_sync *s, const char *name,
                                        const wc_replication *r);
/* Drops the keyspace and every table in it.  WC_NOT_FOUND if not live. */
wc_status wc_schema_sync_drop_keyspace(wc_schema_sync *s, const char *name);

/*
 * def[0..len) is a wc_schema encoding naming keyspace and table.  The
 * table keeps its table_id when that is non-zero and unknown to the store
 * (live or tombstoned; the tombstone of the same table does not count),
 * else it gets a fresh cluster-wide id (*id_out).
 * WC_NOT_FOUND if the keyspace is not live; WC_EXISTS if the table is;
 * WC_CORRUPTION if def does not decode; WC_INVALID_ARGUMENT for bad names
 * or a schema past WC_SCHEMA_MAX_TOTAL; WC_NO_MEMORY.
 */
wc_status wc_schema_sync_create_table(wc_schema_sync *s, const uint8_t *def, size_t len,
                                      uint32_t *id_out);
/* Replaces the definition of a live table, keeping its id.  WC_NOT_FOUND; as above. */
wc_status wc_schema_sync_alter_table(wc_schema_sync *s, const uint8_t *def, size_t len);
/* WC_NOT_FOUND if the table is not visible. */
wc_status wc_schema_sync_drop_table(wc_schema_sync *s, const char *keyspace, const char *table);

/* API: queries */

/* The version: 16 bytes into out. */
void wc_schema_sync_version(const wc_schema_sync *s, uint8_t out[WC_SCHEMA_VERSION_BYTES]);
/* The version as 32 lowercase hex digits and a NUL (the gossip SCHEMA value). */
void wc_schema_sync_version_hex(const wc_schema_sync *s, char out[2 * WC_SCHEMA_VERSION_BYTES + 1]);

/* Entries, tombstones included, in name order: count and the i-th (valid until the next change). */
size_t wc_schema_sync_keyspace_count(const wc_schema_sync *s);
const wc_schema_keyspace *wc_schema_sync_keyspace(const wc_schema_sync *s, size_t i);
size_t wc_schema_sync_table_count(const wc_schema_sync *s);
const wc_schema_table *wc_schema_sync_table(const wc_schema_sync *s, size_t i);

/* The visible table (keyspace, name); NULL if none. */
const wc_schema_table *wc_schema_sync_find_table(const wc_schema_sync *s, const char *keyspace,
                                                 const char *table);

/*
 * The live peers (in gossip) whose announced version differs from ours (or
 * that announce none): up to cap of them into out; returns how many there
 * are.  0 means the cluster agrees.
 */
size_t wc_schema_sync_disagreeing(const wc_schema_sync *s, wc_addr *out, size_t cap);

/*
 * Call cb(arg, WC_OK, NULL, 0) once every live node announces our version,
 * or cb(arg, WC_TIMEOUT, laggards, n) after timeout_ms (at most 16 named).
 * cb runs on the loop, possibly before this returns.  WC_NO_MEMORY.
 */
wc_status wc_schema_sync_wait_agreement(wc_schema_sync *s, uint64_t timeout_ms,
                                        wc_schema_sync_wait_cb cb, void *arg);

/* API: persistence */

/* Append the schema file (schema_sync_format.h) to out.  WC_NO_MEMORY. */
wc_status wc_schema_sync_encode(const wc_schema_sync *s, wc_buf *out);

/* Append a full PUSH message (type byte included) of every entry: what a
 * node lists to its backends, decoded with wc_schema_msg_decode.  WC_NO_MEMORY. */
wc_status wc_schema_sync_encode_push(const wc_schema_sync *s, wc_buf *out);

/* API: the wire codec (for the fuzz target) */

/* A decoded PUSH or PULL; entries point into the message except replication (parsed). */
typedef struct wc_schema_msg {
    uint8_t type;
    uint8_t flags;
    uint8_t version[WC_SCHEMA_VERSION_BYTES];
    wc_schema_keyspace *keyspaces;
    size_t nkeyspaces;
    wc_schema_table *tables;
    size_t ntables;
    char *strings__; /* NUL-terminated copies of the names */
} wc_schema_msg;

/*
 * Decode one schema message (type byte included).  Every length and count
 * is checked against the bytes that hold it before anything is allocated;
 * a definition must decode as a wc_schema naming the entry's keyspace,
 * table and id.  WC_CORRUPTION saying what is wrong; WC_INVALID_ARGUMENT
 * for an unknown type; WC_NO_MEMORY.  Free with wc_schema_msg_free (also
 * after a failure).
 */
wc_status wc_schema_msg_decode(const uint8_t *msg, size_t len, wc_schema_msg *out);
void wc_schema_msg_free(wc_schema_msg *m);
/* Append the encoding of m.  REQUIRES: m as wc_schema_msg_decode returns it.  WC_NO_MEMORY. */
wc_status wc_schema_msg_encode(const wc_schema_msg *m, wc_buf *out);

#endif /* WC_SCHEMA_SYNC_H */
