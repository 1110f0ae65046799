# widecol - top-level Makefile
#
#   make              build engine (static lib) and the extension (PGXS)
#   make install      install the extension into the PostgreSQL found by pg_config
#   make test         everything: deps, build, unit tests, fuzz smoke, pg_regress, TAP
#   make unit         engine/cluster unit tests only (no PostgreSQL)
#   make check-layers engine/ and cluster/ stay plain C (no PostgreSQL headers
#                     or calls), engine/ does not include cluster/
#   make installcheck pg_regress suites (and TAP tests) against an installed,
#                     running server that preloads widecol (PGHOST/PGPORT)
#   make fuzz         build libFuzzer targets (clang + ASan) into build/fuzz/
#   make demo         build, install, start a throwaway instance, show what works
#   make demo-cluster build, install, start three instances that form a cluster
#   make bench-engine engine vs RocksDB benchmark (regress/bench/)
#   make bench-ring   token ring balance and replica lookups (regress/bench/)

PG_CONFIG ?= pg_config

# PGXS's 'all' builds the extension; the engine library comes first.
all:
BUILD     := build
CC        ?= gcc

# ---------------------------------------------------------------- engine
# The engine sees only its own headers; cluster/ is built on the engine and
# sees both (make check-layers enforces the same rule on the sources).
COMMON_CFLAGS  := -std=gnu11 -O2 -g -fPIC -Wall -Wextra -Wno-unused-parameter \
                  -Wno-missing-field-initializers -D_GNU_SOURCE
ENGINE_CFLAGS  := $(COMMON_CFLAGS) -Iengine
CLUSTER_CFLAGS := $(COMMON_CFLAGS) -Iengine -Icluster
ENGINE_LIBS   := -llz4 -lxxhash -lpthread -lm
# the internode handshake's HMAC-SHA256 (cluster/handshake.c)
CLUSTER_LIBS  := -lcrypto

ENGINE_SRCS := $(sort $(wildcard engine/*.c))
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
ENGINE_LIB  := $(BUILD)/libwcengine.a

CLUSTER_SRCS := $(sort $(wildcard cluster/*.c))
CLUSTER_OBJS := $(CLUSTER_SRCS:%.c=$(BUILD)/%.o)
CLUSTER_LIB  := $(BUILD)/libwccluster.a

$(BUILD)/engine/%.o: engine/%.c $(wildcard engine/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CFLAGS) -c $< -o $@

$(BUILD)/cluster/%.o: cluster/%.c $(wildcard engine/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CLUSTER_CFLAGS) -c $< -o $@

$(ENGINE_LIB): $(ENGINE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLUSTER_LIB): $(CLUSTER_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---------------------------------------------------------------- unit tests
# Every engine/tests/*_test.c is one cmocka program; other engine/tests/*.c
# files are shared helpers (fault-injecting fs, model, ...) linked into all.
UNIT_TEST_SRCS   := $(sort $(wildcard engine/tests/*_test.c cluster/tests/*_test.c))
UNIT_HELPER_SRCS := $(filter-out $(UNIT_TEST_SRCS),$(wildcard engine/tests/*.c cluster/tests/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)
UNIT_TESTS       := $(UNIT_TEST_SRCS:%.c=$(BUILD)/%)

$(BUILD)/engine/tests/%.o: engine/tests/%.c $(wildcard engine/*.h engine/tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CFLAGS) -Iengine/tests -c $< -o $@

$(BUILD)/engine/tests/%_test: $(BUILD)/engine/tests/%_test.o $(UNIT_HELPER_OBJS) $(ENGINE_LIB)
	$(CC) -o $@ $^ -lcmocka $(ENGINE_LIBS)

$(BUILD)/cluster/tests/%.o: cluster/tests/%.c $(wildcard engine/*.h cluster/*.h cluster/tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CLUSTER_CFLAGS) -Iengine/tests -Icluster/tests -c $< -o $@

$(BUILD)/cluster/tests/%_test: $(BUILD)/cluster/tests/%_test.o $(UNIT_HELPER_OBJS) $(CLUSTER_LIB) $(ENGINE_LIB)
	$(CC) -o $@ $^ -lcmocka $(CLUSTER_LIBS) $(ENGINE_LIBS)

.PHONY: unit-build unit
unit-build: $(UNIT_TESTS)

# Runs every unit test; a summary line per program comes from cmocka.
unit: unit-build
	@fail=0; for t in $(UNIT_TESTS); do \
	  echo "== $$t"; (cd $(BUILD) && WC_TEST_TMP=$${TMPDIR:-/tmp} ../$$t) || fail=1; \
	done; exit $$fail

# ---------------------------------------------------------------- layer rule
# Fails, naming file:line, when engine/ or cluster/ includes a PostgreSQL
# header or calls palloc/pfree/ereport/elog (or exit in library code), or
# when engine/ includes a cluster/ header (docs/architecture.md).
PG_INCLUDEDIR_SERVER = $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)

.PHONY: check-layers
check-layers:
	@regress/check-layers.pl $(if $(PG_INCLUDEDIR_SERVER),--pg-includedir=$(PG_INCLUDEDIR_SERVER))

# ---------------------------------------------------------------- fuzzing
FUZZ_SRCS    := $(sort $(wildcard engine/fuzz/*_fuzz.c cluster/fuzz/*_fuzz.c))
FUZZ_TARGETS := $(addprefix $(BUILD)/fuzz/,$(basename $(notdir $(FUZZ_SRCS))))
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iengine
# the engine and cluster sources are compiled once, instrumented, and every
# target links them (each target compiling them again took minutes)
FUZZ_OBJ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -D_GNU_SOURCE \
                   -Iengine -Icluster
FUZZ_ENGINE_OBJS  := $(patsubst engine/%.c,$(BUILD)/fuzz/obj/engine/%.o,$(ENGINE_SRCS))
FUZZ_CLUSTER_OBJS := $(patsubst cluster/%.c,$(BUILD)/fuzz/obj/cluster/%.o,$(CLUSTER_SRCS))

$(BUILD)/fuzz/obj/engine/%.o: engine/%.c $(wildcard engine/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/obj/cluster/%.o: cluster/%.c $(wildcard engine/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/%: engine/fuzz/%.c $(FUZZ_ENGINE_OBJS) $(wildcard engine/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_ENGINE_OBJS) $(ENGINE_LIBS)

# cluster/fuzz targets are linked with the cluster objects too
$(BUILD)/fuzz/%: cluster/fuzz/%.c $(FUZZ_CLUSTER_OBJS) $(FUZZ_ENGINE_OBJS) $(wildcard engine/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Icluster -o $@ $< $(FUZZ_CLUSTER_OBJS) $(FUZZ_ENGINE_OBJS) \
	      $(CLUSTER_LIBS) $(ENGINE_LIBS)

.PHONY: fuzz
fuzz: $(FUZZ_TARGETS)

# ---------------------------------------------------------------- extension (PGXS)
MODULE_big = widecol
EXT_SRCS   = $(sort $(wildcard extension/*.c))
OBJS       = $(EXT_SRCS:.c=.o)
# the control file lives in sql/, so install it as DATA into share/extension
MODULEDIR  = extension
DATA       = sql/widecol.control $(wildcard sql/widecol--*.sql)
# engine/cluster headers as system headers: their inline C99 code must not
# trip PostgreSQL's -Wdeclaration-after-statement in extension/ files
PG_CPPFLAGS = -Iextension -isystem engine -isystem cluster
SHLIB_LINK  = $(if $(CLUSTER_SRCS),$(CLUSTER_LIB) $(CLUSTER_LIBS)) $(ENGINE_LIB) $(ENGINE_LIBS)

# make installcheck (PGXS): the pg_regress suites of regress/schedule, one
# after the other in its order, against the running server that libpq's
# PGHOST/PGPORT/PGUSER name; that server must have widecol installed and in
# shared_preload_libraries.  Then the TAP tests of regress/t, which start
# their own instances from the installed binaries.  Run it as a user that
# may write into the checkout and that is not root (initdb refuses root).
# The test database is created UTF8 with the C locale, as 'make test' does,
# whatever the server's default.  'make test' remains the one-command path
# with its own instances.
REGRESS      = $(shell sed -n 's/^test: *//p' regress/schedule)
REGRESS_OPTS = --inputdir=regress --outputdir=regress --encoding=UTF8 --no-locale
TAP_TESTS    = 1
PROVE_TESTS  = regress/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

# the extension links the static engine (and the cluster runtime once it exists)
$(shlib): $(ENGINE_LIB) $(if $(CLUSTER_SRCS),$(CLUSTER_LIB))

# extension objects inline engine/cluster code from their headers
$(OBJS): $(wildcard engine/*.h cluster/*.h extension/*.h)
else
# No PostgreSQL 15 server headers yet (a fresh machine): 'make test' and
# 'make demo' install them; building anything else needs them first.
all install:
	@echo "pgxs not found through '$(PG_CONFIG)': run 'make test' or 'make demo'" \
	      "(they install their dependencies) or apt-get install postgresql-server-dev-15" >&2
	@exit 1
endif

# ---------------------------------------------------------------- test, demo
# Both scripts install missing Debian 12 packages with apt-get (as root),
# build and install the extension, then run as the postgres user what
# PostgreSQL refuses to run as root.  See regress/run-tests.sh for the test
# families and where new tests are picked up.
EXTRA_CLEAN = $(BUILD) regress/results regress/log regress/tmp_check \
              regress/regression.diffs regress/regression.out

.PHONY: test demo demo-cluster deps
test:
	MAKE='$(MAKE)' regress/run-tests.sh

demo:
	MAKE='$(MAKE)' regress/demo.sh

demo-cluster:
	MAKE='$(MAKE)' regress/demo-cluster.sh

deps:
	regress/install-deps.sh test

# every fsync of a durable step deleted in turn: some test must fail
# (regress/check-fsyncs.sh; about a minute per site, not part of 'make test')
.PHONY: check-fsyncs
check-fsyncs:
	MAKE='$(MAKE)' regress/check-fsyncs.sh

# ---------------------------------------------------------------- bench
# widecol engine vs RocksDB on the same data, same run (regress/bench/README.md).
# Options go through BENCH_ARGS, e.g. make bench-engine BENCH_ARGS='--rows=2000000'
BENCH_ENGINE    := $(BUILD)/bench/engine_bench
ROCKSDB_VERSION  = $(shell dpkg-query -W -f='$${Version}' librocksdb-dev 2>/dev/null)

$(BENCH_ENGINE): regress/bench/engine_bench.c regress/bench/bench_common.h $(ENGINE_LIB) $(wildcard engine/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -D_GNU_SOURCE -Iengine -DROCKSDB_VERSION_STR='"$(ROCKSDB_VERSION)"' \
	      -o $@ $< $(ENGINE_LIB) -lrocksdb $(ENGINE_LIBS)

.PHONY: bench-engine
bench-engine:
	@dpkg -s librocksdb-dev >/dev/null 2>&1 || apt-get install -y librocksdb-dev
	$(MAKE) $(BENCH_ENGINE)
	$(BENCH_ENGINE) $(BENCH_ARGS)

# token ring balance (allocator vs random tokens at 3/10/100 hosts) and the
# cost of replica lookups (regress/bench/ring_balance.c, docs/benchmarks.md);
# options through BENCH_ARGS, e.g. make bench-ring BENCH_ARGS='--seeds=10'
BENCH_RING := $(BUILD)/bench/ring_balance

$(BENCH_RING): regress/bench/ring_balance.c regress/bench/bench_common.h $(CLUSTER_LIB) $(ENGINE_LIB) $(wildcard engine/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -D_GNU_SOURCE -Iengine -Icluster -o $@ $< $(CLUSTER_LIB) $(ENGINE_LIB) $(ENGINE_LIBS)

.PHONY: bench-ring
bench-ring: $(BENCH_RING)
	$(BENCH_RING) $(BENCH_ARGS)

# widecol foreign table vs heap table through SQL in one throwaway instance
# (regress/bench/sql_bench.sh, docs/benchmarks.md); options through the environment, e.g.
# make bench-sql ITER=5000 COPY_BATCH=0
.PHONY: bench-sql
bench-sql:
	MAKE='$(MAKE)' regress/bench/sql_bench.sh

# compaction: TTL expiry under TWCS vs heap DELETE + VACUUM (SQL, one throwaway
# instance), space/read amplification under STCS/LCS vs RocksDB (engine level);
# regress/bench/compaction_bench.sh, docs/benchmarks.md.  Options through the
# environment, e.g. make bench-compaction DEVICES=500 AMP_ARGS='--partitions=20000'
.PHONY: bench-compaction
bench-compaction:
	MAKE='$(MAKE)' regress/bench/compaction_bench.sh

# one request between a client and the node, without PostgreSQL: engine
# read alone, PING and a point READ over the transport (regress/bench/node_hop_bench.c),
# e.g. make bench-hop HOP_THREADS='1 2 8' HOP_N=20000
BENCH_HOP := $(BUILD)/bench/node_hop_bench

$(BENCH_HOP): regress/bench/node_hop_bench.c $(CLUSTER_LIB) $(ENGINE_LIB) $(wildcard engine/*.h cluster/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CLUSTER_CFLAGS) -o $@ $< $(CLUSTER_LIB) $(CLUSTER_LIBS) $(ENGINE_LIB) $(ENGINE_LIBS)

.PHONY: bench-hop
bench-hop: $(BENCH_HOP)
	$(BENCH_HOP) $(HOP_THREADS)

# the node under many clients: pgbench point reads, latest-10, inserts and a
# 90/10 mix at 1..100 clients, widecol vs heap, and read p99 under COPY
# (regress/bench/concurrency_bench.sh, docs/benchmarks.md).  Options through
# the environment, e.g. make bench-concurrency DURATION=3 PARTITIONS=1000
.PHONY: bench-concurrency
bench-concurrency:
	MAKE='$(MAKE)' regress/bench/concurrency_bench.sh

# a three-node cluster (RF 3) against a one-node cluster (RF 1) in the same
# run: COPY and pgbench point reads at ONE and QUORUM
# (regress/bench/cluster_bench.sh, docs/benchmarks.md).  Options through the
# environment, e.g. make bench-cluster DURATION=5 PARTITIONS=500
.PHONY: bench-cluster
bench-cluster:
	MAKE='$(MAKE)' regress/bench/cluster_bench.sh

# lightweight transactions (conditional UPDATE, Paxos) against plain UPDATEs on a
# three-node cluster, same run (regress/bench/lwt_bench.sh, docs/benchmarks.md);
# options through the environment, e.g. make bench-lwt DURATION=5 CLIENTS=3
.PHONY: bench-lwt
bench-lwt:
	MAKE='$(MAKE)' regress/bench/lwt_bench.sh

# a query by a secondary index against the same query as a filtered scan
# (regress/bench/index_bench.sh, docs/benchmarks.md).  Options through the
# environment, e.g. make bench-index ROWS=20000 CARD=100
.PHONY: bench-index
bench-index:
	MAKE='$(MAKE)' regress/bench/index_bench.sh

# bootstrap streaming against a plain copy of the SSTables, and a repair of
# a table where 1% of the rows differ against a full comparison at ALL
# (regress/bench/topology_bench.sh, docs/benchmarks.md).  Options through
# the environment, e.g. make bench-topology SIZE_MB=20 REPAIR_ROWS=50000
.PHONY: bench-topology
bench-topology:
	MAKE='$(MAKE)' regress/bench/topology_bench.sh
