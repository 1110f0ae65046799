#
# 037_cluster_reads.pl - the query side of a cluster (three instances,
# keyspace replication factor 3, QUORUM): a transaction reads its own
# pending writes (inserted, updated, deleted rows, a range and a partition
# deletion) merged with the coordinated result, with ORDER BY, LIMIT and
# small pages, while another session does not see them; after COMMIT every
# node does, after ROLLBACK none.  Reverse clustering order of one
# partition pages through the coordinator; several partitions in reverse
# order are sorted by PostgreSQL.  EXPLAIN shows the consistency level, the
# token(s) and the replicas the coordinator asks; EXPLAIN ANALYZE what each
# replica asked answered and how long it took.  A secondary index reaches
# every node, and an equality on it reads every token range's indexes at the
# consistency level: the filtered scan's rows, also after TTL expiry and a
# compaction on every node, and with a node down.
#
# Copyright (c) 2026, widecol developers
#
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WidecolCluster;

my @nodes = widecol_cluster(3);
create_on_first(\@nodes, q{
	CREATE SERVER ks FOREIGN DATA WRAPPER widecol
	  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
	CREATE FOREIGN TABLE ev (p int, c int, v text) SERVER ks OPTIONS (primary_key '(p, c)');},
	['ev']);

my $q = 'SET widecol.consistency = quorum; SET widecol.fetch_size = 2; ';
$nodes[0]->safe_psql('postgres', $q
	  . "INSERT INTO ev SELECT p, c, 'v' FROM generate_series(1, 4) p, generate_series(1, 10) c");

# the rows of partition $p as c=v, in the order $order
sub part_sql
{
	my ($p, $order) = @_;
	return "SELECT string_agg(c || '=' || v, ',') FROM (SELECT c, v FROM ev WHERE p = $p "
	  . "ORDER BY c $order) s;";
}

# another session on $node, in the middle of a script (psql's \!)
sub other_session
{
	my ($node, $sql) = @_;
	my $host = $node->host;
	my $port = $node->port;
	return "\\! psql -X -Atq -h '$host' -p $port -d postgres -c \"$q $sql\"\n";
}

# ---- read your writes
my $script = "$q\nBEGIN;\n"
  . "INSERT INTO ev VALUES (1, 0, 'ins'), (1, 12, 'ins'), (5, 1, 'newp');\n"
  . "UPDATE ev SET v = 'upd' WHERE p = 1 AND c = 8;\n"
  . "DELETE FROM ev WHERE p = 1 AND c = 2;\n"
  . "DELETE FROM ev WHERE p = 1 AND c >= 4 AND c <= 6;\n"
  . "DELETE FROM ev WHERE p = 2;\n"
  . part_sql(1, 'ASC') . "\n"
  . part_sql(1, 'DESC') . "\n"
  . "SELECT string_agg(c::text, ',') FROM (SELECT c FROM ev WHERE p = 1 ORDER BY c DESC LIMIT 4) s;\n"
  . "SELECT string_agg(c::text, ',') FROM (SELECT c FROM ev WHERE p = 1 ORDER BY c LIMIT 3) s;\n"
  . "SELECT count(*) || ' ' || count(DISTINCT p) || ' ' || sum(c) FROM ev;\n"
  . "SELECT count(*) FROM ev WHERE p IN (1, 2, 5);\n"
  . other_session($nodes[0], "SELECT count(*) || ' ' || sum(c) FROM ev;")
  . other_session($nodes[1], part_sql(1, 'ASC'))
  . "COMMIT;\n";
my ($ret, $out, $err) = $nodes[0]->psql('postgres', $script);
is($ret, 0, 'the transaction ran') or diag($err);
my @l = split /\n/, $out;
is($l[0], '0=ins,1=v,3=v,7=v,8=upd,9=v,10=v,12=ins', 'the transaction reads its writes');
is($l[1], '12=ins,10=v,9=v,8=upd,7=v,3=v,1=v,0=ins', '... in reverse order, in pages of 2');
is($l[2], '12,10,9,8', '... with ORDER BY DESC LIMIT');
is($l[3], '0,1,3', '... with LIMIT (deleted rows do not count)');
# partitions 1 (8 rows), 3, 4 (10 each), 5 (1); partition 2 deleted
is($l[4], '29 4 161', 'a scan merges them too');
is($l[5], '9', 'an IN list merges them');
is($l[6], '40 220', 'another session does not see them');
is($l[7], '1=v,2=v,3=v,4=v,5=v,6=v,7=v,8=v,9=v,10=v', '... nor another node');

for my $i (0 .. 2)
{
	is($nodes[$i]->safe_psql('postgres', $q . part_sql(1, 'ASC')),
		'0=ins,1=v,3=v,7=v,8=upd,9=v,10=v,12=ins', "after COMMIT node $i sees them");
	is($nodes[$i]->safe_psql('postgres', $q . 'SELECT count(*) FROM ev WHERE p IN (2, 5)'),
		'1', "... and the partition deletion on node $i");
}

$script = "$q\nBEGIN;\n"
  . "INSERT INTO ev VALUES (3, 20, 'x');\n"
  . "DELETE FROM ev WHERE p = 3 AND c < 5;\n"
  . "SELECT count(*) FROM ev WHERE p = 3;\n"
  . "ROLLBACK;\n"
  . "SELECT count(*) FROM ev WHERE p = 3;\n";
($ret, $out, $err) = $nodes[1]->psql('postgres', $script);
is($out, "7\n10", 'ROLLBACK: seen inside, gone after') or diag($err);

# ---- reverse order through the coordinator
is($nodes[2]->safe_psql('postgres', $q . part_sql(4, 'DESC')),
	'10=v,9=v,8=v,7=v,6=v,5=v,4=v,3=v,2=v,1=v', 'one partition in reverse order, pages of 2');
is($nodes[2]->safe_psql('postgres', $q
	  . 'SELECT string_agg(c::text, \',\') FROM (SELECT c FROM ev WHERE p = 4 AND c > 3 AND c <= 8 '
	  . 'ORDER BY c DESC LIMIT 3) s'),
	'8,7,6', 'a reverse slice with LIMIT');
is($nodes[1]->safe_psql('postgres', $q
	  . "SELECT string_agg(p || '/' || c, ',') FROM (SELECT p, c FROM ev WHERE p IN (3, 4) AND c > 7 "
	  . 'ORDER BY c DESC, p) s'),
	'3/10,4/10,3/9,4/9,3/8,4/8', 'an IN list in reverse order (sorted)');
is($nodes[1]->safe_psql('postgres', $q
	  . "SELECT string_agg(c::text, ',') FROM (SELECT c FROM ev ORDER BY c DESC LIMIT 4) s"),
	'12,10,10,10', 'a scan in reverse order (sorted)');
my $plan = $nodes[1]->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT c FROM ev ORDER BY c DESC');
like($plan, qr/Sort/, 'a scan in reverse order gets a Sort node');

# ---- EXPLAIN on a cluster: consistency, token, the replicas asked
my $tok = $nodes[1]->safe_psql('postgres', "SELECT widecol.token('ev'::regclass, 4)");
my $addr1 = node_address($nodes[1]);
my %asked = (one => 1, quorum => 2, all => 3);
for my $cl (sort keys %asked)
{
	$plan = $nodes[1]->safe_psql('postgres',
		"SET widecol.consistency = '$cl'; EXPLAIN (COSTS OFF) SELECT v FROM ev WHERE p = 4");
	like($plan, qr/Consistency: $cl\n/, "EXPLAIN at $cl: consistency");
	like($plan, qr/Token: \Q$tok\E\n/, "EXPLAIN at $cl: the partition's token");
	my ($reps) = $plan =~ /Replicas: (.*)/;
	my @reps = split /, /, $reps // '';
	is(scalar(@reps), $asked{$cl}, "EXPLAIN at $cl: the replicas asked ($reps)");
	is($reps[0], "$addr1 (this node)", "EXPLAIN at $cl: this node first");
}
$plan = $nodes[1]->safe_psql('postgres', $q
	  . "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM ev WHERE p IN (3, 4)");
my $tok3 = $nodes[1]->safe_psql('postgres', "SELECT widecol.token('ev'::regclass, 3)");
like($plan, qr/Token: (\Q$tok3\E, \Q$tok\E|\Q$tok\E, \Q$tok3\E)\n/, 'EXPLAIN ANALYZE of an IN list: both tokens');
# EXPLAIN ANALYZE: the replicas' part in the reads (a page each) that ran: at QUORUM this
# node's data and another replica's digest
$plan = $nodes[1]->safe_psql('postgres', $q
	  . "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM ev WHERE p = 4");
like($plan,
	qr/Replica Reads: \Q$addr1\E: (\d+) reads, [\d.]+ ms, \1 data \(\d+ bytes\), 0 digests; 127\.0\.0\.1:\d+: \1 reads, [\d.]+ ms, 0 data \(0 bytes\), \1 digests\n/,
	'EXPLAIN ANALYZE: per-replica reads, times and answers') or diag($plan);
$plan = $nodes[1]->safe_psql('postgres', $q
	  . "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT v FROM ev");
like($plan, qr/Replica Reads: \Q$addr1\E: \d+ reads/, 'EXPLAIN ANALYZE of a scan: the replicas of its ranges');
$plan = $nodes[1]->safe_psql('postgres', "EXPLAIN (COSTS OFF) SELECT v FROM ev");
like($plan, qr/Token: full ring in token order/, 'EXPLAIN of a scan: the whole ring');
like($plan, qr/Replicas: \Q$addr1\E \(this node\)/, 'EXPLAIN of a scan: this node is asked');

# ---- a secondary index on a cluster: the option reaches every node, each
# node builds its own index from its replicas, and an equality on the column
# reads the indexes of every token range's replicas at the consistency level
# (no allow_filtering), with the same rows as the filtered scan, in pages,
# after updates and deletes, TTL expiry and compaction, and with one node down
$nodes[0]->safe_psql('postgres', "SELECT widecol.create_index('ev', 'v')");
for my $i (1 .. 2)
{
	poll_until($nodes[$i],
		"SELECT array_to_string(ftoptions, ' ') LIKE '%ev_v_idx%' FROM pg_foreign_table "
		  . "WHERE ftrelid = 'ev'::regclass", 't');
}
for my $i (0 .. 2)
{
	ok($nodes[$i]->wait_for_log(qr/built secondary index "ev_v_idx"/),
		"node $i built the index of its own data");
}
$nodes[0]->safe_psql('postgres', $q
	  . "INSERT INTO ev SELECT p, c, CASE WHEN (p * 7 + c) % 3 = 0 THEN 'open' ELSE 'closed' END "
	  . "FROM generate_series(10, 29) p, generate_series(1, 6) c;"
	  . "UPDATE ev SET v = 'open' WHERE p = 11 AND c = 1;"
	  . "UPDATE ev SET v = 'closed' WHERE p = 12 AND c = 3;"
	  . "DELETE FROM ev WHERE p = 13;");
# the rows holding $val read through the index, and by the filtered scan
sub by_index
{
	my ($node, $val, $cl) = @_;
	return $node->safe_psql('postgres', "SET widecol.consistency = '$cl'; SET widecol.fetch_size = 2; "
		  . "SELECT count(*) || ':' || string_agg(p || '/' || c, ',' ORDER BY p, c) FROM ev WHERE v = '$val'");
}
sub by_filter
{
	my ($node, $val, $cl) = @_;
	return $node->safe_psql('postgres', "SET widecol.consistency = '$cl'; SET widecol.allow_filtering = on; "
		  . "SELECT count(*) || ':' || string_agg(p || '/' || c, ',' ORDER BY p, c) FROM ev WHERE v || '' = '$val'");
}
my $open = by_filter($nodes[2], 'open', 'quorum');
like($open, qr/^3\d:/, 'the filtered scan finds the open rows');
is(by_index($nodes[2], 'open', 'quorum'), $open, 'an indexed equality at QUORUM: the filtered rows, pages of 2');
is(by_index($nodes[0], 'closed', 'one'), by_filter($nodes[0], 'closed', 'one'),
	'an indexed equality at ONE: the filtered rows');
unlike(by_index($nodes[1], 'open', 'all'), qr{13/}, 'a deleted partition is not read through the index');
$plan = $nodes[2]->safe_psql('postgres', "EXPLAIN (COSTS OFF) SELECT c FROM ev WHERE v = 'open'");
like($plan, qr/secondary index ev_v_idx: v = 'open'::text \(each token range's replicas/,
	'EXPLAIN names the index read on a cluster') or diag($plan);
# TTL: new rows and an overwrite of a closed row's value, written to expire
# in 4 s, are read through the index while they live and not after; then,
# flushed and compacted on every node (expired cells become tombstones),
# the index still gives the filtered scan's rows, for both values
my $short = "SET widecol.consistency = quorum; SELECT count(*) FROM (SELECT p, c FROM ev "
  . "WHERE v = 'open' OFFSET 0) s WHERE p = 40 OR (p = 14 AND c = 2)";
$nodes[1]->safe_psql('postgres', $q . 'SET widecol.ttl = 4; '
	  . "INSERT INTO ev SELECT 40, c, 'open' FROM generate_series(1, 5) c; "
	  . "UPDATE ev SET v = 'open' WHERE p = 14 AND c = 2;");
is($nodes[2]->safe_psql('postgres', $short), '6', 'rows written with a TTL are read through the index');
ok(poll_until($nodes[2], $short, '0'), 'once expired they are not');
is(by_index($nodes[2], 'open', 'quorum'), by_filter($nodes[2], 'open', 'quorum'),
	'after TTL expiry: an indexed equality gives the filtered rows');
is(by_index($nodes[0], 'closed', 'quorum'), by_filter($nodes[0], 'closed', 'quorum'),
	'after TTL expiry: also for the value the expired cell had overwritten');
$_->safe_psql('postgres', "SELECT widecol.flush('ev'); SELECT widecol.compact('ev');") for @nodes;
is(by_index($nodes[1], 'open', 'quorum'), by_filter($nodes[1], 'open', 'quorum'),
	'after a compaction on every node: an indexed equality gives the filtered rows');
is(by_index($nodes[2], 'closed', 'one'), by_filter($nodes[2], 'closed', 'one'),
	'after a compaction on every node: the same at ONE');
$open = by_filter($nodes[2], 'open', 'quorum');

my $addr0 = node_address($nodes[0]);
kill_node($nodes[0]);
ok(wait_down($nodes[2], $addr0), 'node 0 is seen down');
is(by_index($nodes[2], 'open', 'quorum'), $open, 'with a node down: an indexed equality at QUORUM, same rows');
($ret, $out, $err) = $nodes[2]->psql('postgres',
	"SET widecol.consistency = 'all'; SELECT count(*) FROM ev WHERE v = 'open'");
like($err, qr/consistency ALL needs 3 replicas, 2 alive/, 'with a node down: ALL is unavailable');

$_->stop for @nodes[ 1, 2 ];
done_testing();
