#
# 003_node_stall.pl - a node that stops answering (SIGSTOP) makes backends
# fail within widecol.request_timeout with a clear error, never hang; once
# it runs again (SIGCONT) the same sessions and new ones are served, and
# every acknowledged write is there.  A cancel or a terminate while COMMIT
# waits for the stopped node does not abort it once its writes went out:
# heap and widecol writes commit together when the node answers (and a
# terminated session ends right after).  Nor does a terminate that arrives
# after the node applied the writes, while PostgreSQL's own commit still
# waits (here for the NOTIFY queue's lock).  Whatever the commit ends in,
# the session can be cancelled afterwards.
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

# synchronous replication to a standby that never comes: a session that sets
# synchronous_commit = on waits in its commit, holding the lock of the
# NOTIFY queue; every other session commits locally
my $node = widecol_node(
	'stall', conf => q{
wal_level = replica
max_wal_senders = 2
synchronous_standby_names = 'nobody'
synchronous_commit = local
});
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
# 100 kB of writes: more than a ring slot, so the request goes over the socket
my $s = interrupt_stalled_commit(1000, 'pg_cancel_backend');
is(committed(1000), '1 100', 'cancelled during COMMIT: heap and widecol writes both committed');
like($s->{err}, qr/WARNING:  cancel request ignored/, 'the cancel is reported as ignored');

# the same with a terminate: the session ends, but after the commit
$s = interrupt_stalled_commit(2000, 'pg_terminate_backend');
is(committed(2000), '1 100', 'terminated during COMMIT: heap and widecol writes both committed');
terminated_after_commit($s);

# a terminate after the node applied the writes, while PostgreSQL's commit
# waits for the NOTIFY queue's lock (held by a session whose own commit waits
# for the synchronous standby): before the fix the session ended there, the
# heap writes rolled back and the widecol writes stayed
my $holder = start_psql();
$holder->{in} .= "SET synchronous_commit = on; SELECT pg_backend_pid();\n";
$holder->{pid} = psql_pid($holder);
# (a commit waits for the standby only if the transaction wrote WAL)
$holder->{in} .= "BEGIN; INSERT INTO heap_log VALUES (0); NOTIFY widecol_stall; COMMIT;\n\\q\n";
is(poll_sessions("SELECT wait_event = 'SyncRep' FROM pg_stat_activity "
		  . "WHERE pid = $holder->{pid}", $holder),
	't', 'a NOTIFY commit holds the queue lock (waits for the standby)');
$s = open_txn(3000, 'NOTIFY widecol_stall;');
$s->{in} .= "COMMIT;\n\\q\n";    # psql quits after it, if still there
is(poll_sessions("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
		  . "WHERE pid = $s->{pid}", $s, 60, $holder),
	't', 'COMMIT waits for the NOTIFY lock');
is($node->safe_psql('postgres',
		"SET widecol.allow_filtering = on; SELECT count(*) FROM kv WHERE k >= 3000"),
	'100', 'the node applied the widecol writes already');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($s->{pid})");
poll_sessions("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $s->{pid}",
	$s, 1, $holder);
$node->safe_psql('postgres', "SELECT pg_cancel_backend($holder->{pid})");
close_txn($holder);
close_txn($s);
is(committed(3000), '1 100',
	'terminated while COMMIT waits for a lock: heap and widecol writes both committed');
terminated_after_commit($s);

# the commit's hold on interrupts is given back on every path: a session
# whose transaction committed, failed at the node, or failed at
# PostgreSQL's own commit check after the node applied its writes can still
# be cancelled (a hold left over would keep pg_sleep running)
$node->safe_psql('postgres',
	'CREATE TABLE oncall (id int PRIMARY KEY, here bool); '
	  . 'INSERT INTO oncall VALUES (1, true), (2, true)');
my $c = start_psql();
$c->{in} .= "SET widecol.request_timeout = 500; SELECT pg_backend_pid();\n";
$c->{pid} = psql_pid($c);
run_step($c, "BEGIN; INSERT INTO heap_log VALUES (7); INSERT INTO kv VALUES (7000, 'x'); COMMIT;");
still_cancellable($c, 'after a commit');

run_step($c, "BEGIN; INSERT INTO kv VALUES (7001, 'y');");
kill 'STOP', $node_pid;
run_step($c, 'COMMIT;');
kill 'CONT', $node_pid;
like($c->{err}, qr/ERROR:  widecol: write failed: timeout/, 'COMMIT failed at the node');
still_cancellable($c, 'after a COMMIT the node failed');

# write skew: the other transaction commits first, this one fails its
# commit-time check after the node applied its widecol writes (a split that
# remains, see the user guide)
my $other = $node->background_psql('postgres');
run_step($c, 'BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM oncall WHERE here;');
$other->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM oncall WHERE here');
run_step($c, "UPDATE oncall SET here = false WHERE id = 1; INSERT INTO kv VALUES (7002, 'z');");
$other->query_safe('UPDATE oncall SET here = false WHERE id = 2; COMMIT');
$other->quit;
run_step($c, 'COMMIT;');
like($c->{err}, qr/ERROR:  could not serialize access/,
	'COMMIT failed its serializability check after the widecol writes');
still_cancellable($c, 'after a COMMIT that failed its serializability check');
$c->{in} .= "\\q\n";
close_txn($c);
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

# A psql session in the background: its handle, input and output.
sub start_psql
{
	my $p = { in => '', out => '', err => '' };

	$p->{h} = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres') ],
		'<', \$p->{in}, '>', \$p->{out}, '2>', \$p->{err});
	return $p;
}

# The backend pid a session printed last.
sub psql_pid
{
	my ($p) = @_;

	$p->{h}->pump until $p->{out} =~ /^(\d+)$/m || !$p->{h}->pumpable;
	$p->{out} = '';
	return $1;
}

# A session in a transaction that wrote heap_log ($base / 1000) and the 100
# widecol rows from $base on (100 kB), then $more.
sub open_txn
{
	my ($base, $more) = @_;
	my $p = start_psql();

	$p->{in} .= "BEGIN; INSERT INTO heap_log VALUES ($base / 1000); "
	  . "INSERT INTO kv SELECT g, repeat('c', 1000) FROM generate_series($base, $base + 99) g; "
	  . ($more // '') . " SELECT pg_backend_pid();\n";
	$p->{pid} = psql_pid($p);
	return $p;
}

# Wait for a session to end (its input ends with \q).
sub close_txn
{
	my ($p) = @_;

	# the input ends with \q: psql quits, or is gone (terminated)
	$p->{h}->finish;
	note "session $p->{pid}: $p->{err}";
}

# Poll $sql until it returns 't' or $secs pass, pumping the sessions (hands
# psql its input); return the last answer.
sub poll_sessions
{
	my ($sql, $p, $secs, @others) = @_;
	my $t0 = time;
	my $got = 'f';

	while ($got ne 't' && time - $t0 < ($secs // 60))
	{
		# a session that already ended (terminated) has nothing to pump
		eval { $_->{h}->pump_nb } for ($p, @others);
		$got = $node->safe_psql('postgres', $sql);
	}
	return $got;
}

# A transaction at $base (open_txn) commits while the node is stopped;
# $function (pg_cancel_backend, pg_terminate_backend) hits its backend while
# COMMIT waits, then the node runs again.  Returns the session, ended.
sub interrupt_stalled_commit
{
	my ($base, $function) = @_;
	my $p = open_txn($base);

	kill 'STOP', $node_pid;
	$p->{in} .= "COMMIT;\n\\q\n";    # psql quits after it, if still there
	is(poll_sessions("SELECT state = 'active' AND query = 'COMMIT;' FROM pg_stat_activity "
			  . "WHERE pid = $p->{pid}", $p),
		't', "COMMIT waits for the stopped node ($function)");
	$node->safe_psql('postgres', "SELECT $function($p->{pid})");
	# before the fix a cancel ended the COMMIT at once: give it a second
	poll_sessions("SELECT count(*) = 0 OR bool_and(state <> 'active') "
		  . "FROM pg_stat_activity WHERE pid = $p->{pid}", $p, 1);
	kill 'CONT', $node_pid;
	close_txn($p);
	return $p;
}

# Run $sql in a session and wait until it is done, at most a minute (its
# errors go to $p->{err}).
sub run_step
{
	my ($p, $sql) = @_;
	my $t0 = time;

	$p->{in} .= "$sql SELECT 'step done';\n";
	while ($p->{out} !~ /^step done$/m && $p->{h}->pumpable && time - $t0 < 60)
	{
		$p->{h}->pump_nb;
		select(undef, undef, undef, 0.02);
	}
	$p->{out} = '';
}

# A long statement of the session ends on a cancel.
sub still_cancellable
{
	my ($p, $when) = @_;

	$p->{err} = '';
	$p->{in} .= "SELECT pg_sleep(120);\n";
	is(poll_sessions("SELECT state = 'active' AND query LIKE '%pg_sleep%' "
			  . "FROM pg_stat_activity WHERE pid = $p->{pid}", $p),
		't', "sleeping $when");
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($p->{pid})");
	run_step($p, '');
	like($p->{err}, qr/ERROR:  canceling statement due to user request/,
		"the session can be cancelled $when");
}

# "h w": heap_log rows and widecol rows of the transaction at $base.
sub committed
{
	my ($base) = @_;

	return $node->safe_psql('postgres',
		"SET widecol.allow_filtering = on; "
		  . "SELECT (SELECT count(*) FROM heap_log WHERE k = $base / 1000) || ' ' || "
		  . "(SELECT count(*) FROM kv WHERE k >= $base AND k < $base + 100)");
}

# The session was terminated, and only once the transaction had committed.
sub terminated_after_commit
{
	my ($p) = @_;

	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $p->{pid}"),
		'the terminated session is gone');
	# (psql may read its \q and quit before the backend's FATAL arrives,
	# so the FATAL itself is not always in its output)
	like($p->{err},
		qr/WARNING:  terminate request delayed until the commit/,
		'the terminate is reported as delayed until the commit');
}
