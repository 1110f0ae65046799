/*
 * ring_alloc.c - tokens for a joining host (wc_ring_allocate_tokens in
 * ring.h).
 *
 * Random tokens balance badly at few vnodes per host (at 16 the largest
 * owner of a 100-host ring holds about twice the mean), so each new token
 * is placed where it lowers imbalance the most, in the spirit of
 * Cassandra's allocate_tokens_for_local_replication_factor.  The measure
 * is, over the hosts in scope,
 *
 *     sum of share(h)^2 + sum of eff(h)^2
 *
 * where share is the token share and eff the effective ownership for
 * SimpleStrategy with the local factor rf; for a fixed total, a smaller sum
 * of squares is a more even spread.  A new token p in range (t[i-1], t[i]]
 * changes share only for the owner of t[i] and the new host, and eff only
 * for the ranges whose replica walk passes p: the split range and the few
 * ranges before it whose walk had not yet found rf hosts at t[i-1].  For one
 * range the change is a quadratic in the width x taken, so the best x of
 * every range is computed exactly (kept between 35% and 65% of the range,
 * WC__SPLIT_MIN), and the range with the lowest result wins.  Ties go to the first
 * range from a random starting point, so the result depends only on the
 * ring and the random values.  Pure computation on private copies:
 * thread-safe.
 */
#include "ring.h"

#include "alloc.h"

#include <stdlib.h>
#include <string.h>

/*
 * A new token takes between 35% and 65% of the range it splits.  Letting the
 * quadratic choose freely leaves slivers to the old owner: vnodes that no
 * longer carry their share, so later joins balance worse (at 100 hosts the
 * largest owner ends near 1.4 times the mean with 1/16..15/16, near 1.1
 * with this bound).
 */
#define WC__SPLIT_MIN 0.35

typedef struct wc__alloc {
    size_t n, cap;
    int64_t *tok;    /* sorted tokens of the hosts in scope and of the new host */
    uint32_t *own;   /* scope index of the host of tok[i] */
    uint32_t nhosts; /* hosts in scope + 1; the new host is nhosts - 1 */
    uint32_t rf;     /* min(local factor, nhosts) */
    double *share, *eff;
    uint32_t *walk;     /* rf hosts per range: its replicas */
    uint32_t *walk_len; /* replicas found per range */
    size_t *reach;      /* tokens each range's walk visited */
    double *a, *b;      /* per host: change of eff, constant and per unit of x */
    uint32_t *touched;
    uint8_t *mark;
    uint32_t ntouched;
} wc__alloc;

static void wc__alloc_free(wc__alloc *a)
{
    wc_free(a->tok);
    wc_free(a->own);
    wc_free(a->share);
    wc_free(a->eff);
    wc_free(a->walk);
    wc_free(a->walk_len);
    wc_free(a->reach);
    wc_free(a->a);
    wc_free(a->b);
    wc_free(a->touched);
    wc_free(a->mark);
}

static double wc__width(const wc__alloc *a, size_t i)
{
    size_t prev = i == 0 ? a->n - 1 : i - 1;

    if (a->n == 1)
        return 1.0;
    return (double)((uint64_t)a->tok[i] - (uint64_t)a->tok[prev]) * 0x1p-64;
}

static bool wc__has(const uint32_t *hosts, uint32_t n, uint32_t h)
{
    for (uint32_t j = 0; j < n; j++)
        if (hosts[j] == h)
            return true;
    return false;
}

/*
 * The replicas of the range at start in the ring with one more token of the
 * new host after the first `before` tokens of the walk: at most rf hosts
 * into out, their count returned.
 */
static uint32_t wc__new_walk(const wc__alloc *a, size_t start, size_t before, uint32_t *out)
{
    uint32_t n = 0, x = a->nhosts - 1;
    size_t i = start;

    for (size_t k = 0; k <= a->n && n < a->rf; k++) {
        uint32_t h;
        if (k == before) {
            h = x;
        } else {
            h = a->own[i];
            if (++i == a->n)
                i = 0;
        }
        if (!wc__has(out, n, h))
            out[n++] = h;
    }
    return n;
}

/* share, eff and the replica walk of every range, from scratch. */
static void wc__recompute(wc__alloc *a)
{
    memset(a->share, 0, a->nhosts * sizeof(double));
    memset(a->eff, 0, a->nhosts * sizeof(double));
    for (size_t j = 0; j < a->n; j++) {
        uint32_t *w = a->walk + j * a->rf, n = 0;
        double width = wc__width(a, j);
        size_t k = 0, i = j;

        a->share[a->own[j]] += width;
        for (; k < a->n && n < a->rf; k++) {
            if (!wc__has(w, n, a->own[i]))
                w[n++] = a->own[i];
            if (++i == a->n)
                i = 0;
        }
        a->walk_len[j] = n;
        a->reach[j] = k;
        for (uint32_t r = 0; r < n; r++)
            a->eff[w[r]] += width / a->rf;
    }
}

static void wc__add(wc__alloc *a, double *arr, uint32_t h, double v)
{
    if (!a->mark[h]) {
        a->mark[h] = 1;
        a->a[h] = a->b[h] = 0;
        a->touched[a->ntouched++] = h;
    }
    arr[h] += v;
}

static void wc__add_walk(wc__alloc *a, double *arr, const uint32_t *hosts, uint32_t n, double v)
{
    for (uint32_t r = 0; r < n; r++)
        wc__add(a, arr, hosts[r], v);
}

/*
 * The best width x to take from range i and the change of the measure it
 * brings, into *x and *cost.  False if the range is too narrow to split.
 */
static bool wc__evaluate(wc__alloc *a, size_t i, uint32_t *scratch, double *x, double *cost)
{
    double W = wc__width(a, i), A = 0, B = 0, C = 0, lo = W * WC__SPLIT_MIN,
           hi = W * (1 - WC__SPLIT_MIN);
    uint32_t x_host = a->nhosts - 1, o = a->own[i], n;

    if (a->n > 1 && (uint64_t)a->tok[i] - (uint64_t)a->tok[i == 0 ? a->n - 1 : i - 1] < 64)
        return false;
    a->ntouched = 0;
    /* the ranges before i whose walk reaches the new token */
    for (size_t d = 1; d < a->n; d++) {
        size_t j = (i + a->n - d) % a->n;
        double w = wc__width(a, j) / a->rf;

        if (a->reach[j] <= d)
            break;
        wc__add_walk(a, a->a, a->walk + j * a->rf, a->walk_len[j], -w);
        n = wc__new_walk(a, j, d, scratch);
        wc__add_walk(a, a->a, scratch, n, w);
    }
    /*
     * Range i: (t[i-1], p] of width x goes to the new host first, (p, t[i]]
     * keeps its walk (plus the new host at its end if it found fewer than rf).
     */
    wc__add_walk(a, a->a, a->walk + i * a->rf, a->walk_len[i], -W / a->rf);
    n = wc__new_walk(a, i, a->n, scratch);
    wc__add_walk(a, a->a, scratch, n, W / a->rf);
    wc__add_walk(a, a->b, scratch, n, -1.0 / a->rf);
    n = wc__new_walk(a, i, 0, scratch);
    wc__add_walk(a, a->b, scratch, n, 1.0 / a->rf);
    for (uint32_t t = 0; t < a->ntouched; t++) {
        uint32_t h = a->touched[t];
        double base = a->eff[h] + a->a[h];

        A += a->b[h] * a->b[h];
        B += 2 * base * a->b[h];
        C += base * base - a->eff[h] * a->eff[h];
        a->mark[h] = 0;
    }
    if (o != x_host) {
        A += 2;
        B += 2 * (a->share[x_host] - a->share[o]);
    }
    *x = A > 0 ? -B / (2 * A) : lo;
    if (*x < lo)
        *x = lo;
    if (*x > hi)
        *x = hi;
    *cost = C + B * *x + A * *x * *x;
    return true;
}

static bool wc__token_taken(const wc_ring *r, int64_t t)
{
    return r != NULL && wc_ring_token_at(r, wc_ring_range_index(r, t)) == t;
}

/* Insert token t of the new host into the working ring (REQUIRES: room). */
static void wc__insert(wc__alloc *a, int64_t t)
{
    size_t lo = wc__token_lower_bound(a->tok, a->n, t);

    memmove(a->tok + lo + 1, a->tok + lo, (a->n - lo) * sizeof(int64_t));
    memmove(a->own + lo + 1, a->own + lo, (a->n - lo) * sizeof(uint32_t));
    a->tok[lo] = t;
    a->own[lo] = a->nhosts - 1;
    a->n++;
}

/* Evenly spaced tokens from a random offset, for the first host in scope. */
static wc_status wc__evenly(const wc_ring *r, uint32_t ntokens, uint64_t offset, int64_t *out)
{
    uint64_t step = ntokens == 1 ? 0 : (uint64_t)(((unsigned __int128)1 << 64) / ntokens);

    if (step != 0)
        offset %= step;
    for (uint32_t k = 0; k < ntokens; k++) {
        uint64_t t = (uint64_t)INT64_MIN + offset + step * k;
        for (int tries = 0; wc__token_taken(r, (int64_t)t); tries++) {
            if (tries == 1000)
                return wc_error(WC_INVALID_ARGUMENT, "no free token near %lld",
                                (long long)(int64_t)t);
            t++;
        }
        out[k] = (int64_t)t;
    }
    return WC_OK;
}

static int wc__cmp_token(const void *x, const void *y)
{
    int64_t p = *(const int64_t *)x, q = *(const int64_t *)y;
    return (p > q) - (p < q);
}

/* The working ring of the hosts in scope (all, or those of dc). */
static wc_status wc__alloc_init(wc__alloc *a, const wc_ring *r, const char *dc, uint32_t ntokens,
                                uint32_t local_rf)
{
    uint32_t nh = r == NULL ? 0 : wc_ring_host_count(r), *scope = NULL;
    size_t nt = r == NULL ? 0 : wc_ring_token_count(r);

    memset(a, 0, sizeof(*a));
    scope = wc_calloc(nh + 1, sizeof(uint32_t));
    if (scope == NULL)
        goto fail;
    for (uint32_t h = 0; h < nh; h++)
        if (dc == NULL || strcmp(wc_ring_host(r, h)->dc, dc) == 0)
            scope[h] = ++a->nhosts; /* 1-based; 0: out of scope */
    a->nhosts++;
    a->rf = local_rf < a->nhosts ? local_rf : a->nhosts;
    a->cap = nt + ntokens;
    a->tok = wc_calloc(a->cap, sizeof(int64_t));
    a->own = wc_calloc(a->cap, sizeof(uint32_t));
    a->walk = wc_calloc(a->cap * a->rf, sizeof(uint32_t));
    a->walk_len = wc_calloc(a->cap, sizeof(uint32_t));
    a->reach = wc_calloc(a->cap, sizeof(size_t));
    a->share = wc_calloc(a->nhosts, sizeof(double));
    a->eff = wc_calloc(a->nhosts, sizeof(double));
    a->a = wc_calloc(a->nhosts, sizeof(double));
    a->b = wc_calloc(a->nhosts, sizeof(double));
    a->touched = wc_calloc(a->nhosts, sizeof(uint32_t));
    a->mark = wc_calloc(a->nhosts, 1);
    if (a->tok == NULL || a->own == NULL || a->walk == NULL || a->walk_len == NULL ||
        a->reach == NULL || a->share == NULL || a->eff == NULL || a->a == NULL || a->b == NULL ||
        a->touched == NULL || a->mark == NULL)
        goto fail;
    for (size_t i = 0; i < nt; i++) {
        uint32_t s = scope[wc_ring_owner_at(r, i)];
        if (s != 0) {
            a->tok[a->n] = wc_ring_token_at(r, i);
            a->own[a->n++] = s - 1;
        }
    }
    wc_free(scope);
    return WC_OK;
fail:
    wc_free(scope);
    wc__alloc_free(a);
    return wc_error(WC_NO_MEMORY, "out of memory allocating tokens");
}

wc_status wc_ring_allocate_tokens(const wc_ring *r, const char *dc, uint32_t ntokens,
                                  uint32_t local_rf, wc_ring_random_fn random, void *random_arg,
                                  int64_t *out)
{
    uint32_t *scratch = NULL;
    wc__alloc a;
    wc_status st;

    if (ntokens == 0 || ntokens > WC_RING_MAX_TOKENS_PER_HOST || local_rf == 0)
        return wc_error(
            WC_INVALID_ARGUMENT,
            "%u tokens with local factor %u: expected 1 to %d tokens and a factor of at least 1",
            ntokens, local_rf, WC_RING_MAX_TOKENS_PER_HOST);
    if ((st = wc__alloc_init(&a, r, dc, ntokens, local_rf)) != WC_OK)
        return st;
    if (a.n == 0) {
        st = wc__evenly(r, ntokens, random(random_arg), out);
        goto done;
    }
    scratch = wc_calloc(a.rf, sizeof(uint32_t));
    if (scratch == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory allocating tokens");
        goto done;
    }
    for (uint32_t k = 0; k < ntokens; k++) {
        size_t start, best = a.n;
        double best_x = 0, best_cost = 0;
        uint64_t off, width;
        int64_t t;

        wc__recompute(&a);
        start = (size_t)(random(random_arg) % a.n);
        for (size_t c = 0; c < a.n; c++) {
            size_t i = (start + c) % a.n;
            double x, cost;

            if (wc__evaluate(&a, i, scratch, &x, &cost) && (best == a.n || cost < best_cost)) {
                best = i;
                best_x = x;
                best_cost = cost;
            }
        }
        if (best == a.n) {
            st = wc_error(WC_INVALID_ARGUMENT,
                          "no range of the ring is wide enough for a new token");
            goto done;
        }
        width = (uint64_t)a.tok[best] - (uint64_t)a.tok[best == 0 ? a.n - 1 : best - 1];
        off = (uint64_t)(best_x * 0x1p64);
        if (off == 0)
            off = 1;
        if (width != 0 && off >= width)
            off = width - 1;
        t = (int64_t)((uint64_t)a.tok[best == 0 ? a.n - 1 : best - 1] + off);
        for (int tries = 0; wc__token_taken(r, t); tries++) {
            if (tries == 1000) {
                st = wc_error(WC_INVALID_ARGUMENT, "no free token near %lld", (long long)t);
                goto done;
            }
            t++;
        }
        wc__insert(&a, t);
        out[k] = t;
    }
    qsort(out, ntokens, sizeof(int64_t), wc__cmp_token);
    st = WC_OK;
done:
    wc_free(scratch);
    wc__alloc_free(&a);
    return st;
}
