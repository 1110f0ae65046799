/*
 * merge.c - merging iterator.
 *
 * Sources are few (memtables plus the SSTables that passed the bloom and
 * bound checks), so each step scans them linearly for the next key.
 */
#include "merge.h"

#include "alloc.h"
#include "coding.h"

struct wc_merge {
    wc_iter **its;
    size_t n;
    bool backward;
    bool valid;
    const uint8_t *key; /* points into the source that owns it */
    size_t key_len;
    wc_merge_value *vals;
    size_t *at; /* indexes of sources positioned at the current key */
    size_t nat;
    wc_status st;
};

wc_status wc_merge_new(wc_iter **its, size_t n, wc_merge **out)
{
    /* one allocation: the struct, then vals, its and at */
    wc_merge *m;

    if (n > (SIZE_MAX - sizeof(*m)) / (sizeof(*m->vals) + sizeof(*m->its) + sizeof(*m->at)))
        goto fail;
    m = wc_calloc(1, sizeof(*m) + n * (sizeof(*m->vals) + sizeof(*m->its) + sizeof(*m->at)));
    if (m == NULL)
        goto fail;
    m->vals = (wc_merge_value *)(m + 1);
    m->its = (wc_iter **)(m->vals + n);
    m->at = (size_t *)(m->its + n);
    memcpy(m->its, its, n * sizeof(*its));
    m->n = n;
    *out = m;
    return WC_OK;
fail:
    for (size_t i = 0; i < n; i++)
        wc_iter_destroy(its[i]);
    return wc_error(WC_NO_MEMORY, "out of memory creating a merge iterator");
}

void wc_merge_free(wc_merge *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        wc_iter_destroy(m->its[i]);
    wc_free(m); /* with its arrays */
}

/* Find the current key (min forward, max backward) among valid sources. */
static void wc__merge_settle(wc_merge *m)
{
    const uint8_t *best = NULL;
    size_t best_len = 0;

    m->nat = 0;
    for (size_t i = 0; i < m->n; i++) {
        wc_iter *it = m->its[i];
        const uint8_t *k;
        size_t kl;
        int c;

        if (!wc_iter_valid(it)) {
            wc_status st = wc_iter_status(it);
            if (st != WC_OK && m->st == WC_OK)
                m->st = st;
            continue;
        }
        k = wc_iter_key(it, &kl);
        if (best == NULL) {
            c = -1;
        } else {
            c = wc_bytes_cmp(k, kl, best, best_len);
            if (m->backward)
                c = -c;
        }
        if (c < 0) {
            best = k;
            best_len = kl;
            m->nat = 0;
        }
        if (c <= 0)
            m->at[m->nat++] = i;
    }
    if (m->st != WC_OK) {
        m->valid = false;
        return;
    }
    m->valid = best != NULL;
    m->key = best;
    m->key_len = best_len;
    for (size_t j = 0; j < m->nat; j++)
        m->vals[j].data = wc_iter_value(m->its[m->at[j]], &m->vals[j].len);
}

void wc_merge_seek(wc_merge *m, const uint8_t *target, size_t len)
{
    m->backward = false;
    for (size_t i = 0; i < m->n; i++)
        wc_iter_seek(m->its[i], target, len);
    wc__merge_settle(m);
}

void wc_merge_seek_for_prev(wc_merge *m, const uint8_t *target, size_t len)
{
    m->backward = true;
    for (size_t i = 0; i < m->n; i++)
        wc_iter_seek_for_prev(m->its[i], target, len);
    wc__merge_settle(m);
}

void wc_merge_step(wc_merge *m)
{
    for (size_t j = 0; j < m->nat; j++) {
        if (m->backward)
            wc_iter_prev(m->its[m->at[j]]);
        else
            wc_iter_next(m->its[m->at[j]]);
    }
    wc__merge_settle(m);
}

bool wc_merge_valid(wc_merge *m)
{
    return m->valid;
}

const uint8_t *wc_merge_key(wc_merge *m, size_t *len)
{
    *len = m->key_len;
    return m->key;
}

const wc_merge_value *wc_merge_values(wc_merge *m, size_t *n)
{
    *n = m->nat;
    return m->vals;
}

wc_status wc_merge_status(wc_merge *m)
{
    return m->st;
}
