/*
 * compaction_strategy.c - selection rules of STCS, LCS and TWCS over
 * SSTable metadata (rules in compaction_strategy.h).
 *
 * Arrays are small (a table's SSTables), so the code favours clarity:
 * quadratic overlap checks, insertion sorts of index arrays.
 */
#include "compaction_strategy.h"

#include <string.h>

#include "alloc.h"
#include "coding.h"

/* ---------------------------------------------------------------- helpers */

void wc_compaction_task_free(wc_compaction_task *t)
{
    if (t == NULL)
        return;
    wc_free(t->inputs);
    memset(t, 0, sizeof(*t));
}

void wc_lcs_state_free(wc_lcs_state *s)
{
    for (int i = 0; i <= WC_LCS_MAX_LEVEL; i++) {
        wc_free(s->last_key[i]);
        s->last_key[i] = NULL;
        s->last_key_len[i] = 0;
    }
}

uint64_t wc_lcs_level_target(const wc_compaction_options *o, uint32_t level)
{
    uint64_t t = o->sstable_size;

    for (uint32_t i = 0; i < level; i++) {
        if (t > UINT64_MAX / (o->fanout ? o->fanout : 10))
            return UINT64_MAX;
        t *= o->fanout ? o->fanout : 10;
    }
    return t;
}

int64_t wc_twcs_window(int64_t ts_micros, int64_t window_seconds)
{
    int64_t sec = ts_micros / 1000000;

    if (ts_micros < 0 && ts_micros % 1000000 != 0)
        sec--;
    if (window_seconds <= 0)
        window_seconds = 86400;
    if (sec < 0 && sec % window_seconds != 0)
        return (sec / window_seconds - 1) * window_seconds;
    return sec / window_seconds * window_seconds;
}

bool wc_key_ranges_overlap(const wc_sst_meta *a, const wc_sst_meta *b)
{
    return wc_bytes_cmp(a->first_key, a->first_key_len, b->last_key, b->last_key_len) <= 0 &&
           wc_bytes_cmp(b->first_key, b->first_key_len, a->last_key, a->last_key_len) <= 0;
}

static bool wc__tokens_overlap(const wc_sst_meta *a, const wc_sst_meta *b)
{
    return a->min_token <= b->max_token && b->min_token <= a->max_token;
}

static wc_status wc__task_init(wc_compaction_task *t, wc_task_kind kind, size_t cap)
{
    memset(t, 0, sizeof(*t));
    t->window = INT64_MIN;
    t->inputs = wc_malloc((cap ? cap : 1) * sizeof(size_t));
    if (t->inputs == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory picking a compaction");
    t->kind = kind;
    return WC_OK;
}

/* Sort index array by size ascending (insertion sort; ties by generation). */
static void wc__sort_by_size(const wc_sst_meta *m, size_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && (m[idx[j - 1]].bytes > m[v].bytes ||
                         (m[idx[j - 1]].bytes == m[v].bytes && m[idx[j - 1]].gen > m[v].gen))) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static void wc__sort_by_first_key(const wc_sst_meta *m, size_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && wc_bytes_cmp(m[idx[j - 1]].first_key, m[idx[j - 1]].first_key_len,
                                     m[v].first_key, m[v].first_key_len) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* ---------------------------------------------------------------- fully expired */

static bool wc__expired_candidate(const wc_sst_meta *s, const wc_pick_env *env)
{
    return !s->compacting && s->max_ldt != UINT32_MAX && (int64_t)s->max_ldt < env->gc_before;
}

/* Fully expired SSTables that may be dropped whole; *found false if none. */
static wc_status wc__pick_expired(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                                  const wc_pick_env *env, wc_compaction_task *out, bool *found)
{
    bool unsafe = o->cls == WC_COMPACTION_TWCS && o->unsafe_aggressive_sstable_expiration;
    wc_status st;

    *found = false;
    for (size_t i = 0; i < n; i++) {
        bool ok = wc__expired_candidate(&m[i], env);

        if (ok && !unsafe) {
            if (env->mem_min_ts <= m[i].max_ts)
                ok = false;
            for (size_t j = 0; j < n && ok; j++) {
                if (j == i || wc__expired_candidate(&m[j], env))
                    continue;
                if (wc__tokens_overlap(&m[i], &m[j]) && m[j].min_ts <= m[i].max_ts)
                    ok = false;
            }
        }
        if (!ok)
            continue;
        if (!*found) {
            if ((st = wc__task_init(out, WC_TASK_DROP_EXPIRED, n)) != WC_OK)
                return st;
            *found = true;
        }
        out->inputs[out->ninputs++] = i;
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- tombstone compaction */

static double wc__droppable_ratio(const wc_sst_meta *s)
{
    return s->entries ? (double)s->droppable / (double)s->entries : 0.0;
}

static bool wc__worth_dropping_tombstones(const wc_compaction_options *o, const wc_sst_meta *m,
                                          size_t n, size_t i, const wc_pick_env *env)
{
    const wc_sst_meta *s = &m[i];

    if (s->compacting || s->created + o->tombstone_compaction_interval > env->now ||
        s->tombstone_retry_after > env->now)
        return false;
    if (wc__droppable_ratio(s) <= o->tombstone_threshold)
        return false;
    if (o->unchecked_tombstone_compaction)
        return true;
    /* a tombstone at ts can only go if everything overlapping is newer than ts */
    if (env->mem_min_ts <= s->min_ts)
        return false;
    for (size_t j = 0; j < n; j++)
        if (j != i && wc__tokens_overlap(s, &m[j]) && m[j].min_ts <= s->min_ts)
            return false;
    return true;
}

/* Candidates restricted to idx[0..ni) (NULL: all). */
static wc_status wc__pick_tombstone(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                                    const size_t *idx, size_t ni, const wc_pick_env *env,
                                    wc_compaction_task *out, bool *found)
{
    size_t best = 0;
    double best_ratio = -1;
    wc_status st;

    *found = false;
    for (size_t k = 0; k < (idx ? ni : n); k++) {
        size_t i = idx ? idx[k] : k;
        if (wc__worth_dropping_tombstones(o, m, n, i, env) && wc__droppable_ratio(&m[i]) > best_ratio) {
            best = i;
            best_ratio = wc__droppable_ratio(&m[i]);
        }
    }
    if (best_ratio < 0)
        return WC_OK;
    if ((st = wc__task_init(out, WC_TASK_TOMBSTONE, 1)) != WC_OK)
        return st;
    out->inputs[out->ninputs++] = best;
    out->level = m[best].level;
    if (o->cls == WC_COMPACTION_LCS && m[best].level > 0)
        out->max_output_bytes = o->sstable_size;
    *found = true;
    return WC_OK;
}

/* ---------------------------------------------------------------- STCS */

/*
 * Bucket the candidates idx[0..ni) and pick the most interesting bucket with
 * >= min_threshold members; *nbuckets_ready counts qualifying buckets (for
 * estimates).  idx is reordered.
 */
static wc_status wc__stcs_pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t *idx,
                               size_t ni, wc_compaction_task *out, bool *found,
                               uint64_t *nready)
{
    size_t *bstart = NULL, *blen = NULL, nb = 0;
    double *bavg = NULL;
    size_t best = SIZE_MAX, best_n = 0;
    wc_status st = WC_OK;

    *found = false;
    if (nready)
        *nready = 0;
    if (ni < o->min_threshold || ni == 0)
        return WC_OK;
    wc__sort_by_size(m, idx, ni);
    bstart = wc_malloc(ni * sizeof(*bstart));
    blen = wc_malloc(ni * sizeof(*blen));
    bavg = wc_malloc(ni * sizeof(*bavg));
    if (bstart == NULL || blen == NULL || bavg == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory picking a compaction");
        goto done;
    }
    /* sorted by size, so each SSTable can only join the last bucket */
    for (size_t k = 0; k < ni; k++) {
        double size = (double)m[idx[k]].bytes;
        bool join = false;

        if (nb > 0) {
            double avg = bavg[nb - 1];
            double minsz = (double)o->min_sstable_size;
            join = (size >= avg * o->bucket_low && size <= avg * o->bucket_high) ||
                   (size < minsz && avg < minsz);
        }
        if (join) {
            bavg[nb - 1] = (bavg[nb - 1] * (double)blen[nb - 1] + size) / (double)(blen[nb - 1] + 1);
            blen[nb - 1]++;
        } else {
            bstart[nb] = k;
            blen[nb] = 1;
            bavg[nb] = size;
            nb++;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = blen[b] < o->max_threshold ? blen[b] : o->max_threshold;
        if (blen[b] < o->min_threshold)
            continue;
        if (nready)
            *nready += 1 + (blen[b] - cnt) / o->max_threshold;
        if (best == SIZE_MAX || cnt > best_n || (cnt == best_n && bavg[b] < bavg[best])) {
            best = b;
            best_n = cnt;
        }
    }
    if (best == SIZE_MAX)
        goto done;
    if ((st = wc__task_init(out, WC_TASK_COMPACT, best_n)) != WC_OK)
        goto done;
    for (size_t k = 0; k < best_n; k++)
        out->inputs[out->ninputs++] = idx[bstart[best] + k]; /* the smallest of the bucket */
    *found = true;
done:
    wc_free(bstart);
    wc_free(blen);
    wc_free(bavg);
    return st;
}

/* ---------------------------------------------------------------- LCS */

/*
 * Targets per level, sized from the data (as RocksDB's dynamic level
 * bytes) once there are two levels: the deepest non-empty level D >= 2
 * holds most of the data and has no target of its own - it only spills
 * into D+1 once it is larger than even D+1's static target - and every
 * level above it targets bytes[D] / fanout^(D - level), at least one
 * SSTable.  L1 alone keeps its static target, so that an L0 compaction,
 * which merges with every overlapping L1 file, stays bounded.  With static
 * targets everywhere a last level just over its target spills into a new
 * level and space amplification rises well above 1.1.
 */
static void wc__lcs_targets(const wc_compaction_options *o, const uint64_t *bytes,
                            uint64_t *target)
{
    uint32_t fanout = o->fanout ? o->fanout : 10;
    uint32_t deepest = 0;

    for (uint32_t lv = 1; lv <= WC_LCS_MAX_LEVEL; lv++)
        if (bytes[lv] > 0)
            deepest = lv;
    for (uint32_t lv = 0; lv <= WC_LCS_MAX_LEVEL; lv++)
        target[lv] = wc_lcs_level_target(o, lv);
    if (deepest < 2)
        return;
    if (deepest < WC_LCS_MAX_LEVEL)
        target[deepest] = wc_lcs_level_target(o, deepest + 1);
    for (uint32_t lv = deepest; lv-- > 1;) {
        uint64_t t = target[lv + 1] == UINT64_MAX || lv + 1 == deepest ? bytes[deepest]
                                                                       : target[lv + 1];
        t /= fanout;
        target[lv] = t > o->sstable_size ? t : o->sstable_size;
    }
}

/* Add to out every SSTable of `level` overlapping the key range [lo, hi]; false if one is busy. */
static bool wc__lcs_add_overlaps(const wc_sst_meta *m, size_t n, uint32_t level,
                                 const wc_sst_meta *range, wc_compaction_task *out)
{
    for (size_t j = 0; j < n; j++) {
        if (m[j].level != level || !wc_key_ranges_overlap(&m[j], range))
            continue;
        if (m[j].compacting)
            return false;
        out->inputs[out->ninputs++] = j;
    }
    return true;
}

static wc_status wc__lcs_pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                              wc_lcs_state *lcs, wc_compaction_task *out, bool *found)
{
    uint64_t bytes[WC_LCS_MAX_LEVEL + 1] = {0}, target[WC_LCS_MAX_LEVEL + 1];
    size_t *idx = NULL, ni;
    wc_status st = WC_OK;

    *found = false;
    for (size_t i = 0; i < n; i++)
        bytes[m[i].level <= WC_LCS_MAX_LEVEL ? m[i].level : WC_LCS_MAX_LEVEL] += m[i].bytes;
    wc__lcs_targets(o, bytes, target);
    idx = wc_malloc((n ? n : 1) * sizeof(*idx));
    if (idx == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory picking a compaction");

    /* the highest level over its target compacts one SSTable into the next */
    for (uint32_t lv = WC_LCS_MAX_LEVEL - 1; lv >= 1 && !*found; lv--) {
        size_t pick = SIZE_MAX;

        if (bytes[lv] <= target[lv])
            continue;
        /*
         * L0 far behind while the levels above want work too (heavy writes):
         * as Cassandra, merge similar-sized L0 SSTables with size-tiered
         * rules first, so that reads do not merge every flush meanwhile.
         * The output stays in L0 and reaches L1 by the usual L0 compaction.
         */
        ni = 0;
        for (size_t i = 0; i < n; i++)
            if (m[i].level == 0 && !m[i].compacting)
                idx[ni++] = i;
        if (ni > WC_LCS_L0_STCS_TRIGGER) {
            if ((st = wc__stcs_pick(o, m, idx, ni, out, found, NULL)) != WC_OK)
                goto done;
            if (*found) {
                out->level = 0;
                break;
            }
        }
        ni = 0;
        for (size_t i = 0; i < n; i++)
            if (m[i].level == lv)
                idx[ni++] = i;
        wc__sort_by_first_key(m, idx, ni);
        /* round-robin: first SSTable starting after the last compacted key, else wrap */
        for (int pass = 0; pass < 2 && pick == SIZE_MAX; pass++) {
            for (size_t k = 0; k < ni && pick == SIZE_MAX; k++) {
                const wc_sst_meta *s = &m[idx[k]];
                bool busy = s->compacting;
                if (pass == 0 && lcs && lcs->last_key[lv] &&
                    wc_bytes_cmp(s->first_key, s->first_key_len, lcs->last_key[lv],
                                 lcs->last_key_len[lv]) <= 0)
                    continue;
                for (size_t j = 0; j < n && !busy; j++)
                    busy = m[j].level == lv + 1 && m[j].compacting && wc_key_ranges_overlap(&m[j], s);
                if (!busy)
                    pick = idx[k];
            }
        }
        if (pick == SIZE_MAX)
            continue;
        if ((st = wc__task_init(out, WC_TASK_COMPACT, n)) != WC_OK)
            goto done;
        out->inputs[out->ninputs++] = pick;
        wc__lcs_add_overlaps(m, n, lv + 1, &m[pick], out);
        out->level = lv + 1;
        out->max_output_bytes = o->sstable_size;
        if (lcs) {
            uint8_t *k = wc_memdup(m[pick].last_key, m[pick].last_key_len ? m[pick].last_key_len : 1);
            if (k != NULL) {
                wc_free(lcs->last_key[lv]);
                lcs->last_key[lv] = k;
                lcs->last_key_len[lv] = m[pick].last_key_len;
            }
        }
        *found = true;
    }
    if (*found)
        goto done;

    /* L0 -> L1 */
    ni = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i].level == 0 && !m[i].compacting)
            idx[ni++] = i;
    if (ni >= WC_LCS_L0_TRIGGER) {
        wc_sst_meta range;
        size_t take = ni < WC_LCS_L0_MAX_INPUTS ? ni : WC_LCS_L0_MAX_INPUTS;

        /* oldest first: by generation */
        for (size_t a = 1; a < ni; a++) {
            size_t v = idx[a], b = a;
            while (b > 0 && m[idx[b - 1]].gen > m[v].gen) {
                idx[b] = idx[b - 1];
                b--;
            }
            idx[b] = v;
        }
        memset(&range, 0, sizeof(range));
        range = m[idx[0]];
        for (size_t k = 1; k < take; k++) {
            const wc_sst_meta *s = &m[idx[k]];
            if (wc_bytes_cmp(s->first_key, s->first_key_len, range.first_key, range.first_key_len) < 0) {
                range.first_key = s->first_key;
                range.first_key_len = s->first_key_len;
            }
            if (wc_bytes_cmp(s->last_key, s->last_key_len, range.last_key, range.last_key_len) > 0) {
                range.last_key = s->last_key;
                range.last_key_len = s->last_key_len;
            }
        }
        if ((st = wc__task_init(out, WC_TASK_COMPACT, n)) != WC_OK)
            goto done;
        for (size_t k = 0; k < take; k++)
            out->inputs[out->ninputs++] = idx[k];
        if (!wc__lcs_add_overlaps(m, n, 1, &range, out)) {
            wc_compaction_task_free(out);
            goto done;
        }
        out->level = 1;
        out->max_output_bytes = o->sstable_size;
        *found = true;
    }
done:
    wc_free(idx);
    return st;
}

/* ---------------------------------------------------------------- TWCS */

static wc_status wc__twcs_pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t *idx,
                               size_t ni, wc_compaction_task *out, bool *found, uint64_t *nready)
{
    int64_t W = wc_compaction_window_seconds(o), newest = INT64_MIN, cur = INT64_MAX;
    size_t *win = NULL;
    wc_status st = WC_OK;

    *found = false;
    if (nready)
        *nready = 0;
    if (ni == 0)
        return WC_OK;
    win = wc_malloc(ni * sizeof(*win));
    if (win == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory picking a compaction");
    for (size_t k = 0; k < ni; k++) {
        int64_t w = wc_twcs_window(m[idx[k]].max_ts, W);
        if (w > newest)
            newest = w;
    }
    /* windows newest first: repeatedly take the largest window below cur */
    for (;;) {
        int64_t w = INT64_MIN;
        size_t nw = 0;
        bool any = false;

        for (size_t k = 0; k < ni; k++) {
            int64_t x = wc_twcs_window(m[idx[k]].max_ts, W);
            if (x < cur && (!any || x > w)) {
                w = x;
                any = true;
            }
        }
        if (!any)
            break;
        cur = w;
        for (size_t k = 0; k < ni; k++)
            if (wc_twcs_window(m[idx[k]].max_ts, W) == w)
                win[nw++] = idx[k];
        if (w == newest) {
            wc_compaction_task t;
            bool f;
            uint64_t r = 0;
            if ((st = wc__stcs_pick(o, m, win, nw, &t, &f, &r)) != WC_OK)
                goto done;
            if (nready)
                *nready += r;
            if (f && !*found) {
                *out = t;
                out->window = w;
                *found = true;
            } else if (f) {
                wc_compaction_task_free(&t);
            }
        } else if (nw >= 2) {
            size_t take = nw < o->max_threshold ? nw : o->max_threshold;
            if (nready)
                (*nready)++;
            if (!*found) {
                wc__sort_by_size(m, win, nw);
                if ((st = wc__task_init(out, WC_TASK_COMPACT, take)) != WC_OK)
                    goto done;
                for (size_t k = 0; k < take; k++)
                    out->inputs[out->ninputs++] = win[k];
                out->window = w;
                *found = true;
            }
        }
        if (*found && nready == NULL)
            break;
    }
done:
    wc_free(win);
    return st;
}

/* ---------------------------------------------------------------- entry points */

static wc_status wc__pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                          const wc_pick_env *env, wc_lcs_state *lcs, wc_compaction_task *out,
                          uint64_t *pending)
{
    size_t *idx = NULL, ni = 0;
    bool found = false;
    uint64_t ready = 0;
    wc_status st;

    memset(out, 0, sizeof(*out));
    out->window = INT64_MIN;
    if (pending)
        *pending = 0;
    if (!o->enabled || n == 0)
        return WC_OK;
    if ((st = wc__pick_expired(o, m, n, env, out, &found)) != WC_OK)
        return st;
    if (found) {
        if (pending)
            *pending = 1;
        return WC_OK;
    }
    idx = wc_malloc(n * sizeof(*idx));
    if (idx == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory picking a compaction");
    for (size_t i = 0; i < n; i++)
        if (!m[i].compacting)
            idx[ni++] = i;
    switch (o->cls) {
    case WC_COMPACTION_LCS:
        st = wc__lcs_pick(o, m, n, lcs, out, &found);
        if (pending && st == WC_OK) {
            uint64_t bytes[WC_LCS_MAX_LEVEL + 1] = {0}, l0 = 0, target[WC_LCS_MAX_LEVEL + 1];
            for (size_t i = 0; i < n; i++) {
                bytes[m[i].level <= WC_LCS_MAX_LEVEL ? m[i].level : WC_LCS_MAX_LEVEL] += m[i].bytes;
                l0 += m[i].level == 0;
            }
            wc__lcs_targets(o, bytes, target);
            ready = l0 >= WC_LCS_L0_TRIGGER ? (l0 + WC_LCS_L0_MAX_INPUTS - 1) / WC_LCS_L0_MAX_INPUTS : 0;
            for (uint32_t lv = 1; lv < WC_LCS_MAX_LEVEL; lv++) {
                uint64_t tgt = target[lv];
                if (bytes[lv] > tgt)
                    ready += (bytes[lv] - tgt + o->sstable_size - 1) / o->sstable_size;
            }
        }
        break;
    case WC_COMPACTION_TWCS:
        st = wc__twcs_pick(o, m, idx, ni, out, &found, pending ? &ready : NULL);
        break;
    default:
        st = wc__stcs_pick(o, m, idx, ni, out, &found, pending ? &ready : NULL);
        break;
    }
    if (st == WC_OK && !found) {
        ni = 0;
        for (size_t i = 0; i < n; i++)
            if (!m[i].compacting)
                idx[ni++] = i;
        st = wc__pick_tombstone(o, m, n, idx, ni, env, out, &found);
        if (found)
            ready++;
    }
    if (pending)
        *pending = ready > 0 ? ready : (found ? 1 : 0);
    wc_free(idx);
    return st;
}

wc_status wc_compaction_pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                             const wc_pick_env *env, wc_lcs_state *lcs, wc_compaction_task *out)
{
    return wc__pick(o, m, n, env, lcs, out, NULL);
}

uint64_t wc_compaction_estimate_pending(const wc_compaction_options *o, const wc_sst_meta *m,
                                        size_t n, const wc_pick_env *env)
{
    wc_compaction_task t;
    uint64_t pending = 0;

    if (wc__pick(o, m, n, env, NULL, &t, &pending) != WC_OK)
        return 0;
    wc_compaction_task_free(&t);
    return pending;
}

wc_status wc_compaction_major(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                              wc_compaction_task *out)
{
    uint64_t total = 0;
    wc_status st;

    memset(out, 0, sizeof(*out));
    out->window = INT64_MIN;
    if ((st = wc__task_init(out, WC_TASK_MAJOR, n)) != WC_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (m[i].compacting)
            continue;
        out->inputs[out->ninputs++] = i;
        total += m[i].bytes;
    }
    if (out->ninputs == 0) {
        wc_compaction_task_free(out);
        out->window = INT64_MIN;
        return WC_OK;
    }
    if (o->cls == WC_COMPACTION_LCS) {
        uint32_t lv = 1;
        while (lv < WC_LCS_MAX_LEVEL && total > wc_lcs_level_target(o, lv))
            lv++;
        out->level = lv;
        out->max_output_bytes = o->sstable_size;
    }
    return WC_OK;
}
