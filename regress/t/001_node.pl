#
# 001_node.pl - the widecol node background worker: start, engine directory,
# clean shutdown, restart; and an instance without shared_preload_libraries.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $worker_query =
  "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'widecol node'";

# ---------------------------------------------------------------- preloaded
my $node = PostgreSQL::Test::Cluster->new('preloaded');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'widecol'\n");
$node->start;

ok($node->poll_query_until('postgres', $worker_query),
	'node worker appears in pg_stat_activity');
ok(-d ($node->data_dir . '/widecol'), 'engine directory $PGDATA/widecol exists');

$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
ok( $node->poll_query_until(
		'postgres', 'SELECT running FROM widecol.node_status()'),
	'node_status() reports running');
is( $node->safe_psql(
		'postgres', q{
		SELECT n.pid = a.pid
		  FROM widecol.node_status() n, pg_stat_activity a
		 WHERE a.backend_type = 'widecol node'}),
	't',
	'node_status() pid is the worker of pg_stat_activity');
is( $node->safe_psql(
		'postgres', 'SELECT data_directory FROM widecol.node_status()'),
	$node->data_dir . '/widecol',
	'node_status() reports the engine directory');

# a reload reaches the worker and leaves it running
my $pid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');
$node->reload;
ok($node->poll_query_until('postgres', $worker_query), 'node survives a reload');
is($node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()'),
	$pid, 'same node process after reload');

# fast shutdown: the node closes its engine and says so
my $log_offset = -s $node->logfile;
$node->stop('fast');
like(
	slurp_file($node->logfile, $log_offset),
	qr/widecol node shut down cleanly/,
	'clean shutdown logged');

# and it comes back on restart over the existing directory
$log_offset = -s $node->logfile;
$node->start;
ok($node->poll_query_until('postgres', $worker_query),
	'node worker back after restart');
ok( $node->poll_query_until(
		'postgres', 'SELECT running FROM widecol.node_status()'),
	'node_status() reports running after restart');
unlike(
	slurp_file($node->logfile, $log_offset),
	qr/could not open the widecol engine/,
	'engine reopened without error');
$node->stop('fast');

# ---------------------------------------------------------------- an unusable directory
# the node reports why it cannot open its engine, with a hint, and nothing
# pretends to serve
my $bad = PostgreSQL::Test::Cluster->new('bad_directory');
$bad->init;
$bad->append_conf('postgresql.conf',
	"shared_preload_libraries = 'widecol'\n"
	  . "widecol.data_directory = 'PG_VERSION/widecol'\n");
$bad->start;
ok( $bad->wait_for_log(qr/could not open the widecol engine in .*PG_VERSION\/widecol/),
	'engine open failure is logged');
like(slurp_file($bad->logfile), qr/HINT:  \S/, 'the failure carries a hint');
$bad->safe_psql('postgres', 'CREATE EXTENSION widecol');
is($bad->safe_psql('postgres', 'SELECT running FROM widecol.node_status()'),
	'f', 'node_status() reports not running');
$bad->stop('fast');

# ---------------------------------------------------------------- not preloaded
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;

$plain->safe_psql('postgres', 'CREATE EXTENSION widecol');
is( $plain->safe_psql(
		'postgres',
		'SELECT running, pid IS NULL FROM widecol.node_status()'),
	'f|t',
	'without preload, node_status() reports not running');
is( $plain->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'widecol node'"),
	'0',
	'without preload, no node worker');
is($plain->safe_psql('postgres', 'SELECT widecol.version() IS NOT NULL'),
	't', 'version() works without preload');
ok(!-d ($plain->data_dir . '/widecol'),
	'without preload, no engine directory is created');
$plain->stop('fast');

done_testing();
