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
# answered from files are counted.  Last, with max_files_per_process low,
# a partition in more SSTables than the backend has descriptors to spare
# is read through the node.
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

# The files a backend reads itself count against max_files_per_process with
# PostgreSQL's own (fd.c's external descriptors, a third of what it may
# keep open): at 70, a backend may hold about 16, so a partition in 40
# SSTables is read through the node, and one in 3 still from the files.
$node->append_conf('postgresql.conf', 'max_files_per_process = 70');
$node->restart;
$node->poll_query_until('postgres', 'SELECT enabled FROM widecol.direct_read_stats()')
  or die 'the node did not publish after a restart';
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE many (c int, k int, v bigint) SERVER ks
	  OPTIONS (primary_key '((c), k)', compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': 'false'}$$);
	CREATE FOREIGN TABLE few (c int, k int, v bigint) SERVER ks
	  OPTIONS (primary_key '((c), k)', compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': 'false'}$$)});
for my $i (1 .. 40)
{
	$node->safe_psql('postgres',
		"INSERT INTO many VALUES (1, $i, $i); SELECT widecol.flush('many')");
	$node->safe_psql('postgres',
		"INSERT INTO few VALUES (1, $i, $i); SELECT widecol.flush('few')")
	  if $i <= 3;
}
my $stats = 'SELECT reads, other FROM widecol.direct_read_stats()';
my ($r0, $o0) = split /\|/, $node->safe_psql('postgres', $stats);
is( $node->safe_psql(
		'postgres', q{
	SELECT (SELECT sum(v) FROM many WHERE c = 1), (SELECT sum(v) FROM few WHERE c = 1)}),
	'820|6',
	'with few descriptors to spare both partitions read back whole');
my ($r1, $o1) = split /\|/, $node->safe_psql('postgres', $stats);
is($o1 - $o0, 1, 'the partition in 40 SSTables went to the node');
is($r1 - $r0, 1, 'the partition in 3 SSTables was read from the files');
$node->stop('fast');

done_testing();
