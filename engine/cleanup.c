/*
 * cleanup.c - wc_engine_cleanup (contract in engine.h): dropping the
 * partitions of a table whose tokens lie outside the ranges a node keeps,
 * by rewriting each SSTable that holds some into one without them, as
 * Cassandra's cleanup compaction does.
 *
 * Locking (engine_int.h): the table's claim for the whole run, so no
 * compaction, scrub or other cleanup of the table changes its SSTables
 * meanwhile; the list is copied (referenced) under t->mu at the start; each
 * rewrite reads its input with no lock held and replaces it with wc__swap
 * (manifest_mu, then mu), so flushes, writes and reads go on.  SSTables
 * flushed after the start are not touched: they hold writes made after the
 * ring changed, which reach only the nodes that replicate their tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "engine_int.h"
#include "keys.h"
#include "sstable.h"

#define WC__CLEANUP_CANCEL_EVERY 512

/* A kept range as closed bounds [lo, hi]. */
typedef struct wc__span {
    int64_t lo, hi;
} wc__span;

static int wc__cmp_span(const void *a, const void *b)
{
    const wc__span *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* keep[0..n) as sorted, merged closed spans into *out (*nout of them); caller frees. */
static wc_status wc__spans_of(const wc_token_range *keep, size_t n, wc__span **out, size_t *nout)
{
    wc__span *s;
    size_t m = 0;

    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i].start >= keep[i].end)
            return wc_error(WC_INVALID_ARGUMENT,
                            "cleanup: the kept range (%lld, %lld] is empty or reversed",
                            (long long)keep[i].start, (long long)keep[i].end);
    if (n == 0)
        return WC_OK;
    s = wc_malloc(n * sizeof(*s));
    if (s == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting a cleanup");
    for (size_t i = 0; i < n; i++) {
        s[i].lo = keep[i].start == INT64_MIN ? INT64_MIN : keep[i].start + 1;
        s[i].hi = keep[i].end;
    }
    qsort(s, n, sizeof(*s), wc__cmp_span);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && (s[m - 1].hi == INT64_MAX || s[i].lo <= s[m - 1].hi + 1)) {
            if (s[i].hi > s[m - 1].hi)
                s[m - 1].hi = s[i].hi;
            continue;
        }
        s[m++] = s[i];
    }
    *out = s;
    *nout = m;
    return WC_OK;
}

/* The span holding token (NULL: none). */
static const wc__span *wc__span_find(const wc__span *s, size_t n, int64_t token)
{
    size_t lo = 0, hi = n;

    while (lo < hi) { /* the first span with lo > token */
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].lo <= token)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || s[lo - 1].hi < token)
        return NULL;
    return &s[lo - 1];
}

/*
 * Copy the kept entries of in into a new SSTable of t and swap it in (or
 * remove in when nothing is kept).  Counts into out.
 */
static wc_status wc__cleanup_one(wc_engine *e, wc__table *t, wc__sst *in, const wc__span *sp,
                                 size_t nsp, wc_cleanup_result *out)
{
    wc_iter *it = wc_sstable_iter(in->t, NULL);
    wc_sstable_writer *w = NULL;
    wc__outputs outs = {0};
    wc_buf prefix;
    wc_sstable *ns = NULL;
    uint64_t gen = 0, steps = 0, partitions = 0, rows = 0, nbytes = 0;
    bool dropping = false;
    char path[4200];
    wc_status st = WC_OK;

    wc_buf_init(&prefix);
    if (it == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting a cleanup");
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it)) {
        size_t kl, vl, plen;
        const uint8_t *k = wc_iter_key(it, &kl), *v = wc_iter_value(it, &vl);
        wc_key_parts kp;

        if (++steps % WC__CLEANUP_CANCEL_EVERY == 0 && wc__compaction_cancelled(e, t)) {
            st = wc_error(WC_UNAVAILABLE, "cleanup of table %u cancelled", t->def.id);
            goto fail;
        }
        if (!wc_key_parse(k, kl, &kp)) {
            st = wc__table_damaged(e, t->def.id, "malformed key met by a cleanup");
            goto fail;
        }
        plen = WC_KEY_PREFIX_LEN(kp.pk_len);
        if (prefix.len != plen || memcmp(prefix.data, k, plen) != 0) {
            wc_buf_reset(&prefix);
            wc_buf_append(&prefix, k, plen);
            if ((st = wc_buf_status(&prefix)) != WC_OK)
                goto fail;
            dropping = wc__span_find(sp, nsp, kp.token) == NULL;
            partitions += dropping;
        }
        if (dropping) {
            rows += kp.kind != WC_KIND_HEADER;
            continue;
        }
        if (w == NULL && (st = wc__output_open(e, t, &gen, path, sizeof(path), &w)) != WC_OK)
            goto fail;
        if ((st = wc_sstable_writer_add(w, k, kl, v, vl)) != WC_OK)
            goto fail;
    }
    if ((st = wc_iter_status(it)) != WC_OK) {
        if (st == WC_CORRUPTION)
            st = wc__table_damaged(e, t->def.id, wc_last_error());
        goto fail;
    }
    if (partitions == 0) { /* nothing to drop after all: keep the file */
        if (w)
            wc_sstable_writer_abort(w);
        w = NULL;
        goto done;
    }
    if (w != NULL) {
        st = wc_sstable_writer_finish(w, &nbytes);
        w = NULL;
        if (st != WC_OK)
            goto fail;
        st = wc_sstable_open(e->fs, path, e->cache, atomic_fetch_add(&e->next_file_id, 1), &ns);
        if (st != WC_OK) {
            e->fs->unlink(e->fs, path);
            goto fail;
        }
        outs.v = wc_calloc(1, sizeof(*outs.v));
        if (outs.v == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory in a cleanup");
            goto fail;
        }
        outs.v[0].t = ns;
        outs.v[0].gen = gen;
        outs.n = outs.cap = 1;
        ns = NULL;
    }
    if ((st = wc__swap(e, t, in, 1, &outs, in->level, in->created, 0)) != WC_OK)
        goto fail;
    out->sstables_rewritten++;
    out->partitions_dropped += partitions;
    out->rows_dropped += rows;
    out->bytes_before += wc_sstable_get_stats(in->t)->file_bytes;
    out->bytes_after += nbytes;
    wc__engine_log(e, WC_LOG_INFO,
                   "cleanup of table %s: SSTable %llu rewritten without %llu partitions "
                   "(%llu rows) it no longer owns",
                   t->def.name, (unsigned long long)in->gen, (unsigned long long)partitions,
                   (unsigned long long)rows);
    goto done;
fail:
    if (w)
        wc_sstable_writer_abort(w);
    if (ns) {
        wc_sstable_mark_obsolete(ns);
        wc_sstable_unref(ns);
    }
    for (size_t i = 0; i < outs.n; i++) {
        wc_sstable_mark_obsolete(outs.v[i].t);
        wc_sstable_unref(outs.v[i].t);
    }
done:
    wc_free(outs.v);
    wc_buf_free(&prefix);
    wc_iter_destroy(it);
    return st;
}

wc_status wc_engine_cleanup(wc_engine *e, uint32_t table_id, const wc_token_range *keep,
                            size_t nkeep, wc_cleanup_result *out)
{
    wc_cleanup_result local;
    wc__span *sp = NULL;
    size_t nsp = 0, nin = 0;
    wc__sst *ins = NULL;
    wc__table *t = NULL;
    wc_status st;

    if (out == NULL)
        out = &local;
    memset(out, 0, sizeof(*out));
    if ((st = wc__spans_of(keep, nkeep, &sp, &nsp)) != WC_OK)
        return st;
    if ((st = wc_engine_flush(e, table_id, true)) != WC_OK)
        goto done;
    if ((st = wc__claim_wait(e, table_id, &t)) != WC_OK)
        goto done;
    wc__notify_change(e, NULL, 0, table_id, false);
    pthread_mutex_lock(&t->mu);
    if (atomic_load(&t->offline)) {
        st = wc__offline_error(t);
        pthread_mutex_unlock(&t->mu);
        goto done;
    }
    ins = wc_malloc((t->nssts ? t->nssts : 1) * sizeof(*ins));
    if (ins == NULL) {
        pthread_mutex_unlock(&t->mu);
        st = wc_error(WC_NO_MEMORY, "out of memory starting a cleanup");
        goto done;
    }
    for (size_t i = 0; i < t->nssts; i++) {
        ins[nin] = t->ssts[i];
        wc_sstable_ref(ins[nin].t);
        nin++;
    }
    pthread_mutex_unlock(&t->mu);
    out->sstables_checked = (uint32_t)nin;
    for (size_t i = 0; i < nin && st == WC_OK; i++) {
        const wc_sstable_stats *ss = wc_sstable_get_stats(ins[i].t);
        const wc__span *in = wc__span_find(sp, nsp, ss->min_token);

        if (in != NULL && ss->max_token <= in->hi)
            continue; /* every token of the file is kept */
        st = wc__cleanup_one(e, t, &ins[i], sp, nsp, out);
    }
done:
    for (size_t i = 0; i < nin; i++)
        wc_sstable_unref(ins[i].t);
    wc_free(ins);
    if (t) {
        wc__release_claim(e, t);
        wc__notify_change(e, NULL, 0, table_id, true);
    }
    wc_free(sp);
    return st;
}
