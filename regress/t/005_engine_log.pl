#
# 005_engine_log.pl - messages of the engine and of the node runtime reach
# the server log in PostgreSQL's format, from the node's process, at their
# level: those of the node's main thread and those of its other threads (a
# compaction run on the connection thread that serves widecol.compact(), a
# failing flush on the engine's flush thread).
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('engine_log');
$node->init;
# a prefix with a timestamp, the pid and the backend type, which a plain
# line on stderr would not have
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'widecol'
log_line_prefix = '%m [%p] %b: '
widecol.concurrent_compactors = 0
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
ok( $node->poll_query_until(
		'postgres', 'SELECT running FROM widecol.node_status()'),
	'node is running');
my $pid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');
my $prefix = qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+ \[$pid\] widecol node: /m;

# the node runtime's message while it starts, on the main thread
like(
	slurp_file($node->logfile),
	qr/${prefix}LOG:  widecol node listening on "[^"]+"/,
	'main-thread message in the server log format');

# two SSTables, then a major compaction on a connection thread of the node
my $log_offset = -s $node->logfile;
$node->safe_psql(
	'postgres', q{
	CREATE SERVER log_ks FOREIGN DATA WRAPPER widecol
		OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE log_t (k int, c int, v text)
		SERVER log_ks OPTIONS (primary_key '(k, c)');
	INSERT INTO log_t SELECT k, 1, 'a' FROM generate_series(1, 50) k;
	SELECT widecol.flush('log_t');
	INSERT INTO log_t SELECT k, 2, 'b' FROM generate_series(1, 50) k;
	SELECT widecol.flush('log_t');
	SELECT widecol.compact('log_t');
});
ok( $node->wait_for_log(
		qr/${prefix}LOG:  widecol engine: table \d+: STCS major compaction of 2 SSTables/,
		$log_offset),
	'engine-thread message in the server log format, from the node process');
unlike(
	slurp_file($node->logfile, $log_offset),
	qr/^widecol engine/m,
	'no unformatted engine lines on stderr');
is($node->safe_psql('postgres', 'SELECT count(*) FROM log_t'),
	'100', 'table readable after the compaction');

# an engine error on the flush thread: reported at ERROR level in the same
# format, and the node goes on (the flush is retried once it can succeed)
my $engine_dir = $node->data_dir . '/widecol';
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE err_t (k int, v text)
		SERVER log_ks OPTIONS (primary_key '(k)');
	INSERT INTO err_t SELECT k, 'x' FROM generate_series(1, 20) k;
});
my @table_dirs = grep { -d $_ } glob("$engine_dir/t*");
ok(@table_dirs > 0, 'engine has table directories');
chmod(0500, @table_dirs) or die "chmod: $!";
$log_offset = -s $node->logfile;
$node->psql('postgres', "SELECT widecol.flush('err_t')");
# (eval: the directories must become writable again even on a timeout)
my $failed = eval {
	$node->wait_for_log(
		qr/${prefix}ERROR:  widecol engine: background flush of table \S+ \(\d+\) failed: .*; writes fail until a retry succeeds/,
		$log_offset);
};
chmod(0700, @table_dirs) or die "chmod: $!";
ok($failed, 'engine-thread error in the server log at ERROR level');
ok( $node->poll_query_until(
		'postgres',
		"SELECT sstable_count > 0 FROM widecol.tables WHERE table_name = 'err_t'::regclass"),
	'the flush succeeds once the directory is writable again');
ok( $node->wait_for_log(
		qr/${prefix}LOG:  widecol engine: background flush of table \S+ \(\d+\) succeeded after \d+ failed attempts; writes are accepted again/,
		$log_offset),
	'the recovery is logged once, at LOG level');
my @repeats = (slurp_file($node->logfile, $log_offset) =~
	  /ERROR:  widecol engine: background flush of table/g);
cmp_ok(scalar(@repeats), '<=', 2,
	'a flush failing every second is logged once a minute, not at every retry');
is($node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()'),
	$pid, 'the node reported the error and kept running');
is($node->safe_psql('postgres', 'SELECT count(*) FROM err_t'),
	'20', 'table readable after the failed flush');

# and the node still stops cleanly
$log_offset = -s $node->logfile;
$node->stop('fast');
like(
	slurp_file($node->logfile, $log_offset),
	qr/${prefix}LOG:  widecol node shut down cleanly/,
	'clean shutdown logged');

done_testing();
