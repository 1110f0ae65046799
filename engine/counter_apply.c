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
 * lock of engine_int.h (it is held across a read and a write).
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

/* A delta already resolved in this batch: later deltas of the same cell add to it. */
typedef struct wc__resolved {
    uint32_t table_id;
    const uint8_t *pk, *ck;
    size_t pk_len, ck_len;
    uint32_t column;
    wc_counter_shard shard;
} wc__resolved;

typedef struct wc__resolve_ctx {
    wc_engine *e;
    wc__resolved *done;
    size_t ndone, capdone;
} wc__resolve_ctx;

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

/* The current shard of this engine in the stored cell (clock 0 and value 0 if none). */
static wc_status wc__stored_shard(wc_engine *e, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                                  const uint8_t *ck, size_t ck_len, uint32_t column,
                                  wc_counter_shard *s)
{
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

/* Resolve one delta cell into this engine's new shard (*s). */
static wc_status wc__resolve_cell(wc__resolve_ctx *x, uint32_t table_id, const uint8_t *pk,
                                  size_t pk_len, const uint8_t *ck, size_t ck_len, const wc_cell *c,
                                  wc_counter_shard *s)
{
    wc__resolved *r = NULL;
    uint64_t writer = 0;
    int64_t delta = wc_counter_delta_decode(c->value);
    wc_status st;

    for (size_t i = 0; i < x->ndone; i++) {
        wc__resolved *d = &x->done[i];
        if (d->table_id == table_id && d->column == c->column && d->pk_len == pk_len &&
            d->ck_len == ck_len && memcmp(d->pk, pk, pk_len) == 0 &&
            (ck_len == 0 || memcmp(d->ck, ck, ck_len) == 0)) {
            r = d;
            break;
        }
    }
    if (r == NULL) {
        if ((st = wc__counter_writer(x->e, &writer)) != WC_OK)
            return st;
        if (x->ndone == x->capdone) {
            size_t cap = x->capdone ? x->capdone * 2 : 8;
            wc__resolved *n = wc_realloc(x->done, cap * sizeof(*n));
            if (n == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory resolving counters");
            x->done = n;
            x->capdone = cap;
        }
        r = &x->done[x->ndone];
        memset(r, 0, sizeof(*r));
        r->table_id = table_id;
        r->pk = pk;
        r->pk_len = pk_len;
        r->ck = ck;
        r->ck_len = ck_len;
        r->column = c->column;
        r->shard.writer = writer;
        st = wc__stored_shard(x->e, table_id, pk, pk_len, ck, ck_len, c->column, &r->shard);
        if (st != WC_OK)
            return st;
        x->ndone++;
        /* a new clock above the stored one and, after a deletion, above older shards */
        r->shard.clock =
            r->shard.clock + 1 > (uint64_t)c->ts ? r->shard.clock + 1 : (uint64_t)c->ts;
    } else {
        /* each shard written for the cell in this batch supersedes the one before it */
        r->shard.clock++;
    }
    r->shard.value = (int64_t)((uint64_t)r->shard.value + (uint64_t)delta);
    *s = r->shard;
    return WC_OK;
}

/* Rewrite a row blob with its delta cells resolved into out (appended). */
static wc_status wc__resolve_row(wc__resolve_ctx *x, uint32_t table_id, const uint8_t *pk,
                                 size_t pk_len, const wc_mutation_entry *en, wc_buf *out)
{
    wc_row_view v;
    wc_cell c;
    wc_rowb rb;
    int r;
    wc_status st = WC_OK;

    if (!wc_row_parse(en->blob, en->blob_len, &v))
        return wc_error(WC_INVALID_ARGUMENT, "malformed row in a counter batch");
    wc_rowb_begin(&rb, out);
    if (v.flags & WC_ROWF_LIVENESS)
        wc_rowb_liveness(&rb, v.live_ts, v.live_ttl, v.live_ldt);
    if (v.flags & WC_ROWF_DELETED)
        wc_rowb_deletion(&rb, v.del_ts, v.del_ldt);
    while (st == WC_OK && (r = wc_row_next_cell(&v, &c)) == 1) {
        if (c.flags & WC_CELLF_COUNTER_DELTA) {
            wc_counter_shard s = {0, 0, 0};
            uint8_t val[WC_COUNTER_SHARD_LEN];

            if (en->kind != WC_KIND_ROW)
                return wc_error(WC_INVALID_ARGUMENT, "a counter cannot be a static column");
            st = wc__resolve_cell(x, table_id, pk, pk_len, en->ck, en->ck_len, &c, &s);
            if (st != WC_OK)
                return st;
            wc_enc_u64(val, s.writer);
            wc_enc_u64(val + 8, s.clock);
            wc_enc_u64(val + 16, (uint64_t)s.value);
            c.flags = WC_CELLF_COUNTER;
            c.value = val;
            c.len = sizeof(val);
            wc_rowb_cell(&rb, &c);
        } else {
            wc_rowb_cell(&rb, &c);
        }
    }
    if (r < 0)
        return wc_error(WC_INVALID_ARGUMENT, "malformed cell in a counter batch");
    if (wc_rowb_end(&rb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory resolving counters");
    return WC_OK;
}

wc_status wc__counter_apply(wc_engine *e, const uint8_t *rec, size_t len)
{
    wc__resolve_ctx x;
    wc_batch_builder bb;
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    wc_buf blob;
    const uint8_t *mut, *out;
    size_t ml, out_len;
    int r;
    wc_status st;

    memset(&x, 0, sizeof(x));
    x.e = e;
    wc_batch_builder_init(&bb);
    wc_buf_init(&blob);
    pthread_mutex_lock(&e->counter_mu);
    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        goto fail;
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        wc_mutation *m;

        if ((st = wc_mutation_parse(mut, ml, &mv)) != WC_OK)
            goto fail;
        m = wc_batch_builder_begin(&bb, mv.table_id, mv.pk, mv.pk_len);
        while ((r = wc_mutation_next(&mv, &en)) == 1) {
            if (en.kind == WC_KIND_HEADER || !wc_counter_row_has_delta(en.blob, en.blob_len)) {
                wc_mutation_add(m, en.kind, en.ck, en.ck_len, en.blob, en.blob_len);
                continue;
            }
            wc_buf_reset(&blob);
            if ((st = wc__resolve_row(&x, mv.table_id, mv.pk, mv.pk_len, &en, &blob)) != WC_OK)
                goto fail;
            wc_mutation_add(m, en.kind, en.ck, en.ck_len, blob.data, blob.len);
        }
        if (r < 0) {
            st = wc_error(WC_INVALID_ARGUMENT, "malformed mutation in a counter batch");
            goto fail;
        }
        if ((st = wc_batch_builder_end(&bb)) != WC_OK)
            goto fail;
    }
    if (r < 0) {
        st = wc_error(WC_INVALID_ARGUMENT, "malformed counter batch");
        goto fail;
    }
    if ((st = wc_batch_builder_finish(&bb, &out, &out_len)) != WC_OK)
        goto fail;
    /* still under counter_mu: the next delta of these cells reads what this one wrote */
    st = wc__apply_record(e, out, out_len);
fail:
    pthread_mutex_unlock(&e->counter_mu);
    /*
     * Acknowledged shards are durable in either sync mode: a shard's clock
     * may reach other replicas once this returns, and one lost to a power
     * loss would have this writer id count that clock again, differently.
     */
    if (st == WC_OK && e->opts.sync_mode == WC_SYNC_PERIODIC)
        st = wc_commitlog_sync_all(e->log);
    wc_buf_free(&blob);
    wc_batch_builder_free(&bb);
    wc_free(x.done);
    return st;
}
