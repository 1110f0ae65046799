#
# 007_many_clients.pl - 120 sessions read and write widecol tables at the
# same time, more than the node used to accept (64) and far more than the
# machine has cores: every statement succeeds, and every write whose
# transaction committed is read back with its value.
#
# Each pgbench transaction upserts a row into a widecol table and records
# the same key in a heap table in the same transaction (so the heap row
# exists only if the widecol write was acknowledged), reads the row back at
# once (a missing row is a division by zero, which aborts the client), and
# reads a row of another session.
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
use Time::HiRes qw(time);

my $clients = 120;
my $node = widecol_node('many_clients', conf => "max_connections = @{[$clients + 10]}\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE kv (c int, k int, v text) SERVER ks
	  OPTIONS (primary_key '((c), k)');
	CREATE TABLE acked (c int, k int, v text);
	INSERT INTO kv SELECT g, 0, 'seed ' || g FROM generate_series(1, 200) g;});

my $t0 = time;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=4 --transactions=25 --max-tries=1",
	0,
	[qr{number of transactions actually processed: @{[$clients * 25]}/@{[$clients * 25]}}],
	[qr{^$}],
	'120 concurrent sessions: every transaction succeeds',
	{
		'004_many_clients' => q{
\set k random(1, 1000000)
\set other random(1, 200)
BEGIN;
INSERT INTO kv VALUES (:client_id + 1, :k, 'v' || :k);
INSERT INTO acked VALUES (:client_id + 1, :k, 'v' || :k);
COMMIT;
SELECT count(*) AS n FROM kv WHERE c = :client_id + 1 AND k = :k AND v = 'v' || :k \gset
\set check 1 / :n
SELECT v FROM kv WHERE c = :other AND k = 0;
}
	});
my $elapsed = time - $t0;
note(sprintf('pgbench took %.1f s', $elapsed));

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM acked a
	 WHERE NOT EXISTS (SELECT 1 FROM kv WHERE kv.c = a.c AND kv.k = a.k AND kv.v = a.v)}),
	'0',
	'every acknowledged write is read back');
is($node->safe_psql('postgres', 'SELECT count(*) > 0 FROM acked'),
	't', 'writes were acknowledged');
$node->stop('fast');
unlike(
	slurp_file($node->logfile),
	qr/refused a connection|too many connections/,
	'the node refused no connection');

done_testing();
