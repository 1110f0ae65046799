/*
 * regress/bench/sql_bench_client.c - the libpq client of 'make bench-sql'
 * (regress/bench/sql_bench.sh runs it; docs/benchmarks.md explains it).
 *
 *   sql_bench_client copy   CONNINFO TABLE FILE [txn]
 *       COPY TABLE FROM 'FILE' (FORMAT csv) on the server; prints
 *       "copy TABLE rows=N seconds=S rows_per_s=R".  With txn, the COPY
 *       runs inside BEGIN ... COMMIT and the time includes the COMMIT.
 *
 *   sql_bench_client reads point|latest CONNINFO TABLE_A TABLE_B ITER SEED
 *                          DEVICES READINGS BLOCK
 *       ITER prepared executions per table, one connection per table, with
 *       random existing keys (device dev-NNNNN, reading k at 2024-01-01
 *       00:00 UTC + k minutes) drawn from SEED, so both tables see the same
 *       keys in the same order: one untimed warm-up pass over all keys on
 *       each table, then the timed pass in blocks of BLOCK reads that
 *       alternate between the tables.  Each execution is timed on the client
 *       (clock_gettime around PQexecPrepared: send, execute, receive the
 *       whole result) and checked: point must return exactly 1 row with that
 *       key, latest exactly the 10 newest rows of the device, newest first.
 *       Prints per table "point|latest10 TABLE n=N p50_us=.. p90_us=..
 *       p99_us=.. mean_us=.. max_us=..".
 *
 *   sql_bench_client compare CONNINFO TABLE_A TABLE_B N SEED DEVICES READINGS
 *       For N random keys and N random devices: the point read and the
 *       latest-10 read of both tables must return identical rows (text).
 *
 * Exit status 1 and a line starting with "FAILED:" on any error or wrong
 * answer.
 *
 * Copyright (c) 2026, widecol developers
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <libpq-fe.h>

#define BASE_EPOCH 1704067200L	/* 2024-01-01 00:00:00 UTC */

static PGconn *conn;

static void
fail(const char *fmt, const char *a, const char *b)
{
	printf("FAILED: ");
	printf(fmt, a ? a : "", b ? b : "");
	printf("\n");
	fflush(stdout);
	if (conn)
		PQfinish(conn);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: a small fixed-seed generator, the same on every machine */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
device_name(char *buf, size_t len, long d)
{
	snprintf(buf, len, "dev-%05ld", d);
}

static void
reading_ts(char *buf, size_t len, long k)
{
	time_t		t = BASE_EPOCH + k * 60;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S+00", &tm);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
pct(const double *sorted, long n, double p)
{
	long		i = (long) (p * (n - 1) + 0.5);

	return sorted[i];
}

static void
connect_db(const char *conninfo)
{
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		fail("connect: %s%s", PQerrorMessage(conn), NULL);
}

/* Run a statement that returns no rows; fail on error. */
static void
exec_ok(const char *sql)
{
	PGresult   *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail("%s: %s", sql, PQerrorMessage(conn));
	PQclear(r);
}

static void
prepare(const char *name, const char *sql, int nparams)
{
	PGresult   *r = PQprepare(conn, name, sql, nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail("prepare %s: %s", sql, PQerrorMessage(conn));
	PQclear(r);
}

static int
do_copy(int argc, char **argv)
{
	char		sql[2048];
	PGresult   *r;
	double		t0, t1;
	long		rows;

	bool		txn = argc == 6 && strcmp(argv[5], "txn") == 0;

	if (argc != 5 && !txn)
		fail("usage: copy CONNINFO TABLE FILE [txn]%s%s", NULL, NULL);
	connect_db(argv[2]);
	snprintf(sql, sizeof(sql), "COPY %s FROM '%s' (FORMAT csv)", argv[3], argv[4]);
	t0 = now_s();
	if (txn)
		exec_ok("BEGIN");
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail("%s: %s", sql, PQerrorMessage(conn));
	rows = atol(PQcmdTuples(r));
	PQclear(r);
	if (txn)
		exec_ok("COMMIT");
	t1 = now_s();
	printf("copy %s rows=%ld seconds=%.3f rows_per_s=%.0f\n",
		   argv[3], rows, t1 - t0, rows / (t1 - t0));
	PQfinish(conn);
	return 0;
}

/* one point or latest-10 read, checked */
static void
one_read(PGconn *c, int latest, long d, long k, long readings)
{
	char		dev[32], ts[64];
	const char *params[2];
	PGresult   *r;

	device_name(dev, sizeof(dev), d);
	params[0] = dev;
	if (latest)
	{
		r = PQexecPrepared(c, "q", 1, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail("latest read of %s: %s", dev, PQerrorMessage(c));
		if (PQntuples(r) != 10)
			fail("latest read of %s: not 10 rows%s", dev, NULL);
		for (int i = 0; i < 10; i++)
		{
			reading_ts(ts, sizeof(ts), readings - 1 - i);
			if (strcmp(PQgetvalue(r, i, 0), dev) != 0 ||
				strcmp(PQgetvalue(r, i, 1), ts) != 0)
				fail("latest read of %s: wrong row at %s", dev, PQgetvalue(r, i, 1));
		}
	}
	else
	{
		reading_ts(ts, sizeof(ts), k);
		params[1] = ts;
		r = PQexecPrepared(c, "q", 2, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail("point read of %s: %s", dev, PQerrorMessage(c));
		if (PQntuples(r) != 1)
			fail("point read of %s %s: not exactly 1 row", dev, ts);
		if (strcmp(PQgetvalue(r, 0, 0), dev) != 0 ||
			strcmp(PQgetvalue(r, 0, 1), ts) != 0)
			fail("point read of %s %s: wrong row", dev, ts);
	}
	PQclear(r);
}

/* the key of read i: device and reading, from a fixed sequence */
static void
make_keys(long iter, uint64_t seed, long devices, long readings, long *dev, long *rd)
{
	rng_state = seed;
	for (long i = 0; i < iter; i++)
	{
		dev[i] = (long) (rng_next() % (uint64_t) devices);
		rd[i] = (long) (rng_next() % (uint64_t) readings);
	}
}

static void
report(const char *what, const char *table, double *lat, long iter)
{
	double		sum = 0;

	for (long i = 0; i < iter; i++)
		sum += lat[i];
	qsort(lat, iter, sizeof(double), cmp_double);
	printf("%s %s n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f\n",
		   what, table, iter,
		   pct(lat, iter, 0.50), pct(lat, iter, 0.90), pct(lat, iter, 0.99),
		   sum / iter, lat[iter - 1]);
}

/*
 * reads point|latest CONNINFO TABLE_A TABLE_B ITER SEED DEVICES READINGS BLOCK
 *
 * One connection per table.  Both tables get the same ITER keys in the same
 * order: first one untimed warm-up pass over all of them (A, then B), then
 * the timed pass in blocks of BLOCK reads, alternating between the tables
 * (A first in even blocks, B first in odd ones), so that whatever else the
 * machine is doing falls on both sides alike.
 */
static int
do_reads(int argc, char **argv)
{
	int			latest;
	long		iter, devices, readings, block;
	uint64_t	seed;
	PGconn	   *c[2];
	double	   *lat[2];
	long	   *dev, *rd;
	char		sql[1024];

	if (argc != 11)
		fail("usage: reads point|latest CONNINFO TABLE_A TABLE_B ITER SEED DEVICES READINGS BLOCK%s%s", NULL, NULL);
	latest = strcmp(argv[2], "latest") == 0;
	iter = atol(argv[6]);
	seed = strtoull(argv[7], NULL, 10);
	devices = atol(argv[8]);
	readings = atol(argv[9]);
	block = atol(argv[10]);
	if (iter < 1 || block < 1)
		fail("ITER and BLOCK must be positive%s%s", NULL, NULL);
	dev = malloc(sizeof(long) * iter);
	rd = malloc(sizeof(long) * iter);
	make_keys(iter, seed, devices, readings, dev, rd);

	for (int t = 0; t < 2; t++)
	{
		connect_db(argv[3]);
		c[t] = conn;
		if (latest)
			snprintf(sql, sizeof(sql),
					 "SELECT * FROM %s WHERE device_id = $1 "
					 "ORDER BY \"timestamp\" DESC LIMIT 10", argv[4 + t]);
		else
			snprintf(sql, sizeof(sql),
					 "SELECT * FROM %s WHERE device_id = $1 AND \"timestamp\" = $2",
					 argv[4 + t]);
		prepare("q", sql, 0);
		lat[t] = malloc(sizeof(double) * iter);
	}

	/* warm-up: every key once on each side, untimed */
	for (int t = 0; t < 2; t++)
		for (long i = 0; i < iter; i++)
			one_read(c[t], latest, dev[i], rd[i], readings);

	for (long b = 0; b * block < iter; b++)
	{
		long		lo = b * block,
					hi = lo + block < iter ? lo + block : iter;

		for (int s = 0; s < 2; s++)
		{
			int			t = (int) ((b + s) % 2);

			for (long i = lo; i < hi; i++)
			{
				double		t0 = now_s();

				one_read(c[t], latest, dev[i], rd[i], readings);
				lat[t][i] = (now_s() - t0) * 1e6;
			}
		}
	}
	for (int t = 0; t < 2; t++)
	{
		report(latest ? "latest10" : "point", argv[4 + t], lat[t], iter);
		PQfinish(c[t]);
		free(lat[t]);
	}
	conn = NULL;
	free(dev);
	free(rd);
	return 0;
}

/* all rows of a result as one string */
static char *
result_text(PGresult *r)
{
	size_t		len = 1, used = 0;
	char	   *s;

	for (int i = 0; i < PQntuples(r); i++)
		for (int j = 0; j < PQnfields(r); j++)
			len += PQgetlength(r, i, j) + 2;
	s = malloc(len);
	s[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++)
		for (int j = 0; j < PQnfields(r); j++)
			used += sprintf(s + used, "%s%c", PQgetisnull(r, i, j) ? "<null>" : PQgetvalue(r, i, j),
							j + 1 == PQnfields(r) ? '\n' : '|');
	return s;
}

static int
do_compare(int argc, char **argv)
{
	long		n, devices, readings;
	char		sql[1024];

	if (argc != 9)
		fail("usage: compare CONNINFO TABLE_A TABLE_B N SEED DEVICES READINGS%s%s", NULL, NULL);
	n = atol(argv[5]);
	rng_state = strtoull(argv[6], NULL, 10);
	devices = atol(argv[7]);
	readings = atol(argv[8]);
	connect_db(argv[2]);
	for (int t = 0; t < 2; t++)
	{
		snprintf(sql, sizeof(sql),
				 "SELECT * FROM %s WHERE device_id = $1 AND \"timestamp\" = $2", argv[3 + t]);
		prepare(t ? "pb" : "pa", sql, 0);
		snprintf(sql, sizeof(sql),
				 "SELECT * FROM %s WHERE device_id = $1 ORDER BY \"timestamp\" DESC LIMIT 10",
				 argv[3 + t]);
		prepare(t ? "lb" : "la", sql, 0);
	}
	for (long i = 0; i < n; i++)
	{
		char		dev[32], ts[64];
		const char *params[2] = {dev, ts};
		long		d = (long) (rng_next() % (uint64_t) devices);
		long		k = (long) (rng_next() % (uint64_t) readings);

		device_name(dev, sizeof(dev), d);
		reading_ts(ts, sizeof(ts), k);
		for (int q = 0; q < 2; q++)
		{
			PGresult   *ra = PQexecPrepared(conn, q ? "la" : "pa", q ? 1 : 2, params, NULL, NULL, 0);
			PGresult   *rb = PQexecPrepared(conn, q ? "lb" : "pb", q ? 1 : 2, params, NULL, NULL, 0);
			char	   *sa, *sb;

			if (PQresultStatus(ra) != PGRES_TUPLES_OK || PQresultStatus(rb) != PGRES_TUPLES_OK)
				fail("compare %s: %s", dev, PQerrorMessage(conn));
			if (PQntuples(ra) != (q ? 10 : 1))
				fail("compare %s %s: wrong row count", dev, ts);
			sa = result_text(ra);
			sb = result_text(rb);
			if (strcmp(sa, sb) != 0)
			{
				printf("%s:\n%s%s:\n%s", argv[3], sa, argv[4], sb);
				fail("compare %s %s: the tables differ", dev, ts);
			}
			free(sa);
			free(sb);
			PQclear(ra);
			PQclear(rb);
		}
	}
	printf("compare %s %s: %ld point reads and %ld latest-10 reads identical\n",
		   argv[3], argv[4], n, n);
	PQfinish(conn);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "copy") == 0)
		return do_copy(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "reads") == 0)
		return do_reads(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "compare") == 0)
		return do_compare(argc, argv);
	fprintf(stderr, "usage: %s copy|reads|compare ...\n", argv[0]);
	return 2;
}
