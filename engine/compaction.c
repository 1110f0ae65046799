/*
 * compaction.c - major compaction: merge every SSTable of a table into one.
 *
 * The merge reconciles each key across the inputs, applies partition and
 * range deletions to the rows they cover (dropping shadowed data while
 * keeping the tombstones), and turns expired cells into tombstones.  The
 * input list is a snapshot: flushes that land meanwhile are kept, and only
 * the inputs are swapped for the output, under the table's manifest lock.
 * Tombstones are not purged here yet (gc_grace-aware purging comes with the
 * compaction strategies).
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "keys.h"
#include "merge.h"
#include "row.h"

wc_status wc_engine_compact(wc_engine *e, uint32_t table_id)
{
    wc__table *t;
    wc__sst *inputs = NULL;
    size_t nin = 0;
    wc_iter **its = NULL;
    wc_merge *m = NULL;
    wc_sstable_writer *w = NULL;
    wc_sstable *out = NULL;
    wc_sstable_options so;
    wc_buf mb[2], row, hdr, prefix;
    wc_range_tombstone *rts = NULL;
    size_t nrts = 0, caprts = 0;
    int64_t pdel = WC_NO_TIMESTAMP, now = wc__engine_now(e);
    uint64_t gen = 0, written = 0;
    char path[4200];
    wc_status st = WC_OK;

    wc_buf_init(&mb[0]);
    wc_buf_init(&mb[1]);
    wc_buf_init(&row);
    wc_buf_init(&hdr);
    wc_buf_init(&prefix);

    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) {
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    }
    pthread_mutex_lock(&t->mu);
    if (t->nssts < 2) {
        pthread_mutex_unlock(&t->mu);
        pthread_rwlock_unlock(&e->tables_mu);
        return WC_OK;
    }
    inputs = wc_malloc(t->nssts * sizeof(*inputs));
    its = wc_malloc(t->nssts * sizeof(*its));
    if (inputs == NULL || its == NULL) {
        pthread_mutex_unlock(&t->mu);
        st = wc_error(WC_NO_MEMORY, "out of memory starting a compaction");
        goto done;
    }
    for (size_t i = 0; i < t->nssts; i++) {
        inputs[nin] = t->ssts[i];
        wc_sstable_ref(inputs[nin].t);
        nin++;
    }
    gen = t->next_gen++;
    pthread_mutex_unlock(&t->mu);

    for (size_t i = 0; i < nin; i++) {
        its[i] = wc_sstable_iter(inputs[i].t, NULL);
        if (its[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                wc_iter_destroy(its[j]);
            st = wc_error(WC_NO_MEMORY, "out of memory starting a compaction");
            goto done;
        }
    }
    st = wc_merge_new(its, nin, &m);
    if (st != WC_OK)
        goto done;
    wc_sstable_options_default(&so);
    so.block_size = e->opts.block_bytes;
    so.bloom_bits_per_key = e->opts.bloom_bits;
    snprintf(path, sizeof(path), "%s/%llu.sst", t->dir, (unsigned long long)gen);
    st = wc_sstable_writer_open(e->fs, path, &so, &w);
    if (st != WC_OK)
        goto done;

    for (wc_merge_seek(m, (const uint8_t *)"", 0); wc_merge_valid(m); wc_merge_step(m)) {
        size_t kl, n, plen;
        const uint8_t *k = wc_merge_key(m, &kl);
        const wc_merge_value *v = wc_merge_values(m, &n);
        const uint8_t *cur = v[0].data;
        size_t curlen = v[0].len;
        wc_key_parts kp;
        int which = 0;

        if (!wc_key_parse(k, kl, &kp)) {
            st = wc_error(WC_CORRUPTION, "malformed key in compaction");
            goto done;
        }
        for (size_t i = 1; i < n; i++) {
            wc_buf_reset(&mb[which]);
            st = kp.kind == WC_KIND_HEADER
                     ? wc_header_merge(cur, curlen, v[i].data, v[i].len, &mb[which])
                     : wc_row_merge(cur, curlen, v[i].data, v[i].len, &mb[which]);
            if (st != WC_OK)
                goto done;
            cur = mb[which].data;
            curlen = mb[which].len;
            which ^= 1;
        }
        plen = WC_KEY_PREFIX_LEN(kp.pk_len);
        if (prefix.len != plen || memcmp(prefix.data, k, plen) != 0) {
            /* new partition: forget the previous one's deletions */
            wc_buf_reset(&prefix);
            wc_buf_append(&prefix, k, plen);
            pdel = WC_NO_TIMESTAMP;
            nrts = 0;
        }
        if (kp.kind == WC_KIND_HEADER) {
            wc_header_view hv;
            wc_range_tombstone rt;
            int r;

            wc_buf_reset(&hdr);
            wc_buf_append(&hdr, cur, curlen);
            if (!wc_header_parse(hdr.data, hdr.len, &hv)) {
                st = wc_error(WC_CORRUPTION, "malformed partition header in compaction");
                goto done;
            }
            if (hv.flags & WC_HDRF_PARTITION_DELETED)
                pdel = hv.pdel_ts;
            while ((r = wc_header_next_rt(&hv, &rt)) == 1) {
                if (nrts == caprts) {
                    size_t cap = caprts ? caprts * 2 : 8;
                    wc_range_tombstone *p = wc_realloc(rts, cap * sizeof(*p));
                    if (p == NULL) {
                        st = wc_error(WC_NO_MEMORY, "out of memory in compaction");
                        goto done;
                    }
                    rts = p;
                    caprts = cap;
                }
                rts[nrts++] = rt;
            }
            st = wc_sstable_writer_add(w, k, kl, hdr.data, hdr.len);
        } else {
            int64_t shadow = pdel;
            bool empty;

            if (kp.kind == WC_KIND_ROW)
                for (size_t i = 0; i < nrts; i++)
                    if (rts[i].ts > shadow && wc_rt_covers(&rts[i], kp.ck, kp.ck_len))
                        shadow = rts[i].ts;
            wc_buf_reset(&row);
            st = wc_row_compact(cur, curlen, shadow, now, &row, &empty);
            if (st == WC_OK && !empty)
                st = wc_sstable_writer_add(w, k, kl, row.data, row.len);
        }
        if (st != WC_OK)
            goto done;
        written++;
    }
    if ((st = wc_merge_status(m)) != WC_OK)
        goto done;
    if (written == 0) {
        wc_sstable_writer_abort(w);
        w = NULL;
    } else {
        st = wc_sstable_writer_finish(w, NULL);
        w = NULL;
        if (st != WC_OK)
            goto done;
        st = wc_sstable_open(e->fs, path, e->cache, atomic_fetch_add(&e->next_file_id, 1), &out);
        if (st != WC_OK)
            goto done;
    }

    /* swap the inputs for the output, keeping SSTables flushed meanwhile */
    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    {
        size_t j = 0;
        for (size_t i = 0; i < t->nssts; i++) {
            bool input = false;
            for (size_t k = 0; k < nin && !input; k++)
                input = t->ssts[i].t == inputs[k].t;
            if (input)
                wc_sstable_unref(t->ssts[i].t); /* the list's reference */
            else
                t->ssts[j++] = t->ssts[i];
        }
        t->nssts = j;
        if (out) {
            /* room is there: at least two inputs left the list */
            memmove(&t->ssts[1], &t->ssts[0], t->nssts * sizeof(t->ssts[0]));
            t->ssts[0].t = out;
            t->ssts[0].gen = gen;
            t->nssts++;
            out = NULL;
        }
    }
    pthread_mutex_unlock(&t->mu);
    st = wc__manifest_write(e, t);
    pthread_mutex_unlock(&t->manifest_mu);
    if (st == WC_OK)
        for (size_t i = 0; i < nin; i++)
            wc_sstable_mark_obsolete(inputs[i].t);
    wc__engine_log(e, WC_LOG_INFO, "compacted %zu SSTables of table %u into one (%llu entries)",
                   nin, table_id, (unsigned long long)written);
done:
    pthread_rwlock_unlock(&e->tables_mu);
    if (w)
        wc_sstable_writer_abort(w);
    if (out)
        wc_sstable_unref(out);
    wc_merge_free(m);
    for (size_t i = 0; i < nin; i++)
        wc_sstable_unref(inputs[i].t);
    wc_free(inputs);
    wc_free(its);
    wc_free(rts);
    wc_buf_free(&mb[0]);
    wc_buf_free(&mb[1]);
    wc_buf_free(&row);
    wc_buf_free(&hdr);
    wc_buf_free(&prefix);
    return st;
}
