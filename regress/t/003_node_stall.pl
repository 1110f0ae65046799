#
# 003_node_stall.pl - a node that stops answering (SIGSTOP) makes backends
# fail within widecol.request_timeout with a clear error, never hang; once
# it runs again (SIGCONT) the same sessions and new ones are served, and
# every acknowledged write is there.  A cancel while COMMIT waits for the
# stopped node does not abort it once its writes went out: heap and widecol
# writes commit together when the node answers.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolNode;
use IPC::Run;
use Time::HiRes qw(time);

my $node = widecol_node('stall');
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE kv (k int, v text) SERVER ks OPTIONS (primary_key '((k))');
	INSERT INTO kv VALUES (1, 'before');});
my $node_pid =
  $node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()');

# one session that is already connected to the node, one that is not yet
my $connected = $node->background_psql('postgres', on_error_stop => 0);
$connected->query_safe('SET widecol.request_timeout = 500');
is($connected->query_safe('SELECT v FROM kv WHERE k = 1'),
	'before', 'connected session reads');

# whatever happens below, never leave the node stopped (the instance could
# not shut down)
END { kill 'CONT', $node_pid if $node_pid; }
kill 'STOP', $node_pid;

my $t0 = time;
my ($out, $err) = run_failing($connected, 'SELECT v FROM kv WHERE k = 1');
my $elapsed = time - $t0;
like($err, qr/ERROR:  widecol: read failed: timeout/, 'read times out');
like($err, qr/HINT:  .*widecol\.request_timeout/, 'timeout hint names the setting');
cmp_ok($elapsed, '<', 5, 'read gave up in time (' . sprintf('%.2f', $elapsed) . ' s)');

($out, $err) = run_failing($connected, "INSERT INTO kv VALUES (2, 'stalled')");
like($err, qr/ERROR:  (could not connect to the widecol node|widecol: .* failed: timeout)/,
	'write during the stall fails');

my ($rc, $stdout, $stderr) = $node->psql(
	'postgres',
	'SET widecol.request_timeout = 500; SELECT v FROM kv WHERE k = 1',
	timeout => 30);
isnt($rc, 0, 'new session fails during the stall');
like($stderr, qr/could not connect to the widecol node/, 'new session: clear error');
like($stderr, qr/HINT:  Check that the widecol node is running/, 'new session: hint');

kill 'CONT', $node_pid;

ok( $node->poll_query_until(
		'postgres', "SELECT v = 'before' FROM kv WHERE k = 1"),
	'new sessions are served again');
is($connected->query_safe('SELECT v FROM kv WHERE k = 1'),
	'before', 'the connected session is served again');
$connected->query_safe("INSERT INTO kv VALUES (3, 'after')");
is($node->safe_psql('postgres', 'SELECT v FROM kv WHERE k = 3'),
	'after', 'writes after the stall are acknowledged and read back');
is($node->safe_psql('postgres', 'SELECT pid FROM widecol.node_status()'),
	$node_pid, 'the same node process served throughout');
$connected->quit;

# a cancel while COMMIT waits for the stopped node does not abort a
# transaction whose widecol writes went out: the commit waits for the
# node's answer, and the heap and the widecol writes commit together
$node->safe_psql('postgres', 'CREATE TABLE heap_log (k int)');
my ($in, $tout, $terr) = ('', '', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$tout, '2>', \$terr);
# 100 kB of writes: more than a ring slot, so the request goes over the socket
$in .= "BEGIN; INSERT INTO heap_log VALUES (4); "
  . "INSERT INTO kv SELECT g, repeat('c', 1000) FROM generate_series(1000, 1099) g; "
  . "SELECT pg_backend_pid();\n";
$h->pump until $tout =~ /^(\d+)$/m || !$h->pumpable;
my $txn_pid = $1;
kill 'STOP', $node_pid;
$in .= "COMMIT;\n";
my $waiting = 'f';
$t0 = time;
while ($waiting ne 't' && time - $t0 < 60)
{
	$h->pump_nb;    # hands psql the COMMIT
	$waiting = $node->safe_psql('postgres',
		"SELECT state = 'active' AND query = 'COMMIT;' FROM pg_stat_activity WHERE pid = $txn_pid");
}
is($waiting, 't', 'COMMIT waits for the stopped node');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($txn_pid)");
# before the fix the cancel ended the COMMIT at once: give it a second
$t0 = time;
while (time - $t0 < 1)
{
	last if $node->safe_psql('postgres',
		"SELECT state <> 'active' FROM pg_stat_activity WHERE pid = $txn_pid") eq 't';
	$h->pump_nb;
}
kill 'CONT', $node_pid;
$in .= "\\q\n";
$h->finish;
note "COMMIT: $terr";
my $committed = $node->safe_psql('postgres',
	"SET widecol.allow_filtering = on; "
	  . "SELECT (SELECT count(*) FROM heap_log) || ' ' || (SELECT count(*) FROM kv WHERE k >= 1000)");
is($committed, '1 100', 'cancelled during COMMIT: heap and widecol writes both committed');
like($terr, qr/WARNING:  cancel request ignored/, 'the cancel is reported as ignored');
$node->stop('fast');

done_testing();

# Run one statement that must fail in a background session; return its
# output and error text.
sub run_failing
{
	my ($session, $sql) = @_;
	my ($out, $failed) = $session->query($sql);
	my $err = $session->{stderr};

	$session->{stderr} = '';
	ok($failed, "fails: $sql");
	return ($out, $err);
}
