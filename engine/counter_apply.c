/*
 * counter_apply.c - resolving counter deltas on the write path.
 *
 * A batch that holds delta cells (counter.h) is applied under counter_mu:
 * each delta becomes this engine's shard of the cell (read the current
 * shard, add the delta, clock + 1), the rewritten batch - shards only - is
 * logged and applied, and only then is the lock released.  So concurrent
 * increments sum exactly and a replayed commit log never adds twice.  A
 * counter write is durable before it returns even with a periodic commit
 * log (which is then fsynced at once), so the shards a power loss leaves
 * are never older than one that was acknowledged.  The
 * writer id is 8 random bytes kept in the data directory (counter_id),
 * made on the first counter write.  Lock order: counter_mu before every
 * lock of engine_int.h (it is held across a read and a write).  The
 * resolution itself is wc_counter_resolve (counter.c); this file gives it
 * the engine's read of its own shard.  wc_engine_apply_counter also hands
 * the resolved batch back: a leader replica (cluster/counter_leader.c)
 * replicates exactly what it applied.
 */
#include "engine_int.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "counter.h"
#include "keys.h"
#include "mutation.h"

#define WC__COUNTER_ID_FILE "counter_id"

static uint64_t wc__mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Load (or make and keep) this engine's writer id.  REQUIRES: counter_mu. */
static wc_status wc__counter_writer(wc_engine *e, uint64_t *out)
{
    char path[4200];
    uint8_t *data = NULL, buf[8];
    size_t len = 0;
    wc_status st;

    if (e->counter_writer != 0) {
        *out = e->counter_writer;
        return WC_OK;
    }
    snprintf(path, sizeof(path), "%s/%s", e->dir, WC__COUNTER_ID_FILE);
    st = wc_fs_read_all(e->fs, path, 64, &data, &len);
    if (st == WC_OK) {
        uint64_t id = len == 8 ? wc_dec_u64(data) : 0;
        wc_free(data);
        if (id == 0)
            return wc_error(WC_CORRUPTION, "%s: not a counter writer id", path);
        e->counter_writer = id;
    } else if (st == WC_NOT_FOUND) {
        struct timespec ts;
        uint64_t id;

        clock_gettime(CLOCK_REALTIME, &ts);
        id = wc__mix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
             wc__mix64((uint64_t)getpid() ^ (uint64_t)(uintptr_t)e);
        if (id == WC_COUNTER_PENDING_WRITER)
            id = 1;
        wc_enc_u64(buf, id);
        if ((st = wc_fs_write_atomic(e->fs, path, buf, sizeof(buf))) != WC_OK)
            return st;
        e->counter_writer = id;
    } else {
        return st;
    }
    *out = e->counter_writer;
    return WC_OK;
}

/* The current shard of this engine in the stored cell (wc_counter_lookup_fn). */
static wc_status wc__stored_shard(void *ctx, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                                  const uint8_t *ck, size_t ck_len, uint32_t column,
                                  wc_counter_shard *s)
{
    wc_engine *e = ctx;
    wc_read_request req;
    wc_page *page = NULL;
    wc_status st;

    memset(&req, 0, sizeof(req));
    req.table_id = table_id;
    req.pk = pk;
    req.pk_len = pk_len;
    if (ck_len == 0) {
        req.start.unbounded = req.end.unbounded = true;
    } else {
        req.start.key = req.end.key = ck;
        req.start.len = req.end.len = ck_len;
        req.start.inclusive = req.end.inclusive = true;
    }
    req.columns = &column;
    req.ncolumns = 1;
    req.limit = 1;
    if ((st = wc_engine_read(e, &req, &page)) != WC_OK)
        return st;
    for (size_t r = 0; r < page->nrows; r++) {
        const wc_result_row *row = &page->rows[r];
        if (row->is_static || row->ck_len != ck_len || memcmp(row->ck, ck, ck_len) != 0)
            continue;
        for (uint32_t i = 0; i < row->ncells; i++) {
            const wc_cell *c = &row->cells[i];
            if (c->column == column && (c->flags & WC_CELLF_COUNTER))
                (void)wc_counter_find(c->value, c->len, s->writer, s);
        }
    }
    wc_page_free(page);
    return WC_OK;
}

wc_status wc__counter_apply(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *resolved)
{
    wc_batch_builder bb;
    const uint8_t *out;
    size_t out_len;
    uint64_t writer;
    wc_status st;

    wc_batch_builder_init(&bb);
    pthread_mutex_lock(&e->counter_mu);
    if ((st = wc__counter_writer(e, &writer)) != WC_OK)
        goto fail;
    st = wc_counter_resolve(rec, len, writer, wc__stored_shard, e, &bb, &out, &out_len);
    if (st != WC_OK)
        goto fail;
    /* still under counter_mu: the next delta of these cells reads what this one wrote */
    if ((st = wc__apply_record(e, out, out_len)) != WC_OK)
        goto fail;
    if (resolved) {
        wc_buf_append(resolved, out, out_len);
        if (wc_buf_status(resolved) != WC_OK)
            st = wc_error(WC_NO_MEMORY, "out of memory copying a resolved counter batch");
    }
fail:
    pthread_mutex_unlock(&e->counter_mu);
    /*
     * Acknowledged shards are durable in either sync mode: a shard's clock
     * may reach other replicas once this returns, and one lost to a power
     * loss would have this writer id count that clock again, differently.
     */
    if (st == WC_OK && e->opts.sync_mode == WC_SYNC_PERIODIC)
        st = wc_commitlog_sync_all(e->log);
    wc_batch_builder_free(&bb);
    return st;
}

wc_status wc_engine_apply_counter(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *resolved)
{
    return wc__counter_apply(e, rec, len, resolved);
}
