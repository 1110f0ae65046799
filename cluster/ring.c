/*
 * ring.c - token ring snapshots, primary ranges, replica placement and
 * ownership (rules in ring.h).  A built ring is immutable; only its
 * reference count changes, atomically.
 */
#include "ring.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wc_ring {
    int refs;
    uint32_t nhosts;
    wc_ring_member *hosts; /* tokens point into host_tokens */
    int64_t *host_tokens;  /* each host's tokens, sorted, host after host */
    size_t ntokens;
    int64_t *tokens;     /* sorted */
    uint32_t *owner;     /* host of tokens[i] */
    uint32_t *host_dc;   /* data-centre index of each host */
    uint32_t *host_rack; /* (dc, rack) index of each host */
    uint32_t ndcs;
    uint32_t *dc_hosts; /* hosts per data centre */
    uint32_t *dc_racks; /* racks per data centre */
};

struct wc_placement {
    int refs;
    wc_ring *ring;
    size_t *offsets; /* ntokens + 1: replicas of range i are hosts[offsets[i] .. offsets[i+1]) */
    uint32_t *hosts;
};

/*
 * A replication description resolved against one ring: for each data
 * centre of the keyspace present in the ring, its ring index, how many
 * replicas it takes and how many rack repeats it allows.
 */
typedef struct wc__repl_plan {
    bool simple;
    uint32_t total; /* replicas of every range */
    uint32_t nslots;
    struct {
        uint32_t dc;     /* ring dc index */
        uint32_t want;   /* min(factor, hosts of the dc) */
        int64_t repeats; /* factor - racks of the dc (may be negative) */
    } slot[WC_REPL_MAX_DCS];
} wc__repl_plan;

/* ---------------------------------------------------------------- build */

static void wc__format_host_id(const uint8_t *id, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;

    for (int i = 0; i < WC_RING_HOST_ID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

static wc_status wc__check_name(const char *name, size_t cap, const char *what, const uint8_t *id)
{
    char hid[40];
    size_t len = strnlen(name, cap);

    if (len == 0 || len == cap) {
        wc__format_host_id(id, hid);
        return wc_error(WC_INVALID_ARGUMENT, "host %s: %s name must have 1 to %zu characters", hid,
                        what, cap - 1);
    }
    return WC_OK;
}

static wc_status wc__check_members(const wc_ring_member *m, size_t n, size_t *total)
{
    char hid[40];
    wc_status st;

    if (n == 0)
        return wc_error(WC_INVALID_ARGUMENT, "a ring needs at least one member");
    if (n > WC_RING_MAX_HOSTS)
        return wc_error(WC_INVALID_ARGUMENT, "a ring has at most %d members, %zu given",
                        WC_RING_MAX_HOSTS, n);
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        wc__format_host_id(m[i].host_id, hid);
        if (m[i].ntokens == 0 || m[i].tokens == NULL)
            return wc_error(WC_INVALID_ARGUMENT, "host %s has no tokens", hid);
        if (m[i].ntokens > WC_RING_MAX_TOKENS_PER_HOST)
            return wc_error(WC_INVALID_ARGUMENT, "host %s has %u tokens, at most %d allowed", hid,
                            m[i].ntokens, WC_RING_MAX_TOKENS_PER_HOST);
        if ((st = wc__check_name(m[i].dc, sizeof(m[i].dc), "data centre", m[i].host_id)) != WC_OK ||
            (st = wc__check_name(m[i].rack, sizeof(m[i].rack), "rack", m[i].host_id)) != WC_OK)
            return st;
        for (size_t j = 0; j < i; j++) {
            if (memcmp(m[i].host_id, m[j].host_id, WC_RING_HOST_ID_LEN) == 0)
                return wc_error(WC_INVALID_ARGUMENT, "host %s is given twice", hid);
            if (wc_addr_equal(&m[i].addr, &m[j].addr)) {
                char addr[WC_ADDR_HOST_MAX + 8];
                wc_addr_format(&m[i].addr, addr, sizeof(addr));
                return wc_error(WC_INVALID_ARGUMENT, "address %s is given for two hosts", addr);
            }
        }
        *total += m[i].ntokens;
    }
    return WC_OK;
}

static int wc__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct wc__tok_owner {
    int64_t token;
    uint32_t owner;
} wc__tok_owner;

static int wc__cmp_tok_owner(const void *a, const void *b)
{
    return wc__cmp_i64(&((const wc__tok_owner *)a)->token, &((const wc__tok_owner *)b)->token);
}

/* Index of name in names[0..n), or n. */
static uint32_t wc__name_index(const char *const *names, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return n;
}

/* Data-centre and rack indexes of every host. */
static wc_status wc__index_locations(wc_ring *r)
{
    const char **dcs = wc_calloc(r->nhosts, sizeof(*dcs));
    uint32_t *rack_dc = wc_calloc(r->nhosts, sizeof(*rack_dc));
    const char **racks = wc_calloc(r->nhosts, sizeof(*racks));
    uint32_t nracks = 0;
    wc_status st = WC_NO_MEMORY;

    r->host_dc = wc_calloc(r->nhosts, sizeof(uint32_t));
    r->host_rack = wc_calloc(r->nhosts, sizeof(uint32_t));
    r->dc_hosts = wc_calloc(r->nhosts, sizeof(uint32_t));
    r->dc_racks = wc_calloc(r->nhosts, sizeof(uint32_t));
    if (dcs == NULL || rack_dc == NULL || racks == NULL || r->host_dc == NULL ||
        r->host_rack == NULL || r->dc_hosts == NULL || r->dc_racks == NULL)
        goto fail;
    for (uint32_t h = 0; h < r->nhosts; h++) {
        uint32_t d = wc__name_index(dcs, r->ndcs, r->hosts[h].dc), k;

        if (d == r->ndcs)
            dcs[r->ndcs++] = r->hosts[h].dc;
        r->host_dc[h] = d;
        r->dc_hosts[d]++;
        for (k = 0; k < nracks; k++)
            if (rack_dc[k] == d && strcmp(racks[k], r->hosts[h].rack) == 0)
                break;
        if (k == nracks) {
            rack_dc[nracks] = d;
            racks[nracks++] = r->hosts[h].rack;
            r->dc_racks[d]++;
        }
        r->host_rack[h] = k;
    }
    st = WC_OK;
fail:
    wc_free(dcs);
    wc_free(rack_dc);
    wc_free(racks);
    return st == WC_OK ? st : wc_error(st, "out of memory building the token ring");
}

static void wc__ring_free(wc_ring *r)
{
    if (r == NULL)
        return;
    wc_free(r->hosts);
    wc_free(r->host_tokens);
    wc_free(r->tokens);
    wc_free(r->owner);
    wc_free(r->host_dc);
    wc_free(r->host_rack);
    wc_free(r->dc_hosts);
    wc_free(r->dc_racks);
    wc_free(r);
}

wc_status wc_ring_build(const wc_ring_member *members, size_t n, wc_ring **out)
{
    wc__tok_owner *pairs = NULL;
    wc_ring *r = NULL;
    size_t total = 0, pos = 0;
    wc_status st;

    if ((st = wc__check_members(members, n, &total)) != WC_OK)
        return st;
    st = WC_NO_MEMORY;
    r = wc_calloc(1, sizeof(*r));
    if (r == NULL)
        goto fail;
    r->refs = 1;
    r->nhosts = (uint32_t)n;
    r->ntokens = total;
    r->hosts = wc_calloc(n, sizeof(*r->hosts));
    r->host_tokens = wc_calloc(total, sizeof(int64_t));
    r->tokens = wc_calloc(total, sizeof(int64_t));
    r->owner = wc_calloc(total, sizeof(uint32_t));
    pairs = wc_calloc(total, sizeof(*pairs));
    if (r->hosts == NULL || r->host_tokens == NULL || r->tokens == NULL || r->owner == NULL ||
        pairs == NULL)
        goto fail;
    for (size_t h = 0; h < n; h++) {
        r->hosts[h] = members[h];
        memcpy(r->host_tokens + pos, members[h].tokens, members[h].ntokens * sizeof(int64_t));
        qsort(r->host_tokens + pos, members[h].ntokens, sizeof(int64_t), wc__cmp_i64);
        r->hosts[h].tokens = r->host_tokens + pos;
        for (uint32_t k = 0; k < members[h].ntokens; k++) {
            pairs[pos + k].token = members[h].tokens[k];
            pairs[pos + k].owner = (uint32_t)h;
        }
        pos += members[h].ntokens;
    }
    qsort(pairs, total, sizeof(*pairs), wc__cmp_tok_owner);
    for (size_t i = 0; i < total; i++) {
        if (i > 0 && pairs[i].token == pairs[i - 1].token) {
            uint32_t x = pairs[i - 1].owner, y = pairs[i].owner;
            char a[40], b[40];
            wc__format_host_id(r->hosts[x < y ? x : y].host_id, a);
            wc__format_host_id(r->hosts[x < y ? y : x].host_id, b);
            st = wc_error(WC_INVALID_ARGUMENT, "token %lld is given twice (hosts %s and %s)",
                          (long long)pairs[i].token, a, b);
            goto fail;
        }
        r->tokens[i] = pairs[i].token;
        r->owner[i] = pairs[i].owner;
    }
    if ((st = wc__index_locations(r)) != WC_OK)
        goto fail;
    wc_free(pairs);
    *out = r;
    return WC_OK;
fail:
    wc_free(pairs);
    wc__ring_free(r);
    return st == WC_NO_MEMORY ? wc_error(st, "out of memory building the token ring") : st;
}

wc_status wc_ring_with_member(const wc_ring *old, const wc_ring_member *m, wc_ring **out)
{
    wc_ring_member *list = wc_calloc(old->nhosts + 1, sizeof(*list));
    int32_t same = wc_ring_find_host(old, m->host_id);
    size_t n = old->nhosts;
    wc_status st;

    if (list == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory building the token ring");
    memcpy(list, old->hosts, old->nhosts * sizeof(*list));
    if (same >= 0)
        list[same] = *m;
    else
        list[n++] = *m;
    st = wc_ring_build(list, n, out);
    wc_free(list);
    return st;
}

void wc_ring_ref(wc_ring *r)
{
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

void wc_ring_unref(wc_ring *r)
{
    if (r != NULL && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
        wc__ring_free(r);
}

/* ---------------------------------------------------------------- current snapshot */

void wc_ring_slot_init(wc_ring_slot *s)
{
    pthread_mutex_init(&s->mu, NULL);
    s->ring = NULL;
}

void wc_ring_slot_destroy(wc_ring_slot *s)
{
    wc_ring_unref(s->ring);
    s->ring = NULL;
    pthread_mutex_destroy(&s->mu);
}

wc_ring *wc_ring_slot_get(wc_ring_slot *s)
{
    wc_ring *r;

    pthread_mutex_lock(&s->mu);
    r = s->ring;
    if (r != NULL)
        wc_ring_ref(r);
    pthread_mutex_unlock(&s->mu);
    return r;
}

void wc_ring_slot_set(wc_ring_slot *s, wc_ring *r)
{
    wc_ring *old;

    wc_ring_ref(r);
    pthread_mutex_lock(&s->mu);
    old = s->ring;
    s->ring = r;
    pthread_mutex_unlock(&s->mu);
    wc_ring_unref(old); /* a reader may still hold it: freed by its last unref */
}

/* ---------------------------------------------------------------- reading */

uint32_t wc_ring_host_count(const wc_ring *r)
{
    return r->nhosts;
}

size_t wc_ring_token_count(const wc_ring *r)
{
    return r->ntokens;
}

const wc_ring_member *wc_ring_host(const wc_ring *r, uint32_t i)
{
    return &r->hosts[i];
}

int32_t wc_ring_find_host(const wc_ring *r, const uint8_t host_id[WC_RING_HOST_ID_LEN])
{
    for (uint32_t h = 0; h < r->nhosts; h++)
        if (memcmp(r->hosts[h].host_id, host_id, WC_RING_HOST_ID_LEN) == 0)
            return (int32_t)h;
    return -1;
}

int64_t wc_ring_token_at(const wc_ring *r, size_t i)
{
    return r->tokens[i];
}

uint32_t wc_ring_owner_at(const wc_ring *r, size_t i)
{
    return r->owner[i];
}

size_t wc__token_lower_bound(const int64_t *tokens, size_t n, int64_t token)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tokens[mid] < token)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t wc_ring_range_index(const wc_ring *r, int64_t token)
{
    size_t i = wc__token_lower_bound(r->tokens, r->ntokens, token);

    return i == r->ntokens ? 0 : i;
}

uint32_t wc_ring_primary(const wc_ring *r, int64_t token)
{
    return r->owner[wc_ring_range_index(r, token)];
}

/* Width of the primary range of tokens[i] as a fraction of the ring. */
static double wc__range_fraction(const wc_ring *r, size_t i)
{
    size_t prev = i == 0 ? r->ntokens - 1 : i - 1;

    if (r->ntokens == 1)
        return 1.0;
    return (double)((uint64_t)r->tokens[i] - (uint64_t)r->tokens[prev]) * 0x1p-64;
}

/* ---------------------------------------------------------------- placement */

static void wc__plan(const wc_ring *r, const wc_replication *repl, wc__repl_plan *p)
{
    memset(p, 0, sizeof(*p));
    if (repl->cls == WC_REPL_SIMPLE) {
        p->simple = true;
        p->total = repl->replication_factor < r->nhosts ? repl->replication_factor : r->nhosts;
        return;
    }
    for (uint32_t i = 0; i < repl->ndcs; i++) {
        uint32_t d;

        if (repl->dcs[i].factor == 0)
            continue;
        /* the ring's index of the data centre, through any host of it */
        d = r->ndcs;
        for (uint32_t h = 0; h < r->nhosts; h++)
            if (strcmp(r->hosts[h].dc, repl->dcs[i].name) == 0) {
                d = r->host_dc[h];
                break;
            }
        if (d == r->ndcs)
            continue; /* a data centre absent from the ring: no replicas */
        p->slot[p->nslots].dc = d;
        p->slot[p->nslots].want =
            repl->dcs[i].factor < r->dc_hosts[d] ? repl->dcs[i].factor : r->dc_hosts[d];
        p->slot[p->nslots].repeats = (int64_t)repl->dcs[i].factor - (int64_t)r->dc_racks[d];
        p->total += p->slot[p->nslots].want;
        p->nslots++;
    }
}

static int wc__slot_of(const wc__repl_plan *p, uint32_t dc)
{
    for (uint32_t s = 0; s < p->nslots; s++)
        if (p->slot[s].dc == dc)
            return (int)s;
    return -1;
}

/*
 * The walk from range index start: writes plan->total host indexes into out
 * (REQUIRES: room for them) and returns how many it found (fewer only if
 * the ring cannot provide them).
 */
static uint32_t wc__walk(const wc_ring *r, const wc__repl_plan *p, size_t start, uint32_t *out)
{
    uint32_t n = 0, left[WC_REPL_MAX_DCS];
    int64_t repeats[WC_REPL_MAX_DCS];

    for (uint32_t s = 0; s < p->nslots; s++) {
        left[s] = p->slot[s].want;
        repeats[s] = p->slot[s].repeats;
    }
    for (size_t k = 0, i = start; k < r->ntokens && n < p->total; k++) {
        uint32_t h = r->owner[i];
        bool seen = false, rack_used = false;
        int s = 0;

        if (++i == r->ntokens)
            i = 0;
        for (uint32_t j = 0; j < n && !seen; j++)
            seen = out[j] == h;
        if (seen)
            continue;
        if (!p->simple) {
            s = wc__slot_of(p, r->host_dc[h]);
            if (s < 0 || left[s] == 0)
                continue;
            for (uint32_t j = 0; j < n && !rack_used; j++)
                rack_used = r->host_rack[out[j]] == r->host_rack[h];
            if (rack_used) {
                if (repeats[s] <= 0)
                    continue; /* the remaining replicas go to racks not used yet */
                repeats[s]--;
            }
            left[s]--;
        }
        out[n++] = h;
    }
    return n;
}

wc_status wc_ring_replicas(const wc_ring *r, const wc_replication *repl, int64_t token,
                           uint32_t *out, size_t cap, size_t *n)
{
    wc__repl_plan plan;
    uint32_t *buf = out;

    wc__plan(r, repl, &plan);
    if (plan.total > cap) {
        *n = 0;
        return wc_error(WC_INVALID_ARGUMENT, "room for %zu replicas, %u needed", cap, plan.total);
    }
    *n = wc__walk(r, &plan, wc_ring_range_index(r, token), buf);
    return WC_OK;
}

void wc_ring_ownership(const wc_ring *r, double *out)
{
    memset(out, 0, r->nhosts * sizeof(double));
    for (size_t i = 0; i < r->ntokens; i++)
        out[r->owner[i]] += wc__range_fraction(r, i);
}

wc_status wc_ring_effective_ownership(const wc_ring *r, const wc_replication *repl, double *out)
{
    wc__repl_plan plan;
    uint32_t *reps;

    wc__plan(r, repl, &plan);
    memset(out, 0, r->nhosts * sizeof(double));
    if (plan.total == 0)
        return WC_OK;
    reps = wc_calloc(plan.total, sizeof(uint32_t));
    if (reps == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory computing ownership");
    for (size_t i = 0; i < r->ntokens; i++) {
        double w = wc__range_fraction(r, i);
        uint32_t n = wc__walk(r, &plan, i, reps);

        for (uint32_t j = 0; j < n; j++) {
            uint32_t want =
                plan.simple ? plan.total : plan.slot[wc__slot_of(&plan, r->host_dc[reps[j]])].want;
            out[reps[j]] += w / want;
        }
    }
    wc_free(reps);
    return WC_OK;
}

wc_status wc_placement_build(wc_ring *r, const wc_replication *repl, wc_placement **out)
{
    wc_placement *p = wc_calloc(1, sizeof(*p));
    wc__repl_plan plan;
    size_t pos = 0;

    wc__plan(r, repl, &plan);
    if (p == NULL)
        goto fail;
    p->offsets = wc_calloc(r->ntokens + 1, sizeof(size_t));
    p->hosts = wc_calloc(r->ntokens * (plan.total ? plan.total : 1), sizeof(uint32_t));
    if (p->offsets == NULL || p->hosts == NULL)
        goto fail;
    for (size_t i = 0; i < r->ntokens; i++) {
        p->offsets[i] = pos;
        pos += wc__walk(r, &plan, i, p->hosts + pos);
    }
    p->offsets[r->ntokens] = pos;
    p->refs = 1;
    p->ring = r;
    wc_ring_ref(r);
    *out = p;
    return WC_OK;
fail:
    if (p != NULL) {
        wc_free(p->offsets);
        wc_free(p->hosts);
        wc_free(p);
    }
    return wc_error(WC_NO_MEMORY, "out of memory computing replica placement");
}

void wc_placement_ref(wc_placement *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void wc_placement_unref(wc_placement *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    wc_ring_unref(p->ring);
    wc_free(p->offsets);
    wc_free(p->hosts);
    wc_free(p);
}

const wc_ring *wc_placement_ring(const wc_placement *p)
{
    return p->ring;
}

size_t wc_placement_replicas(const wc_placement *p, int64_t token, const uint32_t **hosts)
{
    size_t i = wc_ring_range_index(p->ring, token);

    *hosts = p->hosts + p->offsets[i];
    return p->offsets[i + 1] - p->offsets[i];
}
