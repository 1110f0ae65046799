#
# 008_ring.pl - backends reach the node through its request ring in shared
# memory: a session waiting for a stopped node sleeps on a futex (not in
# poll() on the socket); a session terminated while it waits ends at once
# and its slot comes back, as do the slots of many sessions that come and
# go (more sessions than slots, each using one); when the node stops, a
# session's next statement reports the lost connection at once; with widecol.node_ring_slot_kb = 0 everything goes over the
# socket and works the same.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ring');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'widecol'
max_connections = 10
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION widecol');
ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
	'node running');
like(slurp_file($node->logfile), qr/shared-memory ring: \d+ slots of 65536 bytes, [1-9]\d* workers/,
	'the node serves a ring of 64 kB slots');
$node->safe_psql('postgres', q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g;});
my $node_pid = $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');

END { kill 'CONT', $node_pid if $node_pid; }

sub start_psql
{
	my ($statements, $out, $err) = @_;
	return IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  map { ('-c', $_) } @$statements ],
		'<', \undef, '>', $out, '2>', $err);
}

sub backend_of
{
	my ($prefix) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '$prefix%' AND state = 'active'")
	  or return 0;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE '$prefix%' AND state = 'active' LIMIT 1");
}

# A session waits for the stopped node: on its ring slot's futex.
my ($out, $err) = ('', '');
my $h = start_psql(
	[ 'SET widecol.request_timeout = 60000', 'SELECT count(*) FROM kv', 'SELECT pg_sleep(0.5)',
	  'SELECT v FROM kv WHERE k = 7' ],
	\$out, \$err);
ok(backend_of('SELECT pg_sleep'), 'session connected to the node');
kill 'STOP', $node_pid;
my $bpid = backend_of('SELECT v FROM kv WHERE k = 7');
ok($bpid, 'session waits for the stopped node');
select(undef, undef, undef, 0.3);
my $wchan = slurp_file("/proc/$bpid/wchan");
like($wchan, qr/futex/, "the waiting backend sleeps on a futex ($wchan)");

# Terminated while it waits: the session ends at once.
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($bpid)");
$h->finish;
ok(time - $t0 < 10, 'terminated session ended while the node was stopped');
like($err, qr/terminating connection/, 'session reports its termination');
kill 'CONT', $node_pid;
is($node->safe_psql('postgres', 'SELECT v FROM kv WHERE k = 7'), 'v7', 'node serves again');

# Slots come back: more sessions than slots come and go, each using one.
my $bad = 0;
for my $i (1 .. 80)
{
	my $v = $node->safe_psql('postgres', "SELECT v FROM kv WHERE k = @{[1 + $i % 100]}");
	$bad++ unless $v eq 'v' . (1 + $i % 100);
}
is($bad, 0, '80 sessions one after another read their row');
my ($stdout, $stderr);
$node->psql('postgres', "SET client_min_messages = debug1; SELECT v FROM kv WHERE k = 3",
	stdout => \$stdout, stderr => \$stderr);
is($stdout, 'v3', 'read after them');
unlike($stderr, qr/go over the node's socket/, 'the session still got a ring slot');

# The node stops under a session that holds a slot: its next statement
# reports the lost connection at once (the ring tells it), no wait.
($out, $err) = ('', '');
$h = start_psql(
	[ 'SELECT count(*) FROM kv',
	  "DO \$\$ BEGIN WHILE (SELECT running FROM widecol.node_status()) LOOP PERFORM pg_sleep(0.1); END LOOP; END \$\$",
	  'SELECT v FROM kv WHERE k = 8' ],
	\$out, \$err);
ok(backend_of('DO'), 'session connected before the node stops');
kill 'TERM', $node_pid;
$node_pid = 0;
$t0 = time;
$h->finish;
ok(time - $t0 < 10, 'session did not wait for the stopped node');
like($err, qr/lost connection to the widecol node/, 'next statement: lost connection');
like($out, qr/^100$/m, 'the statement before it was served');

# No ring: everything over the socket.
$node->append_conf('postgresql.conf', "widecol.node_ring_slot_kb = 0\n");
$node->restart;
ok($node->poll_query_until('postgres', 'SELECT running FROM widecol.node_status()'),
	'node running without a ring');
like(slurp_file($node->logfile), qr/shared-memory ring: 0 slots/, 'the node serves no ring');
$node->safe_psql('postgres', "INSERT INTO kv VALUES (200, 'socket')");
is($node->safe_psql('postgres', 'SELECT v FROM kv WHERE k = 200'), 'socket',
	'writes and reads over the socket');
is($node->safe_psql('postgres', 'SELECT count(*) FROM kv'), '101', 'every row there');

$node->stop('fast');
done_testing();
