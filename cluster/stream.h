/*
 * stream.h - streaming: a node pulls token ranges of tables from a replica
 * into its own store (bootstrap, and the new owners of a leaving or dead
 * node's ranges), as Cassandra's streaming, over the internode messages
 * of stream_format.h.
 *
 * One wc_stream per node serves both sides.  As a source it answers
 * STREAM_REQ with a page read from the local replica store
 * (replica_store.h): a raw token-range read, so rows travel with their
 * write timestamps, TTLs and tombstones unchanged, converted into a batch
 * record by the codec.  As a destination it runs pull sessions: for each
 * range in turn it asks the peer for the next page of at most page_rows row
 * entries, applies it through the store (a batch keeps its timestamps:
 * applying a page twice changes nothing), and only then asks for the next.
 * One page in flight per session is the flow control; the framing of the
 * transport checksums every message.  A page not answered within
 * timeout_ms is asked again (at most max_retries times in a row, then the
 * session fails with WC_TIMEOUT).
 *
 * Paging: a page of range (pos, end] that was cut at its limit ends in the
 * partition of token t; the next page starts at t - 1, so that partition
 * is read again whole (a few rows twice, never one missed); a partition
 * with more row entries than the limit at the very start of a page is sent
 * whole in one page (it must fit a message: WC_ENV_MAX_MESSAGE).
 *
 * Progress: with progress_dir set, a session named N keeps
 * "<progress_dir>/N.stream" (written atomically at a checkpoint: the end
 * of a range, or every 16 pages or 8 MiB of pages, once the store made
 * what it applied durable - its sync op, replica_store.h - so that the
 * file never names a page a power loss can take back: each range's
 * position; between checkpoints pages are applied without a sync, and a
 * resumed session reads them again),
 * and a session started again under the same name
 * with the same ranges resumes from it, after a restart of either side.
 * The file is removed when the session succeeds.
 *
 * Thread-safety: a wc_stream lives on its node's loop (env.h); every call
 * and callback runs there.
 */
#ifndef WC_STREAM_H
#define WC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "env.h"
#include "fs.h"
#include "replica_store.h"
#include "status.h"
#include "stream_format.h"

#define WC_STREAM_DEFAULT_PAGE_ROWS 1000u
#define WC_STREAM_DEFAULT_TIMEOUT_MS 10000u
#define WC_STREAM_DEFAULT_MAX_RETRIES 30u
#define WC_STREAM_NAME_MAX 64 /* including the NUL */

typedef struct wc_stream wc_stream;

/* What streaming needs to know of the store's raw form (raw.h for the engine). */
typedef struct wc_stream_codec {
    /*
     * The row entries of raw[0..len) into *rows and the token of its last
     * partition into *last (*has_last false when it holds no partition).
     * WC_CORRUPTION for a malformed raw result.
     */
    wc_status (*last_token)(void *ctx, const uint8_t *raw, size_t len, uint64_t *rows,
                            bool *has_last, int64_t *last);
    /* Append raw[0..len) as a batch record (engine/mutation.h) to out. */
    wc_status (*to_batch)(void *ctx, const uint8_t *raw, size_t len, wc_buf *out);
    void *ctx;
} wc_stream_codec;

typedef struct wc_stream_options {
    wc_env *env;
    wc_replica_store store;
    wc_stream_codec codec;
    uint32_t page_rows;       /* row entries per page; 0: WC_STREAM_DEFAULT_PAGE_ROWS */
    uint32_t timeout_ms;      /* per page; 0: WC_STREAM_DEFAULT_TIMEOUT_MS */
    uint32_t max_retries;     /* 0: WC_STREAM_DEFAULT_MAX_RETRIES */
    const char *progress_dir; /* NULL: no progress kept (copied) */
    wc_fs *fs;                /* progress files; NULL: wc_fs_posix() (not owned) */
} wc_stream_options;

/*
 * One range to pull: the partitions of table_id whose token is in
 * (start, end], start < end (start INT64_MIN includes INT64_MIN; a range
 * that wraps is given as two).  pos is where the pull stands (start at
 * first), done when it is finished.
 */
typedef struct wc_stream_range {
    uint32_t table_id;
    int64_t start, end;
    int64_t pos;
    bool done;
} wc_stream_range;

/* A session, as widecol.streams shows it. */
typedef struct wc_stream_info {
    char name[WC_STREAM_NAME_MAX];
    wc_addr peer;
    bool incoming;            /* pulled into this node (false: served to the peer) */
    uint32_t table_id;        /* the range being streamed (the last one when finished) */
    uint32_t ranges_done, ranges_total;
    uint64_t bytes, rows;     /* applied so far (incoming) or sent (outgoing) */
    const char *state;        /* "streaming", "done", "failed" (static strings) */
} wc_stream_info;

/* The end of a pull: WC_OK when every range is in the store. */
typedef void (*wc_stream_done_cb)(void *arg, wc_status st, const char *detail);

/* API */

/*
 * A stream manager on o->env (o copied).  WC_INVALID_ARGUMENT without env,
 * store ops or codec; WC_NO_MEMORY.  Caller destroys *out.
 */
wc_status wc_stream_create(const wc_stream_options *o, wc_stream **out);
/*
 * Stop every session (their done callbacks are not called), cancel the
 * timers, free everything.  REQUIRES: no store operation of s pending (the
 * store drained first).  NULL is ignored.
 */
void wc_stream_destroy(wc_stream *s);
/*
 * A message of types 64..79 from *from.  Returns false for another type.
 * Malformed messages are dropped (logged at most every 10 s).
 */
bool wc_stream_on_message(wc_stream *s, const wc_addr *from, const uint8_t *msg, size_t len);
/*
 * Pull ranges[0..n) (copied; see wc_stream_range) from the peer into the
 * store as session name (1..63 characters of [A-Za-z0-9_.-]), resuming
 * from its progress file when it holds the same ranges.  done runs once, on
 * the loop, after the call returned.  WC_INVALID_ARGUMENT for a bad name,
 * no ranges or a range with start >= end, a session of that name running;
 * WC_CORRUPTION for a damaged progress file; WC_NO_MEMORY.
 */
wc_status wc_stream_pull(wc_stream *s, const char *name, const wc_addr *peer,
                         const wc_stream_range *ranges, size_t n, wc_stream_done_cb done,
                         void *arg);
/* Stop session name (done is not called); its progress file stays.  False if none runs. */
bool wc_stream_cancel(wc_stream *s, const char *name);
/*
 * The sessions, running and recently ended (the last 16), into
 * out[0..cap); returns how many there are.
 */
size_t wc_stream_list(const wc_stream *s, wc_stream_info *out, size_t cap);

/* The codec of the engine's raw form (raw.h): a raw result is a batch record. */
wc_stream_codec wc_stream_engine_codec(void);

#endif /* WC_STREAM_H */
