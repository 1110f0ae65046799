#
# 002_fdw_restart.pl - acknowledged writes to a widecol table survive a crash
# of the instance (immediate stop: no clean shutdown of the node, only the
# commit log protects the data), in batch and in periodic commit-log mode;
# and a table access without a node fails at once with a clear error and a
# hint (no preload; an engine directory the node cannot open).  A
# materialized view of the table, keyed by n, kept by every write of the
# workload (updates of n move its rows), equals the table queried by n
# after the crashes.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $running_query = 'SELECT running FROM widecol.node_status()';

# The node listens on a Unix socket in its engine directory, and such paths
# are limited to 107 bytes: keep the engine directories of the crash nodes
# in a short directory (the test's own data directories can be too long).
my $short = PostgreSQL::Test::Utils::tempdir_short();

# The workload: every statement is acknowledged before the next one; the
# Perl hash %rows is the content the table must have afterwards, keyed by
# "p,c", valued [v, n] (undef = NULL).
sub run_workload
{
	my ($node) = @_;
	my %rows;

	$node->safe_psql(
		'postgres', q{
		CREATE EXTENSION widecol;
		CREATE SERVER crash_ks FOREIGN DATA WRAPPER widecol
			OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
		CREATE FOREIGN TABLE crash_t (p int, c int, v text, n bigint)
			SERVER crash_ks OPTIONS (primary_key '(p, c)', clustering_order 'c DESC');
	});
	ok($node->poll_query_until('postgres', $running_query), 'node is running');
	$node->safe_psql('postgres',
		q{SELECT widecol.create_materialized_view('crash_by_n', 'crash_t', '((n), p, c)')});

	# COPY from a file: partition 1, 1000 rows; one row with a NULL cell
	my $file = $node->basedir . '/crash_copy.csv';
	open(my $fh, '>', $file) or die "could not write $file: $!";
	for my $c (1 .. 1000)
	{
		my $n = $c == 500 ? '' : $c * 7;
		print $fh "1,$c,copy $c,$n\n";
		$rows{"1,$c"} = [ "copy $c", $c == 500 ? undef : $c * 7 ];
	}
	close($fh);
	$node->safe_psql('postgres',
		"COPY crash_t FROM '$file' (FORMAT csv)");

	# INSERT ... SELECT generate_series: partitions 2..5, 2000 rows each
	$node->safe_psql('postgres',
		q{INSERT INTO crash_t SELECT p, c, 'gen ' || p || '/' || c, p * 100000 + c
		    FROM generate_series(2, 5) p, generate_series(1, 2000) c});
	for my $p (2 .. 5)
	{
		$rows{"$p,$_"} = [ "gen $p/$_", $p * 100000 + $_ ] for 1 .. 2000;
	}

	# single-row INSERTs (upserts), one statement each
	for my $i (1 .. 30)
	{
		$node->safe_psql('postgres',
			"INSERT INTO crash_t VALUES (6, $i, 'single $i', $i)");
		$rows{"6,$i"} = [ "single $i", $i ];
	}
	# an upsert over an existing row, and an INSERT naming some columns
	# (the others keep their values)
	$node->safe_psql('postgres',
		"INSERT INTO crash_t VALUES (2, 10, 'replaced', -1)");
	$rows{"2,10"} = [ 'replaced', -1 ];
	$node->safe_psql('postgres', "INSERT INTO crash_t (p, c, v) VALUES (2, 11, 'only v')");
	$rows{"2,11"}[0] = 'only v';
	# an explicit NULL deletes the cell
	$node->safe_psql('postgres', "INSERT INTO crash_t VALUES (2, 12, 'null n', NULL)");
	$rows{"2,12"} = [ 'null n', undef ];

	# UPDATEs: a clustering range, and one row
	$node->safe_psql('postgres',
		"UPDATE crash_t SET v = 'updated', n = n + 1 WHERE p = 3 AND c <= 100");
	for my $c (1 .. 100)
	{
		$rows{"3,$c"} = [ 'updated', $rows{"3,$c"}[1] + 1 ];
	}
	$node->safe_psql('postgres', "UPDATE crash_t SET n = NULL WHERE p = 1 AND c = 1");
	$rows{"1,1"}[1] = undef;

	# DELETEs: a row, a clustering range, a whole partition, a read-then-delete
	$node->safe_psql('postgres', 'DELETE FROM crash_t WHERE p = 1 AND c = 2');
	delete $rows{"1,2"};
	$node->safe_psql('postgres',
		'DELETE FROM crash_t WHERE p = 4 AND c > 1500 AND c <= 1800');
	delete $rows{"4,$_"} for 1501 .. 1800;
	$node->safe_psql('postgres', 'DELETE FROM crash_t WHERE p = 5');
	delete $rows{"5,$_"} for 1 .. 2000;
	$node->safe_psql('postgres', 'DELETE FROM crash_t WHERE p = 6 AND n % 3 = 0');
	delete $rows{"6,$_"} for grep { $_ % 3 == 0 } 1 .. 30;
	# and writes after the deletes: a row into the deleted partition
	$node->safe_psql('postgres', "INSERT INTO crash_t VALUES (5, 7, 'reborn', 7)");
	$rows{"5,7"} = [ 'reborn', 7 ];

	return %rows;
}

sub expected_content
{
	my (%rows) = @_;
	my @keys = sort {
		my @x = split /,/, $a;
		my @y = split /,/, $b;
		$x[0] <=> $y[0] || $x[1] <=> $y[1]
	} keys %rows;
	return join("\n",
		map {
			my ($p, $c) = split /,/;
			join('|', $p, $c, map { defined $_ ? $_ : '<null>' } @{ $rows{$_} })
		} @keys);
}

my $read_query = q{SELECT p, c, coalesce(v, '<null>'), coalesce(n::text, '<null>')
	FROM crash_t ORDER BY p, c};

# the view, whole and one partition of it, against the table read by n
sub check_view
{
	my ($node, $what) = @_;
	my $from_base = $node->safe_psql('postgres',
		q{SET widecol.allow_filtering = on;
		  SELECT n, p, c, v FROM crash_t WHERE n IS NOT NULL ORDER BY n, p, c});
	is($node->safe_psql('postgres', 'SELECT n, p, c, v FROM crash_by_n ORDER BY n, p, c'),
		$from_base, "$what: the view equals the table read by its key");
	is($node->safe_psql('postgres', q{SELECT p, c, v FROM crash_by_n WHERE n = 300002}),
		'3|1|updated', "$what: a row moved by an update is under its new key");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM crash_by_n WHERE n = 300001}),
		'0', "$what: and no longer under its old one");
}

sub crash_and_check
{
	my ($node, $mode, %rows) = @_;
	my $expected = expected_content(%rows);

	is($node->safe_psql('postgres', $read_query), $expected, "$mode: content before the crash");
	$node->stop('immediate');
	$node->start;
	ok($node->poll_query_until('postgres', $running_query), "$mode: node running after the crash");
	is($node->safe_psql('postgres', $read_query),
		$expected, "$mode: every acknowledged write is back after the crash");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM crash_t'),
		scalar(keys %rows), "$mode: row count after the crash");
	# point reads go to the recovered partitions too
	is($node->safe_psql('postgres', q{SELECT v || ':' || coalesce(n::text, 'null') FROM crash_t WHERE p = 2 AND c = 12}),
		'null n:null', "$mode: a deleted cell stays deleted");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM crash_t WHERE p = 5'),
		'1', "$mode: partition tombstone and the later write both replayed");
	check_view($node, "$mode after the crash");

	# a second crash right after writes that follow recovery
	$node->safe_psql('postgres', "INSERT INTO crash_t VALUES (7, 1, 'after recovery', 1)");
	$rows{"7,1"} = [ 'after recovery', 1 ];
	usleep(500_000) if $mode eq 'periodic';
	$node->stop('immediate');
	$node->start;
	ok($node->poll_query_until('postgres', $running_query), "$mode: node running after a second crash");
	is($node->safe_psql('postgres', $read_query),
		expected_content(%rows), "$mode: content after a second crash");
	check_view($node, "$mode after a second crash");
	$node->stop('fast');
}

# ---------------------------------------------------------------- batch
my $batch = PostgreSQL::Test::Cluster->new('batch');
$batch->init;
$batch->append_conf('postgresql.conf',
	"shared_preload_libraries = 'widecol'\n"
	  . "widecol.commitlog_sync = 'batch'\n"
	  . "widecol.data_directory = '$short/batch'\n");
$batch->start;
my %rows = run_workload($batch);
# the writing backends fsynced the commit log themselves, the node never had to
my $sync_stats = 'SELECT backend_fsyncs_enabled, backend_fsyncs > 0, node_syncs '
  . 'FROM widecol.commitlog_sync_stats()';
is($batch->safe_psql('postgres', $sync_stats),
	't|t|0', 'batch: the backends fsync the commit log of their writes');
crash_and_check($batch, 'batch', %rows);

# ---------------------------------------------------------------- periodic
# the default: acknowledged at once, fsynced every commitlog_sync_period_ms
# (10 ms); after a pause longer than that, nothing may be missing
my $periodic = PostgreSQL::Test::Cluster->new('periodic');
$periodic->init;
$periodic->append_conf('postgresql.conf',
	"shared_preload_libraries = 'widecol'\n"
	  . "widecol.data_directory = '$short/periodic'\n");
$periodic->start;
%rows = run_workload($periodic);
is($periodic->safe_psql('postgres', $sync_stats),
	'f|f|0', 'periodic: no commit-log fsync waits for a write');
usleep(500_000);
crash_and_check($periodic, 'periodic', %rows);

# ---------------------------------------------------------------- not preloaded
# the catalog objects can be created; every table access fails with the hint
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;
$plain->safe_psql(
	'postgres', q{
	CREATE EXTENSION widecol;
	CREATE SERVER plain_ks FOREIGN DATA WRAPPER widecol
		OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE plain_t (k int, v text) SERVER plain_ks OPTIONS (primary_key 'k');
});
pass('without preload: CREATE EXTENSION, SERVER and FOREIGN TABLE work');
for my $sql ('SELECT * FROM plain_t WHERE k = 1', 'SELECT count(*) FROM plain_t',
	"INSERT INTO plain_t VALUES (1, 'x')")
{
	my ($ret, $stdout, $stderr) = $plain->psql('postgres', $sql, timeout => 60);
	isnt($ret, 0, "without preload: '$sql' fails");
	like($stderr, qr/ERROR:  widecol is not loaded through shared_preload_libraries/,
		"without preload: '$sql' says why");
	like($stderr, qr/HINT:  Add widecol to shared_preload_libraries and restart PostgreSQL\./,
		"without preload: '$sql' gives the hint");
}
$plain->stop('fast');

# ---------------------------------------------------------------- node cannot start
# an engine directory the node cannot open: accesses fail with an error and
# a hint instead of waiting
my $bad = PostgreSQL::Test::Cluster->new('bad_directory');
$bad->init;
$bad->append_conf('postgresql.conf',
	"shared_preload_libraries = 'widecol'\n"
	  . "widecol.data_directory = 'PG_VERSION/widecol'\n");
$bad->start;
ok($bad->wait_for_log(qr/could not open the widecol engine/), 'bad directory: node cannot open its engine');
my ($ret, $stdout, $stderr) = $bad->psql(
	'postgres', q{
	CREATE EXTENSION widecol;
	CREATE SERVER bad_ks FOREIGN DATA WRAPPER widecol
		OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE bad_t (k int, v text) SERVER bad_ks OPTIONS (primary_key 'k');
}, timeout => 60);
is($ret, 0, 'bad directory: the foreign table can be defined') or diag($stderr);
for my $sql ('SELECT * FROM bad_t WHERE k = 1', "INSERT INTO bad_t VALUES (1, 'x')")
{
	my $timed_out = 0;
	my $start = time;
	($ret, $stdout, $stderr) =
	  $bad->psql('postgres', $sql, timeout => 60, timed_out => \$timed_out);
	note("bad directory: '$sql': $stderr");
	ok(!$timed_out, "bad directory: '$sql' does not hang");
	isnt($ret, 0, "bad directory: '$sql' fails");
	like($stderr, qr/ERROR:  .*widecol node/, "bad directory: '$sql' names the node");
	like($stderr, qr/HINT:  \S/, "bad directory: '$sql' gives a hint");
	cmp_ok(time - $start, '<', 30, "bad directory: '$sql' fails within the request timeout");
}
$bad->stop('fast');

done_testing();
