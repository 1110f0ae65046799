#
# 051_direct_reads.pl - direct reads under concurrent writers, flushes and
# compactions: 8 sessions write and read random keys, one write in ten is
# followed by a flush and one in twenty-five by a compaction, so that reads
# keep switching between the node (a partition written since the last
# flush) and the table's files read by the backend itself; every read
# after an acknowledged write sees it.
#
# Each session writes only its own partition (c = its client id), with
# values from one heap sequence, so its values per key only grow; after
# each write it records the value in a heap table (acked) and reads its key
# back, which must give exactly that value.  It then reads a random key of
# another session after reading that session's last acknowledged value
# from acked: the widecol value must not be older (smaller), and a second
# read must not go back in time either.  A violated check is a division by
# zero, which aborts the client.  At the end every acknowledged value is
# read back directly (after a flush) and through the node, and the reads
# answered from files are counted.
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
my $node = widecol_node('direct_reads');
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE kv (c int, k int, v bigint) SERVER ks
	  OPTIONS (primary_key '((c), k)');
	CREATE TABLE acked (c int, k int, v bigint, PRIMARY KEY (c, k));
	CREATE SEQUENCE vals;});

my $t0 = time;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$txns --max-tries=1",
	0,
	[qr{number of transactions actually processed: @{[$clients * $txns]}/@{[$clients * $txns]}}],
	[qr{^$}],
	'concurrent writers and direct readers with flushes and compactions: every check holds',
	{
		'051_direct_reads' => qq{
\\set k random(1, 4)
\\set o random(1, $clients)
\\set ok random(1, 4)
\\set chore random(1, 50)
SELECT nextval('vals') AS v \\gset
INSERT INTO kv VALUES (:client_id + 1, :k, :v);
INSERT INTO acked VALUES (:client_id + 1, :k, :v) ON CONFLICT (c, k) DO UPDATE SET v = EXCLUDED.v;
SELECT v AS got FROM kv WHERE c = :client_id + 1 AND k = :k \\gset
\\if :got != :v
\\set fail 1 / 0
\\endif
\\if :chore <= 5
SELECT widecol.flush('kv');
\\elif :chore <= 7
SELECT widecol.compact('kv');
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

my ($reads, $resident) = split /\|/,
  $node->safe_psql('postgres', 'SELECT reads, resident FROM widecol.direct_read_stats()');
note("direct reads: $reads from files, $resident through the node (partition in a memtable)");
cmp_ok($reads, '>', 100, 'reads were answered from the files');
cmp_ok($resident, '>', 100, 'reads of partitions in memtables went to the node');

$node->safe_psql('postgres', q{SELECT widecol.flush('kv')});
my $before = $node->safe_psql('postgres', 'SELECT reads FROM widecol.direct_read_stats()');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM acked a
	 WHERE a.v IS DISTINCT FROM (SELECT v FROM kv WHERE kv.c = a.c AND kv.k = a.k)}),
	'0',
	'every acknowledged value is read back from the files');
cmp_ok($node->safe_psql('postgres', 'SELECT reads FROM widecol.direct_read_stats()') - $before,
	'>=', $clients * 4, 'those reads were direct');
is( $node->safe_psql(
		'postgres', q{
	SET widecol.direct_reads = off;
	SELECT count(*) FROM acked a
	 WHERE a.v IS DISTINCT FROM (SELECT v FROM kv WHERE kv.c = a.c AND kv.k = a.k)}),
	'0',
	'every acknowledged value is read back through the node');
is($node->safe_psql('postgres', 'SELECT count(*) FROM acked'),
	$clients * 4, 'every key was written');

# a restart: the node publishes again, the backends reopen the files
$node->restart;
$node->poll_query_until('postgres', 'SELECT enabled FROM widecol.direct_read_stats()')
  or die 'the node did not publish after a restart';
$before = $node->safe_psql('postgres', 'SELECT reads FROM widecol.direct_read_stats()');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM acked a
	 WHERE a.v IS DISTINCT FROM (SELECT v FROM kv WHERE kv.c = a.c AND kv.k = a.k)}),
	'0',
	'after a restart every acknowledged value is read back');
cmp_ok($node->safe_psql('postgres', 'SELECT reads FROM widecol.direct_read_stats()') - $before,
	'>', 0, 'and read from the files');
$node->stop('fast');

done_testing();
