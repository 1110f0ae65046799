#
# 022_node_lost.pl - error mapping when the node goes away: a request that
# times out has SQLSTATE WC001 (not 57014 query_canceled), and a node that
# exits in the middle of a statement gives "lost connection to the widecol
# node" (08006) with a hint to read the server log, not a replica or
# consistency-level complaint.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lost');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'widecol'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
	'node running');
$node->safe_psql('postgres', q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	INSERT INTO kv VALUES (1, 'before');
	CREATE FOREIGN TABLE big (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	INSERT INTO big SELECT g, 'x' FROM generate_series(1, 5000) g;});
my $node_pid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');

# never leave the node stopped: the instance could not shut down
END { kill 'CONT', $node_pid if $node_pid; }

# Start psql on the statements (one -c each, in one session) in the
# background, errors in verbose form.
sub start_psql
{
	my ($statements, $out, $err) = @_;
	return IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'),
		  map { ('-c', $_) } @$statements ],
		'<', \undef, '>', $out, '2>', $err);
}

# Wait until a statement that starts with $prefix runs in another session.
sub wait_active
{
	my ($prefix) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '$prefix%' AND state = 'active'");
}

# A session that connects to the node, sleeps a second, then runs $read;
# the node is stopped (SIGSTOP) while it sleeps.
sub read_from_stopped_node
{
	my ($timeout_ms, $read, $out, $err) = @_;
	my $h = start_psql(
		[ "SET widecol.request_timeout = $timeout_ms", 'SET widecol.fetch_size = 5',
		  'SELECT count(*) FROM kv', 'SELECT pg_sleep(1)', $read ],
		$out, $err);
	ok(wait_active('SELECT pg_sleep'), 'session connected to the node');
	kill 'STOP', $node_pid;
	return $h;
}

# a timeout has its own SQLSTATE
my ($out, $err) = ('', '');
my $h = read_from_stopped_node(300, 'SELECT v FROM kv WHERE k = 1', \$out, \$err);
$h->finish;
like($err, qr/ERROR:  WC001: widecol: read failed: timeout/, 'timeout: SQLSTATE WC001');
unlike($err, qr/57014/, 'timeout is not query_canceled');
kill 'CONT', $node_pid;
ok($node->poll_query_until('postgres', "SELECT v = 'before' FROM kv WHERE k = 1"),
	'served again after the stall');

# the node exits while a statement of a connected session waits for it: a
# scan of 1000 pages of 5 rows, so that the node shuts the connection down
# (on SIGTERM) before the scan can end
($out, $err) = ('', '');
$h = read_from_stopped_node(60000, 'SELECT count(*) FROM big', \$out, \$err);
ok(wait_active('SELECT count(*) FROM big'), 'statement waits for the stopped node');
select(undef, undef, undef, 0.5);
kill 'TERM', $node_pid;
kill 'CONT', $node_pid;
$h->finish;
like($err, qr/ERROR:  08006: lost connection to the widecol node during read/,
	'node gone mid-statement: lost connection (08006)');
like($err, qr/HINT:  .*server log/, 'hint points at the server log');
unlike($err, qr/consistency|replicas/, 'no consistency-level advice');
unlike($out, qr/5000/, 'the scan did not complete');
$node_pid = 0;

$node->stop('fast');
done_testing();
