/*
 * engine_store.h - the replica store (replica_store.h) of a real node: the
 * coordinator's applies and reads run against the node's engine, and the
 * translation between a client's paged read and the coordinator's reads.
 *
 * Threads: apply and read are queued to the store's own pool of threads,
 * which make the blocking engine calls (commit-log sync, disk reads) and
 * hand each result back to the node's loop with env->post; the completion
 * then runs on the loop, exactly once.  With threads 0 the work runs on the
 * calling thread (the loop) and the result is still posted, never delivered
 * before the call returns: for the simulator, whose post is valid only on
 * its one thread.  reconcile and append are pure (raw.h) and run on the
 * loop.  wc_engine_store_create and _destroy are called on the loop (or
 * before it starts / after it stopped); the ops only on the loop.
 *
 * Paging (wc_engine_store_plan, wc_engine_store_page): a client page is one
 * coordinated read of at most page_rows row entries (also bounded by the
 * request's limit), planned from the client's paging state, and the page is
 * cut from the coordinator's answer by the engine's read path
 * (wc_engine_read_overlay with overlay_only), so columns, limits,
 * per-partition limit, reverse order, the static row and TTL behave as in
 * wc_engine_read.  The store's paging state is
 *
 *   u8 version 2, bytes last flat key (keys.h), varint rows of its partition
 *   returned so far, u8 flags (0x01: that partition is finished)
 *
 * and a read continues as follows:
 *   - one partition: the next read is the slice after the last key (before
 *     it in reverse order), without the static row;
 *   - a token-order scan that stopped inside a partition: the next read is a
 *     single-partition read of the rest of that partition; when it is not
 *     cut the partition is finished and the page says so;
 *   - a scan after a finished partition: the next read is the token range
 *     (its token, end] (partitions sharing that 64-bit token but sorting
 *     after it would be skipped: a hash collision this design accepts).
 * A page with fewer live rows than page_rows is normal (row entries count,
 * tombstones too, raw.h); more is false only when the data or the limit
 * ended.
 */
#ifndef WC_ENGINE_STORE_H
#define WC_ENGINE_STORE_H

#include <stdint.h>

#include "engine.h"
#include "env.h"
#include "raw.h"
#include "replica_store.h"
#include "view.h"

typedef struct wc_engine_store wc_engine_store;

#define WC_ENGINE_STORE_MAX_THREADS 16
#define WC_STORE_PAGING_VERSION 2

/* API */

/*
 * A store over engine e (not owned; it outlives the store) posting results
 * to env, with threads worker threads (0: inline, see above; at most
 * WC_ENGINE_STORE_MAX_THREADS).  WC_INVALID_ARGUMENT, WC_NO_MEMORY.  Caller
 * destroys *out.
 */
wc_status wc_engine_store_create(wc_engine *e, wc_env *env, uint32_t threads,
                                 wc_engine_store **out);
/*
 * Drain and free: queued work still runs, then every completion not yet
 * delivered is called here (on the caller's thread, the loop) with its
 * result, and later posts do nothing.  Operations started during or after
 * destroy complete at once with WC_UNAVAILABLE.  REQUIRES: called on the
 * loop (or with the loop stopped), before the coordinator is destroyed.
 */
void wc_engine_store_destroy(wc_engine_store *s);
/* The store interface over s (valid until s is destroyed). */
wc_replica_store wc_engine_store_get(wc_engine_store *s);

/*
 * The coordinator's read for the next page of req (paging state resolved,
 * see above): *out points into req's memory (pk, bounds, paging state),
 * valid while req is.  out->now_sec is req->now_sec (the caller sets the
 * node's clock there first if it is 0).  WC_INVALID_ARGUMENT for a
 * malformed paging state or one of another partition, a reverse scan, a
 * column list or limits the engine refuses.
 */
wc_status wc_engine_store_plan(const wc_read_request *req, wc_store_read *out);
/*
 * The client's page of req from the coordinator's answer[0..len) to the
 * read wc_engine_store_plan(req) gave: rows as wc_engine_read returns them,
 * more and the next paging state (above).  overlay[0..overlay_len) (may be
 * NULL/0) is the reader's pending writes (a transaction's batch record of
 * req's table), merged with the answer by the engine's rules as the newest
 * source (wc_engine_read_overlay); when the answer was cut, overlay rows
 * past its last row are left to the next page, which continues there.  e
 * must hold req's table (its schema decodes the rows).  Caller frees *out
 * with wc_page_free.  WC_INVALID_ARGUMENT (bad request, paging state or
 * overlay), WC_CORRUPTION (a malformed answer), WC_NOT_FOUND (unknown
 * table), WC_NO_MEMORY.
 */
wc_status wc_engine_store_page(wc_engine *e, const wc_read_request *req, const uint8_t *answer,
                               size_t len, const uint8_t *overlay, size_t overlay_len,
                               wc_page **out);

/*
 * Keep the materialized views v on a cluster: every apply of a base table
 * goes through wc_views_apply_paired, and its update record is handed to
 * sink (on the loop) before the apply's completion.  REQUIRES: called
 * before the first apply; the log table exists (wc_views_log_open).
 */
void wc_engine_store_set_views(wc_engine_store *s, wc_views *v, wc_views_sink sink, void *arg);

#endif /* WC_ENGINE_STORE_H */
