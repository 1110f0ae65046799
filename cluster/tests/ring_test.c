/*
 * ring_test.c - the token ring: primary ranges that wrap at the minimum,
 * SimpleStrategy and rack-aware NetworkTopologyStrategy placement, minimal
 * movement when a host joins, ownership, the token allocator's balance,
 * and malformed membership refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "ring.h"

#define MAX_TEST_HOSTS 128

/* splitmix64: the tests' deterministic random source */
static uint64_t next_random(void *arg)
{
    uint64_t *s = arg, z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A growing cluster of test hosts; tokens[h] holds host h's tokens. */
typedef struct cluster {
    wc_ring_member m[MAX_TEST_HOSTS];
    int64_t tokens[MAX_TEST_HOSTS][64];
    size_t n;
} cluster;

static wc_ring_member *add_host(cluster *c, const char *dc, const char *rack, const int64_t *tokens,
                                uint32_t ntokens)
{
    wc_ring_member *m = &c->m[c->n];

    memset(m, 0, sizeof(*m));
    m->host_id[0] = 0xab;
    m->host_id[15] = (uint8_t)c->n;
    snprintf(m->addr.host, sizeof(m->addr.host), "10.0.0.%zu", c->n + 1);
    m->addr.port = 7000;
    snprintf(m->dc, sizeof(m->dc), "%s", dc);
    snprintf(m->rack, sizeof(m->rack), "%s", rack);
    memcpy(c->tokens[c->n], tokens, ntokens * sizeof(int64_t));
    m->tokens = c->tokens[c->n];
    m->ntokens = ntokens;
    c->n++;
    return m;
}

static wc_ring *build(const cluster *c)
{
    wc_ring *r = NULL;

    if (wc_ring_build(c->m, c->n, &r) != WC_OK)
        fail_msg("wc_ring_build: %s", wc_last_error());
    return r;
}

/* Join one host with allocated tokens (allocator or random) to *r. */
static void join(cluster *c, wc_ring **r, const char *dc, const char *rack, uint32_t ntokens,
                 uint64_t *seed, bool random_tokens)
{
    int64_t t[64];

    if (random_tokens)
        for (uint32_t k = 0; k < ntokens; k++)
            t[k] = (int64_t)next_random(seed);
    else
        assert_int_equal(wc_ring_allocate_tokens(*r, dc, ntokens, 3, next_random, seed, t), WC_OK);
    add_host(c, dc, rack, t, ntokens);
    wc_ring_unref(*r);
    *r = build(c);
}

static wc_replication simple(uint32_t rf)
{
    wc_replication r;

    memset(&r, 0, sizeof(r));
    r.cls = WC_REPL_SIMPLE;
    r.replication_factor = rf;
    return r;
}

static wc_replication nts(const char *dc1, uint32_t f1, const char *dc2, uint32_t f2)
{
    wc_replication r;

    memset(&r, 0, sizeof(r));
    r.cls = WC_REPL_NETWORK_TOPOLOGY;
    snprintf(r.dcs[0].name, sizeof(r.dcs[0].name), "%s", dc1);
    r.dcs[0].factor = f1;
    r.ndcs = 1;
    if (dc2 != NULL) {
        snprintf(r.dcs[1].name, sizeof(r.dcs[1].name), "%s", dc2);
        r.dcs[1].factor = f2;
        r.ndcs = 2;
    }
    return r;
}

/* The replicas of token as host indexes, formatted "0,2,1" for comparisons. */
static const char *replicas_text(const wc_ring *r, const wc_replication *repl, int64_t token)
{
    static char buf[256];
    uint32_t hosts[64];
    size_t n, len = 0;

    assert_int_equal(wc_ring_replicas(r, repl, token, hosts, 64, &n), WC_OK);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u", i ? "," : "", hosts[i]);
    return buf;
}

static double max_over_mean(const double *v, uint32_t n)
{
    double max = 0, sum = 0;

    for (uint32_t i = 0; i < n; i++) {
        sum += v[i];
        if (v[i] > max)
            max = v[i];
    }
    return max / (sum / n);
}

/* ---------------------------------------------------------------- tests */

static void test_wraparound(void **state)
{
    static const int64_t a[] = {-100, 100}, b[] = {0};
    cluster c = {0};
    wc_ring *r;

    (void)state;
    add_host(&c, "dc1", "r1", a, 2);
    add_host(&c, "dc1", "r1", b, 1);
    r = build(&c);
    assert_int_equal(wc_ring_token_count(r), 3);
    /* (100, -100] wraps past the maximum to the minimum: range 0 */
    assert_int_equal(wc_ring_range_index(r, -100), 0);
    assert_int_equal(wc_ring_range_index(r, INT64_MIN), 0);
    assert_int_equal(wc_ring_range_index(r, INT64_MAX), 0);
    assert_int_equal(wc_ring_range_index(r, 101), 0);
    assert_int_equal(wc_ring_range_index(r, -99), 1);
    assert_int_equal(wc_ring_range_index(r, 0), 1);
    assert_int_equal(wc_ring_range_index(r, 1), 2);
    assert_int_equal(wc_ring_range_index(r, 100), 2);
    assert_int_equal(wc_ring_primary(r, 0), 1);
    assert_int_equal(wc_ring_primary(r, 50), 0);
    assert_int_equal(wc_ring_primary(r, INT64_MIN), 0);
    wc_ring_unref(r);

    /* one token: the whole ring is its range */
    c.n = 0;
    add_host(&c, "dc1", "r1", b, 1);
    r = build(&c);
    assert_int_equal(wc_ring_range_index(r, INT64_MIN), 0);
    assert_int_equal(wc_ring_range_index(r, INT64_MAX), 0);
    {
        double own;
        wc_ring_ownership(r, &own);
        assert_true(own == 1.0);
    }
    wc_ring_unref(r);
}

static void test_simple_placement(void **state)
{
    /* ring order: h0 h1 h0 h2 h3 (tokens 10 20 30 40 50) */
    static const int64_t t0[] = {10, 30}, t1[] = {20}, t2[] = {40}, t3[] = {50};
    wc_replication rf3 = simple(3), rf9 = simple(9), rf1 = simple(1);
    cluster c = {0};
    wc_ring *r;

    (void)state;
    add_host(&c, "dc1", "r1", t0, 2);
    add_host(&c, "dc1", "r1", t1, 1);
    add_host(&c, "dc1", "r1", t2, 1);
    add_host(&c, "dc1", "r1", t3, 1);
    r = build(&c);
    assert_string_equal(replicas_text(r, &rf1, 15), "1");
    /* distinct hosts: the second h0 token is skipped */
    assert_string_equal(replicas_text(r, &rf3, 15), "1,0,2");
    assert_string_equal(replicas_text(r, &rf3, 5), "0,1,2");
    assert_string_equal(replicas_text(r, &rf3, 45), "3,0,1");
    assert_string_equal(replicas_text(r, &rf3, 51), "0,1,2"); /* wraps */
    /* a factor above the hosts gives every host once */
    assert_string_equal(replicas_text(r, &rf9, 35), "2,3,0,1");
    {
        uint32_t small[2];
        size_t n;
        assert_int_equal(wc_ring_replicas(r, &rf3, 0, small, 2, &n), WC_INVALID_ARGUMENT);
    }
    wc_ring_unref(r);
}

static void test_nts_placement(void **state)
{
    /*
     * dc1: h0 r1, h1 r1, h2 r2; dc2: h3 ra, h4 ra.
     * ring order: h0(10) h3(15) h1(20) h4(25) h2(30)
     */
    static const int64_t t0[] = {10}, t1[] = {20}, t2[] = {30}, t3[] = {15}, t4[] = {25};
    wc_replication a = nts("dc1", 2, NULL, 0), b = nts("dc1", 3, "dc2", 1),
                   absent = nts("dc1", 1, "dc9", 3), many = nts("dc2", 5, NULL, 0),
                   one_rack = nts("dc1", 1, NULL, 0);
    cluster c = {0};
    wc_ring *r;

    (void)state;
    add_host(&c, "dc1", "r1", t0, 1);
    add_host(&c, "dc1", "r1", t1, 1);
    add_host(&c, "dc1", "r2", t2, 1);
    add_host(&c, "dc2", "ra", t3, 1);
    add_host(&c, "dc2", "ra", t4, 1);
    r = build(&c);
    /* factor 2 over 2 racks: h1 repeats rack r1, so r2's h2 comes first */
    assert_string_equal(replicas_text(r, &a, 5), "0,2");
    /* factor 3 over 2 racks: one repeat allowed, so h1 is taken in walk order */
    assert_string_equal(replicas_text(r, &b, 5), "0,3,1,2");
    assert_string_equal(replicas_text(r, &b, 21), "4,2,0,1");
    /* a data centre absent from the ring gives no replicas */
    assert_string_equal(replicas_text(r, &absent, 12), "1");
    /* a factor above the hosts of the dc gives each of them once */
    assert_string_equal(replicas_text(r, &many, 26), "3,4");
    assert_string_equal(replicas_text(r, &one_rack, 26), "2");
    wc_ring_unref(r);
}

static bool contains(const uint32_t *hosts, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        if (hosts[i] == h)
            return true;
    return false;
}

/* Every replica set of the new ring is the old one, or it with the joining host in. */
static void check_movement(const wc_ring *before, const wc_ring *after, const wc_replication *repl,
                           uint32_t joined, bool joined_counts)
{
    uint64_t seed = 99;
    size_t moved = 0, tries = 20000;

    for (size_t k = 0; k < tries; k++) {
        int64_t t = (int64_t)next_random(&seed);
        uint32_t x[64], y[64];
        size_t nx, ny, lost = 0;

        assert_int_equal(wc_ring_replicas(before, repl, t, x, 64, &nx), WC_OK);
        assert_int_equal(wc_ring_replicas(after, repl, t, y, 64, &ny), WC_OK);
        assert_int_equal(nx, ny);
        if (memcmp(x, y, nx * sizeof(uint32_t)) == 0)
            continue;
        moved++;
        if (!contains(y, ny, joined))
            fail_msg("token %lld: replicas changed without the joining host", (long long)t);
        /* the only newcomer is the joining host, replacing one old replica */
        for (size_t j = 0; j < ny; j++)
            if (!contains(x, nx, y[j]) && y[j] != joined)
                fail_msg("token %lld: host %u became a replica without joining", (long long)t,
                         y[j]);
        for (size_t i = 0; i < nx; i++)
            lost += !contains(y, ny, x[i]);
        assert_true(lost <= 1);
    }
    if (joined_counts)
        assert_true(moved > 0);
    else
        assert_int_equal(moved, 0);
}

static void test_minimal_movement(void **state)
{
    wc_replication rf3 = simple(3), both = nts("dc1", 3, "dc2", 2), dc1 = nts("dc1", 3, NULL, 0);
    uint64_t seed = 7;
    cluster c = {0};
    wc_ring *r = NULL, *before;
    static const char *racks[] = {"r1", "r2", "r3"};

    (void)state;
    for (int i = 0; i < 10; i++)
        join(&c, &r, i % 2 ? "dc2" : "dc1", racks[i % 3], 16, &seed, false);
    before = r;
    wc_ring_ref(before);
    join(&c, &r, "dc2", "r1", 16, &seed, false);
    check_movement(before, r, &rf3, 10, true);
    check_movement(before, r, &both, 10, true);
    /* a host joining dc2 moves nothing of a keyspace replicated only in dc1 */
    check_movement(before, r, &dc1, 10, false);
    wc_ring_unref(before);
    wc_ring_unref(r);
}

static void test_ownership(void **state)
{
    wc_replication rf3 = simple(3), two = nts("dc1", 3, "dc2", 2), rf1 = simple(1);
    double share[MAX_TEST_HOSTS], eff[MAX_TEST_HOSTS], sum, dc1, dc2;
    uint64_t seed = 3;
    cluster c = {0};
    wc_ring *r = NULL;

    (void)state;
    for (int i = 0; i < 12; i++)
        join(&c, &r, i < 8 ? "dc1" : "dc2", i % 2 ? "ra" : "rb", 16, &seed, true);
    wc_ring_ownership(r, share);
    sum = 0;
    for (int i = 0; i < 12; i++)
        sum += share[i];
    assert_float_equal(sum, 1.0, 1e-9);
    assert_int_equal(wc_ring_effective_ownership(r, &rf1, eff), WC_OK);
    for (int i = 0; i < 12; i++)
        assert_float_equal(eff[i], share[i], 1e-12);
    assert_int_equal(wc_ring_effective_ownership(r, &rf3, eff), WC_OK);
    sum = 0;
    for (int i = 0; i < 12; i++)
        sum += eff[i];
    assert_float_equal(sum, 1.0, 1e-9);
    assert_int_equal(wc_ring_effective_ownership(r, &two, eff), WC_OK);
    dc1 = dc2 = 0;
    for (int i = 0; i < 12; i++)
        *(i < 8 ? &dc1 : &dc2) += eff[i];
    assert_float_equal(dc1, 1.0, 1e-9);
    assert_float_equal(dc2, 1.0, 1e-9);
    wc_ring_unref(r);
}

static void test_allocator_balance(void **state)
{
    wc_replication rf3 = simple(3);
    double share[MAX_TEST_HOSTS], eff[MAX_TEST_HOSTS];
    uint64_t seed = 42;
    cluster c = {0};
    wc_ring *r = NULL;

    (void)state;
    for (uint32_t n = 1; n <= 100; n++) {
        join(&c, &r, "dc1", "r1", 16, &seed, false);
        if (n != 3 && n != 10 && n != 100)
            continue;
        wc_ring_ownership(r, share);
        assert_int_equal(wc_ring_effective_ownership(r, &rf3, eff), WC_OK);
        print_message("%u hosts: largest/mean token share %.3f, RF=3 %.3f\n", n,
                      max_over_mean(share, n), max_over_mean(eff, n));
        if (max_over_mean(share, n) > 1.3 || max_over_mean(eff, n) > 1.3)
            fail_msg("%u hosts: largest owner %.3f / %.3f of the mean, above 1.3", n,
                     max_over_mean(share, n), max_over_mean(eff, n));
    }
    wc_ring_unref(r);
}

static void test_allocator_deterministic(void **state)
{
    static const int64_t first[] = {123};
    int64_t a[16], b[16], even[4];
    uint64_t s1 = 5, s2 = 5;
    cluster c = {0};
    wc_ring *r;

    (void)state;
    add_host(&c, "dc1", "r1", first, 1);
    r = build(&c);
    assert_int_equal(wc_ring_allocate_tokens(r, NULL, 16, 3, next_random, &s1, a), WC_OK);
    assert_int_equal(wc_ring_allocate_tokens(r, NULL, 16, 3, next_random, &s2, b), WC_OK);
    assert_memory_equal(a, b, sizeof(a));
    for (int k = 1; k < 16; k++)
        assert_true(a[k - 1] < a[k]);
    /* the first host of a data centre: evenly spaced, 2^62 apart */
    assert_int_equal(wc_ring_allocate_tokens(r, "dc2", 4, 3, next_random, &s1, even), WC_OK);
    for (int k = 1; k < 4; k++)
        assert_true((uint64_t)even[k] - (uint64_t)even[k - 1] == (1ull << 62));
    assert_int_equal(wc_ring_allocate_tokens(r, NULL, 0, 3, next_random, &s1, a),
                     WC_INVALID_ARGUMENT);
    wc_ring_unref(r);
}

static void expect_refused(const cluster *c, const char *detail)
{
    wc_ring *r = NULL;

    assert_int_equal(wc_ring_build(c->m, c->n, &r), WC_INVALID_ARGUMENT);
    assert_null(r);
    if (strstr(wc_last_error(), detail) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", wc_last_error(), detail);
}

static void test_malformed(void **state)
{
    static const int64_t t1[] = {1, 2}, t2[] = {3, 1}, twice[] = {5, 5}, t3[] = {9};
    cluster c = {0};
    wc_ring_member *m;

    (void)state;
    expect_refused(&c, "at least one member");
    add_host(&c, "dc1", "r1", t1, 2);
    add_host(&c, "dc1", "r1", t2, 2);
    expect_refused(&c, "token 1 is given twice (hosts ab000000-0000-0000-0000-000000000000 and "
                       "ab000000-0000-0000-0000-000000000001)");
    c.n = 1;
    add_host(&c, "dc1", "r1", twice, 2);
    expect_refused(&c, "token 5 is given twice");
    c.n = 1;
    add_host(&c, "dc1", "r1", t3, 0);
    expect_refused(&c, "host ab000000-0000-0000-0000-000000000001 has no tokens");
    c.n = 1;
    m = add_host(&c, "", "r1", t3, 1);
    expect_refused(&c, "data centre name must have 1 to 47 characters");
    memset(m->dc, 'd', sizeof(m->dc));
    expect_refused(&c, "data centre name must have 1 to 47 characters");
    strcpy(m->dc, "dc1");
    m->rack[0] = '\0';
    expect_refused(&c, "rack name");
    strcpy(m->rack, "r1");
    m->host_id[15] = 0;
    expect_refused(&c, "is given twice");
    m->host_id[15] = 1;
    m->addr = c.m[0].addr;
    expect_refused(&c, "address 10.0.0.1:7000 is given for two hosts");
    snprintf(m->addr.host, sizeof(m->addr.host), "10.0.0.2");
    wc_ring_unref(build(&c));
}

/* Snapshots: an old ring stays whole after a new one is built from it. */
static void test_snapshots_and_placement(void **state)
{
    wc_replication rf3 = simple(3), two = nts("dc1", 2, "dc2", 2);
    uint64_t seed = 11, probe = 1;
    cluster c = {0};
    wc_ring *r = NULL, *next;
    wc_ring_member joiner;
    wc_placement *p;
    int64_t t[16];

    (void)state;
    for (int i = 0; i < 8; i++)
        join(&c, &r, i % 2 ? "dc1" : "dc2", i % 3 ? "r1" : "r2", 16, &seed, false);
    assert_int_equal(wc_ring_allocate_tokens(r, NULL, 16, 3, next_random, &seed, t), WC_OK);
    joiner = c.m[7];
    joiner.host_id[15] = 200;
    snprintf(joiner.addr.host, sizeof(joiner.addr.host), "10.0.1.1");
    joiner.tokens = t;
    assert_int_equal(wc_ring_with_member(r, &joiner, &next), WC_OK);
    assert_int_equal(wc_ring_host_count(r), 8);
    assert_int_equal(wc_ring_host_count(next), 9);
    assert_int_equal(wc_ring_find_host(next, joiner.host_id), 8);
    assert_int_equal(wc_ring_find_host(r, joiner.host_id), -1);
    /* the same host again replaces its entry */
    wc_ring_unref(r);
    r = next;
    assert_int_equal(wc_ring_with_member(r, &joiner, &next), WC_OK);
    assert_int_equal(wc_ring_host_count(next), 9);
    wc_ring_unref(next);

    /* the precomputed placement agrees with the walk */
    for (int k = 0; k < 2; k++) {
        const wc_replication *repl = k ? &two : &rf3;
        assert_int_equal(wc_placement_build(r, repl, &p), WC_OK);
        wc_ring_unref(r); /* the placement keeps the ring */
        for (int i = 0; i < 5000; i++) {
            int64_t tok = (int64_t)next_random(&probe);
            const uint32_t *hosts;
            uint32_t walk[64];
            size_t n, np = wc_placement_replicas(p, tok, &hosts);

            assert_int_equal(wc_ring_replicas(wc_placement_ring(p), repl, tok, walk, 64, &n),
                             WC_OK);
            assert_int_equal(n, np);
            assert_memory_equal(walk, hosts, n * sizeof(uint32_t));
        }
        r = (wc_ring *)wc_placement_ring(p);
        wc_ring_ref(r);
        wc_placement_unref(p);
    }
    wc_ring_unref(r);
}

typedef struct reader_arg {
    wc_ring_slot *slot;
    int *done; /* set (atomically) once the writer has published its last ring */
    int lookups;
    int bad;
} reader_arg;

/* Look up replicas on whatever ring is current; each view must stay whole. */
static void *reader(void *p)
{
    reader_arg *a = p;
    wc_replication rf3 = simple(3);
    uint64_t seed = 5;

    for (int i = 0; i < 200 || !__atomic_load_n(a->done, __ATOMIC_ACQUIRE); i++) {
        wc_ring *r = wc_ring_slot_get(a->slot);
        uint32_t hosts[8];
        size_t n;

        for (int k = 0; k < 20; k++) {
            int64_t t = (int64_t)next_random(&seed);
            size_t idx = wc_ring_range_index(r, t);
            bool ok = wc_ring_token_count(r) == wc_ring_host_count(r) * 16u &&
                      wc_ring_replicas(r, &rf3, t, hosts, 8, &n) == WC_OK &&
                      n == (wc_ring_host_count(r) < 3 ? wc_ring_host_count(r) : 3) &&
                      hosts[0] == wc_ring_owner_at(r, idx) &&
                      (wc_ring_token_at(r, idx) >= t || idx == 0);

            a->bad += !ok;
            a->lookups++;
        }
        wc_ring_unref(r);
    }
    return NULL;
}

/*
 * Readers on two threads keep using the snapshot they took while the main
 * thread publishes 40 bigger rings; every snapshot is freed at the end.
 */
static void test_slot_threads(void **state)
{
    uint64_t live = wc_alloc_live_count(), seed = 21;
    wc_ring_slot slot;
    int done = 0;
    reader_arg args[2] = {{&slot, &done, 0, 0}, {&slot, &done, 0, 0}};
    pthread_t th[2];
    cluster *c = calloc(1, sizeof(*c));
    wc_ring *r = NULL;

    (void)state;
    wc_ring_slot_init(&slot);
    assert_null(wc_ring_slot_get(&slot));
    join(c, &r, "dc1", "r1", 16, &seed, false);
    wc_ring_slot_set(&slot, r);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    for (int n = 1; n < 40; n++) {
        join(c, &r, "dc1", "r1", 16, &seed, false);
        wc_ring_slot_set(&slot, r);
    }
    wc_ring_unref(r);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
        assert_true(args[i].lookups > 0);
    }
    wc_ring_slot_destroy(&slot);
    free(c);
    assert_int_equal(wc_alloc_live_count(), live);
}

/* Out of memory at every allocation of a build: refused, nothing leaked. */
static void test_out_of_memory(void **state)
{
    static const int64_t t0[] = {1, 2}, t1[] = {3};
    cluster c = {0};
    uint64_t live = wc_alloc_live_count();
    wc_status st = WC_NO_MEMORY;

    (void)state;
    add_host(&c, "dc1", "r1", t0, 2);
    add_host(&c, "dc2", "r1", t1, 1);
    for (uint64_t n = 1; st == WC_NO_MEMORY; n++) {
        wc_ring *r = NULL;
        wc_alloc_fail_after(n, 0);
        st = wc_ring_build(c.m, c.n, &r);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK)
            wc_ring_unref(r);
        else
            assert_int_equal(st, WC_NO_MEMORY);
        assert_int_equal(wc_alloc_live_count(), live);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_simple_placement),
        cmocka_unit_test(test_nts_placement),
        cmocka_unit_test(test_minimal_movement),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_allocator_balance),
        cmocka_unit_test(test_allocator_deterministic),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_snapshots_and_placement),
        cmocka_unit_test(test_slot_threads),
        cmocka_unit_test(test_out_of_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
