/*
 * ring_balance.c - how evenly the token ring spreads data, and what a
 * replica lookup costs (make bench-ring; docs/benchmarks.md).
 *
 * Balance: clusters of 3, 10 and 100 hosts with 16 tokens each, grown one
 * host at a time as a real cluster grows.  widecol's hosts take their
 * tokens from wc_ring_allocate_tokens (local factor 3); the baseline's
 * hosts take 16 random tokens (what a node does without an allocator).
 * For each size the largest owner is divided by the mean owner, for the
 * token share and for the effective ownership of an RF=3 SimpleStrategy
 * keyspace; 1.0 is perfect balance.  Every size is measured over --seeds
 * growths (default 5), and the mean of max/mean over them is reported
 * (the worst one is printed too).
 *
 * Lookups: on the last 100-host ring, the replicas of 1,000,000 random
 * tokens, RF=3 SimpleStrategy and NetworkTopologyStrategy {dc1: 3, dc2: 3}
 * over two data centres with three racks each: through a precomputed
 * wc_placement (what the coordinator keeps per keyspace) and through
 * wc_ring_replicas (a walk per lookup).
 *
 * RESULT lines (widecol first, then the baseline; ratio = baseline/widecol,
 * above 1: widecol better):
 *   RESULT ring_balance_n<N> widecol=<max/mean> baseline=<max/mean random> ratio=<b/w> unit=max_over_mean
 *   RESULT ring_balance_rf3_n<N> ... (effective ownership, RF=3)
 *   RESULT ring_replicas_1m_<simple|nts> widecol=<ms placement> baseline=<ms walk> ratio=<b/w> unit=ms
 *
 * Copyright (c) 2026, widecol developers
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "ring.h"

#define HOSTS 100
#define VNODES 16
#define LOOKUPS 1000000

static uint64_t bench_random(void *arg)
{
    return splitmix64(arg);
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

typedef struct growth {
    wc_ring_member m[HOSTS];
    int64_t tokens[HOSTS][VNODES];
    wc_ring *ring;
    uint32_t n;
} growth;

/* Add one host to g (allocated or random tokens); false on failure. */
static bool grow(growth *g, bool allocate, bool two_dcs, uint64_t *seed)
{
    wc_ring_member *m = &g->m[g->n];
    wc_ring *next;
    wc_status st = WC_OK;

    memset(m, 0, sizeof(*m));
    memcpy(m->host_id, &g->n, sizeof(g->n));
    snprintf(m->addr.host, sizeof(m->addr.host), "10.0.%u.%u", g->n / 250, g->n % 250 + 1);
    m->addr.port = 7000;
    snprintf(m->dc, sizeof(m->dc), "dc%u", two_dcs ? g->n % 2 + 1 : 1);
    snprintf(m->rack, sizeof(m->rack), "rack%u", g->n / 2 % 3 + 1);
    if (allocate)
        st = wc_ring_allocate_tokens(g->ring, two_dcs ? m->dc : NULL, VNODES, 3, bench_random,
                                     seed, g->tokens[g->n]);
    else
        for (int k = 0; k < VNODES; k++)
            g->tokens[g->n][k] = (int64_t)splitmix64(seed);
    m->tokens = g->tokens[g->n];
    m->ntokens = VNODES;
    if (st == WC_OK)
        st = wc_ring_build(g->m, g->n + 1, &next);
    if (st != WC_OK) {
        fprintf(stderr, "ring_balance: %s: %s\n", wc_status_name(st), wc_last_error());
        return false;
    }
    wc_ring_unref(g->ring);
    g->ring = next;
    g->n++;
    return true;
}

typedef struct balance {
    double share, rf3;          /* sums over seeds of max/mean */
    double worst_share, worst_rf3;
} balance;

static void measure(const growth *g, balance *b)
{
    wc_replication rf3 = {.cls = WC_REPL_SIMPLE, .replication_factor = 3};
    double own[HOSTS], s, e;

    wc_ring_ownership(g->ring, own);
    s = max_over_mean(own, g->n);
    wc_ring_effective_ownership(g->ring, &rf3, own);
    e = max_over_mean(own, g->n);
    b->share += s;
    b->rf3 += e;
    if (s > b->worst_share)
        b->worst_share = s;
    if (e > b->worst_rf3)
        b->worst_rf3 = e;
}

static double time_lookups(wc_ring *r, const wc_replication *repl, bool cached, uint64_t *check)
{
    wc_placement *p = NULL;
    uint64_t seed = 12345, sum = 0;
    double t0 = now_sec();

    if (cached && wc_placement_build(r, repl, &p) != WC_OK)
        return -1;
    for (int i = 0; i < LOOKUPS; i++) {
        int64_t token = (int64_t)splitmix64(&seed);
        uint32_t hosts[16];
        const uint32_t *hp = hosts;
        size_t n;

        if (cached)
            n = wc_placement_replicas(p, token, &hp);
        else if (wc_ring_replicas(r, repl, token, hosts, 16, &n) != WC_OK)
            return -1;
        for (size_t k = 0; k < n; k++)
            sum += hp[k] * (k + 1);
    }
    wc_placement_unref(p);
    *check = sum;
    return (now_sec() - t0) * 1000;
}

int main(int argc, char **argv)
{
    static const uint32_t sizes[] = {3, 10, 100};
    balance w[3] = {{0}}, base[3] = {{0}};
    int seeds = 5;
    growth *g = calloc(1, sizeof(*g));

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--seeds=", 8) == 0 && atoi(argv[i] + 8) > 0) {
            seeds = atoi(argv[i] + 8);
        } else {
            fprintf(stderr, "usage: %s [--seeds=N]  (default 5)\n", argv[0]);
            return 2;
        }
    }
    if (g == NULL)
        return 1;
    printf("ring balance: 16 tokens per host, hosts added one by one, %d growths each\n", seeds);
    for (int allocate = 1; allocate >= 0; allocate--)
        for (int s = 0; s < seeds; s++) {
            uint64_t seed = 1000 + (uint64_t)s;
            int next = 0;

            memset(g, 0, sizeof(*g));
            while (g->n < HOSTS) {
                if (!grow(g, allocate, false, &seed))
                    return 1;
                if (g->n == sizes[next])
                    measure(g, &(allocate ? w : base)[next++]);
            }
            wc_ring_unref(g->ring);
        }
    printf("%-6s %-22s %-22s %-22s %-22s\n", "hosts", "widecol share (worst)",
           "random share (worst)", "widecol RF=3 (worst)", "random RF=3 (worst)");
    for (int i = 0; i < 3; i++)
        printf("%-6u %.3f (%.3f)          %.3f (%.3f)          %.3f (%.3f)          %.3f (%.3f)\n",
               sizes[i], w[i].share / seeds, w[i].worst_share, base[i].share / seeds,
               base[i].worst_share, w[i].rf3 / seeds, w[i].worst_rf3, base[i].rf3 / seeds,
               base[i].worst_rf3);
    printf("\n");
    for (int i = 0; i < 3; i++) {
        printf("RESULT ring_balance_n%u widecol=%.3f baseline=%.3f ratio=%.3f unit=max_over_mean\n",
               sizes[i], w[i].share / seeds, base[i].share / seeds, base[i].share / w[i].share);
        printf("RESULT ring_balance_rf3_n%u widecol=%.3f baseline=%.3f ratio=%.3f "
               "unit=max_over_mean\n",
               sizes[i], w[i].rf3 / seeds, base[i].rf3 / seeds, base[i].rf3 / w[i].rf3);
    }

    /* lookups on a 100-host ring (two data centres, three racks each) */
    {
        wc_replication simple = {.cls = WC_REPL_SIMPLE, .replication_factor = 3};
        wc_replication nts = {.cls = WC_REPL_NETWORK_TOPOLOGY, .ndcs = 2};
        uint64_t seed = 77, c1 = 0, c2 = 0;

        strcpy(nts.dcs[0].name, "dc1");
        nts.dcs[0].factor = 3;
        strcpy(nts.dcs[1].name, "dc2");
        nts.dcs[1].factor = 3;
        memset(g, 0, sizeof(*g));
        while (g->n < HOSTS)
            if (!grow(g, true, true, &seed))
                return 1;
        printf("\nreplicas of %d random tokens, 100 hosts x 16 tokens, two DCs of three racks:\n",
               LOOKUPS);
        for (int k = 0; k < 2; k++) {
            const wc_replication *repl = k ? &nts : &simple;
            double cached = time_lookups(g->ring, repl, true, &c1);
            double walk = time_lookups(g->ring, repl, false, &c2);

            if (cached < 0 || walk < 0 || c1 != c2) {
                fprintf(stderr, "ring_balance: lookups failed or disagree\n");
                return 1;
            }
            printf("  %-6s placement %.1f ms (%.0f ns each), walk %.1f ms (%.0f ns each)\n",
                   k ? "NTS" : "RF=3", cached, cached * 1e6 / LOOKUPS, walk,
                   walk * 1e6 / LOOKUPS);
            printf("RESULT ring_replicas_1m_%s widecol=%.1f baseline=%.1f ratio=%.2f unit=ms\n",
                   k ? "nts" : "simple", cached, walk, walk / cached);
        }
        wc_ring_unref(g->ring);
    }
    free(g);
    return 0;
}
