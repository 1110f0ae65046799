#
# 049_cluster_lwt.pl - lightweight transactions: 8 sessions race
# INSERT ... ON CONFLICT DO NOTHING (CQL IF NOT EXISTS) on the same 50
# keys, on one node (its partition lock) and over two coordinators of
# three instances (replication factor 3, Paxos), and every key has exactly
# one winner, whose value is the one stored; 8 sessions x 100 conditional
# decrements (read the balance b, UPDATE ... SET balance = b - 1 WHERE id
# = 1 AND balance = b, until it applies) take a balance of 800 to exactly
# 0 with exactly 800 applied, none lost, and 4 sessions of UPDATE ... SET
# balance = balance - 1 WHERE ... AND balance > 0 lose none either; with
# one node killed a new key still gets its one winner at SERIAL and a
# conditional UPDATE applies once; with two killed both fail with the
# unavailable error.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;
use WidecolNode;

my $script = "$PostgreSQL::Test::Utils::tmp_check/049_race.sql";
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh q{\set k random(1, 50)
SELECT try_reg(:k, 'n' || (:who * 100 + :client_id));
};
close($fh);

# 8 sessions spread over @$coords race 50 inserts each on keys 1..50; every
# coordinator notes the inserts it saw applied in a local heap table
sub race
{
	my ($coords, $reader, $what) = @_;
	my $per = 8 / scalar(@$coords);
	my @runs;

	# an insert whose outcome is unknown (a timeout or contention error) is noted as such
	$_->safe_psql('postgres', q{
		CREATE TABLE wins (k int, owner text);
		CREATE TABLE unknown (k int, owner text);
		CREATE FUNCTION try_reg(key int, who text) RETURNS void LANGUAGE plpgsql AS $$
		DECLARE got text;
		BEGIN
			INSERT INTO reg VALUES (key, who) ON CONFLICT DO NOTHING RETURNING owner INTO got;
			IF got IS NOT NULL THEN
				INSERT INTO wins VALUES (key, got);
			END IF;
		EXCEPTION WHEN SQLSTATE 'WC003' OR SQLSTATE 'WC010' THEN
			INSERT INTO unknown VALUES (key, who);
		END $$;}) for @$coords;
	for my $i (0 .. $#$coords)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[
				'pgbench', '--no-vacuum', "--client=$per", "--jobs=$per", '--transactions=50',
				'--max-tries=1', '-D', "who=$i", '-f', $script, $coords->[$i]->connstr('postgres')
			],
			'>', \$out, '2>', \$err);
		push @runs, [ $h, \$out, \$err ];
	}
	for my $r (@runs)
	{
		$r->[0]->finish;
		like(${ $r->[1] }, qr{number of transactions actually processed: (\d+)/\1},
			"$what: every racing insert ended") or diag(${ $r->[2] });
	}
	my (@wins, @unknown);
	push @wins, split(/\n/, $_->safe_psql('postgres', "SELECT k || ' ' || owner FROM wins"))
	  for @$coords;
	push @unknown, split(/\n/, $_->safe_psql('postgres', "SELECT k || ' ' || owner FROM unknown"))
	  for @$coords;
	my (%won, %maybe);
	$won{ (split / /)[0] }++ for @wins;
	$maybe{$_} = 1 for @unknown;
	my @twice = grep { $won{$_} > 1 } keys %won;
	is(scalar(@twice), 0, "$what: no key was won twice") or diag("won more than once: @twice");
	my @stored = split(/\n/, $reader->safe_psql('postgres',
		"SET widecol.consistency = serial; SELECT k || ' ' || owner FROM reg"));
	my %winner = map { (split / /)[0] => $_ } @wins;
	# every key stored holds its winner's value, or (no winner) one of unknown outcome
	my @wrong = grep { $winner{ (split / /)[0] } ? $winner{ (split / /)[0] } ne $_ : !$maybe{$_} } @stored;
	is(scalar(@wrong), 0, "$what: each key holds its winner's value") or diag("wrong: @wrong");
	my %is_stored = map { $_ => 1 } @stored;
	my @lost = grep { !$is_stored{$_} } @wins;
	is(scalar(@lost), 0, "$what: every winner's row is stored") or diag("lost: @lost");
	note "$what: " . scalar(@stored) . ' keys, ' . scalar(@wins) . ' winners, '
	  . scalar(@unknown) . ' of unknown outcome, of 400 inserts';
}

# one node: the node's partition lock serializes them
my $single = widecol_node('lwt_single');
$single->safe_psql('postgres',
	"CREATE FOREIGN TABLE reg (k int, owner text) SERVER ks OPTIONS (primary_key 'k')");
race([$single], $single, 'one node');
$single->stop;

# a faster failure detector: the test waits for two nodes to be seen down;
# and 30 s for a request: with three instances and eight sessions racing
# for one partition on two cores, a read behind contending CAS rounds once
# waited more than the default 10 s (a latency problem of contended LWTs,
# not what this test checks: that no acknowledged update is lost)
my @nodes = widecol_cluster(3,
	conf => "widecol.phi_convict_threshold = 3\nwidecol.request_timeout = '30s'\n");
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE reg (k int, owner text) SERVER ks OPTIONS (primary_key 'k');
	CREATE FOREIGN TABLE acct (id int, balance int) SERVER ks OPTIONS (primary_key 'id');
	CREATE FOREIGN TABLE ledger (id int, seq int, owner text, balance int OPTIONS (static 'true'))
	  SERVER ks OPTIONS (primary_key '((id), seq)');},
	[ 'reg', 'acct', 'ledger' ]);

# Paxos: 4 sessions on node 0 and 4 on node 1, read on node 2
race([ @nodes[ 0, 1 ] ], $nodes[2], 'three nodes');

# conditional decrements (CQL UPDATE ... IF balance = b): 8 sessions, 4 on
# node 0 and 4 on node 1, each 100 times: read the balance b, then set it to
# b - 1 if it is still b, until that applies.  The balance is a static
# column of a ledger partition with one row per value: the same UPDATE
# writes the session's tag into row b, so every applied decrement leaves
# its owner (and an outcome the error left unknown can be looked up).
my $decs = 800;
$nodes[0]->safe_psql('postgres', qq{
	SET widecol.consistency = quorum;
	INSERT INTO ledger SELECT 1, s, NULL, $decs FROM generate_series(1, $decs) s;
	INSERT INTO acct VALUES (2, 40);});
my $dec = "$PostgreSQL::Test::Utils::tmp_check/049_dec.sql";
open($fh, '>', $dec) or die "cannot write $dec: $!";
print $fh "SELECT dec_one((:who * 100 + :client_id)::text);\n";
close($fh);
my $drain = "$PostgreSQL::Test::Utils::tmp_check/049_drain.sql";
open($fh, '>', $drain) or die "cannot write $drain: $!";
print $fh "SELECT drain();\n";
close($fh);
$_->safe_psql('postgres', q{
	CREATE TABLE applied (b int, tag text);
	CREATE TABLE unknown_dec (b int, tag text);
	CREATE TABLE drained (applied int, unknown int);
	CREATE FUNCTION dec_one(tag text) RETURNS void LANGUAGE plpgsql AS $$
	DECLARE b int; n bigint;
	BEGIN
		PERFORM set_config('widecol.consistency', 'quorum', true);
		LOOP
			SELECT balance INTO b FROM ledger WHERE id = 1 AND seq = 1;
			IF b <= 0 THEN RETURN; END IF;
			BEGIN
				UPDATE ledger SET balance = b - 1, owner = tag
				 WHERE id = 1 AND seq = b AND balance = b;
				GET DIAGNOSTICS n = ROW_COUNT;
			EXCEPTION WHEN SQLSTATE 'WC003' OR SQLSTATE 'WC010' THEN
				INSERT INTO unknown_dec VALUES (b, tag);
				n := 0;
			END;
			IF n = 1 THEN
				INSERT INTO applied VALUES (b, tag);
				RETURN;
			END IF;
		END LOOP;
	END $$;
	CREATE FUNCTION drain() RETURNS void LANGUAGE plpgsql AS $$
	DECLARE n bigint; done int := 0; maybe int := 0;
	BEGIN
		LOOP
			BEGIN
				UPDATE acct SET balance = balance - 1 WHERE id = 2 AND balance > 0;
				GET DIAGNOSTICS n = ROW_COUNT;
			EXCEPTION WHEN SQLSTATE 'WC003' OR SQLSTATE 'WC010' THEN
				maybe := maybe + 1;
				CONTINUE;
			END;
			EXIT WHEN n = 0;
			done := done + 1;
		END LOOP;
		INSERT INTO drained VALUES (done, maybe);
	END $$;}) for @nodes[ 0, 1 ];
sub bench
{
	my ($file, $clients, $tx) = @_;
	my @runs;
	for my $i (0, 1)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[
				'pgbench', '--no-vacuum', "--client=$clients", "--jobs=$clients",
				"--transactions=$tx", '--max-tries=1', '-D', "who=$i", '-f', $file,
				$nodes[$i]->connstr('postgres')
			],
			'>', \$out, '2>', \$err);
		push @runs, [ $h, \$out, \$err ];
	}
	for my $r (@runs)
	{
		$r->[0]->finish;
		like(${ $r->[1] }, qr{number of transactions actually processed: (\d+)/\1},
			"$file: every session ended") or diag(${ $r->[2] });
	}
}
my $t_dec = time();
bench($dec, 4, $decs / 8);
$t_dec = time() - $t_dec;
my (@applied, @maybe);
push @applied, split(/\n/, $_->safe_psql('postgres', "SELECT b || ' ' || tag FROM applied"))
  for @nodes[ 0, 1 ];
push @maybe, split(/\n/, $_->safe_psql('postgres', "SELECT b || ' ' || tag FROM unknown_dec"))
  for @nodes[ 0, 1 ];
my %owner = map { my @p = split / /; @p } split(/\n/, $nodes[2]->safe_psql('postgres',
	"SET widecol.consistency = serial; SELECT seq || ' ' || owner FROM ledger WHERE id = 1 AND owner IS NOT NULL"));
is($nodes[2]->safe_psql('postgres',
	'SET widecol.consistency = serial; SELECT balance FROM ledger WHERE id = 1 AND seq = 1'),
	'0', "conditional decrements: $decs end at exactly 0");
is(scalar(keys %owner), $decs, "conditional decrements: every balance $decs .. 1 has its owner");
# an UPDATE 1 whose row another session owns is a lost update
my @lost = grep { my ($v, $t) = split / /; ($owner{$v} // '') ne $t } @applied;
is(scalar(@lost), 0, 'conditional decrements: every applied one owns its row') or diag("lost: @lost");
# outcomes left unknown by an error: applied when the session owns the row
# (and did not own it by its retry of the same balance, reported applied)
my %seen = map { $_ => 1 } @applied;
my $resolved = grep { my ($v, $t) = split / /; ($owner{$v} // '') eq $t && !$seen{$_}++ } @maybe;
is(scalar(@applied) + $resolved, $decs, "conditional decrements: exactly $decs applied");
diag(sprintf('conditional decrements: %d reported applied, %d of unknown outcome (%d of them '
	  . 'applied), in %.1f s', scalar(@applied), scalar(@maybe), $resolved, $t_dec));

# SET balance = balance - 1 WHERE ... AND balance > 0: the new value is
# computed from the row the UPDATE read; 2 x 2 sessions drain 40 to 0,
# each until its UPDATE no longer applies: no more than 40 applied
bench($drain, 2, 1);
my ($done, $maybe) = (0, 0);
for (@nodes[ 0, 1 ])
{
	my ($d, $m) = split(/\|/, $_->safe_psql('postgres', 'SELECT sum(applied), sum(unknown) FROM drained'));
	$done += $d;
	$maybe += $m;
}
is($nodes[2]->safe_psql('postgres',
	'SET widecol.consistency = serial; SELECT balance FROM acct WHERE id = 2'),
	'0', 'balance - 1 decrements: 40 end at exactly 0');
ok($done <= 40 && $done + $maybe >= 40, "balance - 1 decrements: $done applied, $maybe unknown, of 40");

# one node down: SERIAL still has a quorum
my $addr2 = node_address($nodes[2]);
kill_node($nodes[2]);
ok(wait_down($_, $addr2), 'node 2 is seen down') for @nodes[ 0, 1 ];
is($nodes[0]->safe_psql('postgres',
	"INSERT INTO reg VALUES (100, 'first') ON CONFLICT DO NOTHING RETURNING owner"),
	'first', 'IF NOT EXISTS applies with one replica down');
is($nodes[1]->safe_psql('postgres',
	"INSERT INTO reg VALUES (100, 'second') ON CONFLICT DO NOTHING RETURNING owner"),
	'', 'and a second one of the same key does not');
is($nodes[1]->safe_psql('postgres', "SET widecol.consistency = serial; SELECT owner FROM reg WHERE k = 100"),
	'first', 'the first one is stored (a SERIAL read)');
is($nodes[0]->safe_psql('postgres',
	"UPDATE acct SET balance = 5 WHERE id = 2 AND balance = 0 RETURNING balance"),
	'5', 'a conditional UPDATE applies with one replica down');
is($nodes[1]->safe_psql('postgres',
	"UPDATE acct SET balance = 6 WHERE id = 2 AND balance = 0 RETURNING balance"),
	'', 'and the same one again does not');

# two nodes down: no quorum of replicas for SERIAL
my $addr1 = node_address($nodes[1]);
kill_node($nodes[1]);
ok(wait_down($nodes[0], $addr1), 'node 1 is seen down');
my ($ret, $out, $err) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nINSERT INTO reg VALUES (101, 'x') ON CONFLICT DO NOTHING;");
isnt($ret, 0, 'IF NOT EXISTS refused with two replicas down');
like($err, qr/ERROR:  WC002: not enough replicas for consistency level SERIAL/, 'SQLSTATE WC002 at SERIAL');
like($err, qr/DETAIL:  consistency SERIAL needs 2 replicas, 1 alive/, 'detail: needed and alive');
like($err, qr/HINT:  /, 'with a hint');
($ret, $out, $err) = $nodes[0]->psql('postgres',
	"\\set VERBOSITY verbose\nUPDATE acct SET balance = 4 WHERE id = 2 AND balance = 5;");
isnt($ret, 0, 'a conditional UPDATE refused with two replicas down');
like($err, qr/ERROR:  WC002: not enough replicas for consistency level SERIAL/,
	'SQLSTATE WC002 at SERIAL for the conditional UPDATE');
like($err, qr/HINT:  /, 'with a hint');

$nodes[0]->stop;
done_testing();
