#
# 050_row_cache.pl - the row cache under concurrent writers and readers:
# 8 sessions write and read random keys of a table with caching 'rows'
# (widecol.row_cache_size_mb set), and every read after an acknowledged
# write sees it.
#
# Each session writes only its own keys (c = its client id), with values
# from one heap sequence, so its values per key only grow; after each
# write it records the value in a heap table (acked) and reads its key
# back, which must give exactly that value.  It also reads a random key of
# another session after reading that session's last acknowledged value
# from acked: the widecol value must not be older (smaller).  The keys are
# few, so the same rows are read again and again through the cache (the
# test checks that hits happened).  A violated check is a division by
# zero, which aborts the client.  At the end every acknowledged value is
# read back with and without the cache.
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

my $clients = 8;
my $txns = 300;
my $node = widecol_node('row_cache', conf => "widecol.row_cache_size_mb = 8\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE kv (c int, k int, v bigint) SERVER ks
	  OPTIONS (primary_key '((c), k)', caching 'rows');
	CREATE TABLE acked (c int, k int, v bigint, PRIMARY KEY (c, k));
	CREATE SEQUENCE vals;});

my $t0 = time;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$txns --max-tries=1",
	0,
	[qr{number of transactions actually processed: @{[$clients * $txns]}/@{[$clients * $txns]}}],
	[qr{^$}],
	'concurrent writers and readers through the row cache: every check holds',
	{
		'050_row_cache' => qq{
\\set k random(1, 4)
\\set o random(1, $clients)
\\set ok random(1, 4)
SELECT coalesce((SELECT v FROM kv WHERE c = :client_id + 1 AND k = :k), 0) AS before \\gset
SELECT nextval('vals') AS v \\gset
INSERT INTO kv VALUES (:client_id + 1, :k, :v);
INSERT INTO acked VALUES (:client_id + 1, :k, :v) ON CONFLICT (c, k) DO UPDATE SET v = EXCLUDED.v;
SELECT v AS got FROM kv WHERE c = :client_id + 1 AND k = :k \\gset
\\if :got != :v
\\set fail 1 / 0
\\endif
SELECT coalesce((SELECT v FROM acked WHERE c = :o AND k = :ok), 0) AS floor \\gset
SELECT coalesce((SELECT v FROM kv WHERE c = :o AND k = :ok), 0) AS seen \\gset
\\if :seen < :floor
\\set fail 1 / 0
\\endif
SELECT coalesce((SELECT v FROM kv WHERE c = :o AND k = :ok), 0) AS again \\gset
\\if :again < :seen
\\set fail 1 / 0
\\endif
}
	});
note(sprintf('pgbench took %.1f s', time - $t0));

is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM acked a
	 WHERE a.v IS DISTINCT FROM (SELECT v FROM kv WHERE kv.c = a.c AND kv.k = a.k)}),
	'0',
	'every acknowledged value is read back through the cache');
is( $node->safe_psql(
		'postgres', q{
	SET widecol.row_cache = off;
	SELECT count(*) FROM acked a
	 WHERE a.v IS DISTINCT FROM (SELECT v FROM kv WHERE kv.c = a.c AND kv.k = a.k)}),
	'0',
	'every acknowledged value is read back past the cache');
is($node->safe_psql('postgres', 'SELECT count(*) FROM acked'),
	$clients * 4, 'every key was written');
my ($hits, $fills) = split /\|/,
  $node->safe_psql('postgres', 'SELECT hits, fills FROM widecol.row_cache_stats()');
note("row cache: $hits hits, $fills fills");
cmp_ok($hits, '>', 0, 'reads were answered from the row cache');
$node->stop('fast');

done_testing();
