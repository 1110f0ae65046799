#
# 046_staged_bound.pl - the node bounds the writes staged by all its
# connections together (by widecol.memtable_total_space_mb): a statement
# whose chunk would pass the bound is not refused, its writes go to the
# node as one batch instead of staged, and nothing is lost or doubled.  A
# transaction whose connection is lost (backend terminated, client gone)
# leaves none of its staged writes.
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

my $node = widecol_node('staged', conf => "widecol.memtable_total_space_mb = 2\n");
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE t (id int, k int, v text) SERVER ks
	  OPTIONS (primary_key '((id), k)');});

# session a stages a first chunk (1 MB) and keeps its transaction open
my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
$a->query_safe(q{INSERT INTO t SELECT 1, g, repeat('a', 500) FROM generate_series(1, 3000) g});

# session b's statement stages chunks past the node's 2 MB: it still succeeds
my ($rc, $out, $err) = $node->psql('postgres',
	q{INSERT INTO t SELECT 2, g, repeat('b', 500) FROM generate_series(1, 5000) g});
is($rc, 0, 'a statement past the bound on staged writes succeeds');
is($err, '', 'without an error or a warning');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 2'), '5000',
	'all its rows are there once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 1'), '0',
	'the open transaction\'s staged rows are not visible');
$a->query_safe('COMMIT');
$a->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 1'), '3000',
	'the open transaction commits all of its rows');

# a lost connection leaves nothing of what a transaction staged: a backend
# terminated in the middle of it, a client that goes away without COMMIT
for my $how ('terminated', 'client gone')
{
	my $id = $how eq 'terminated' ? 3 : 4;
	my $c = $node->background_psql('postgres', on_error_stop => 0);
	$c->query_safe('BEGIN');
	$c->query_safe("INSERT INTO t SELECT $id, g, repeat('c', 500) FROM generate_series(1, 3000) g");
	my $pid = $c->query_safe('SELECT pg_backend_pid()');
	if ($how eq 'terminated')
	{
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 10000)");
	}
	$c->quit;
	ok($node->poll_query_until('postgres',
			"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)"),
		"$how: the backend is gone");
	is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $id"), '0',
		"$how: none of its staged rows is stored");
}
# and the node serves the next transaction in full
my $e = $node->background_psql('postgres');
$e->query_safe('BEGIN');
$e->query_safe(q{INSERT INTO t SELECT 5, g, repeat('e', 500) FROM generate_series(1, 3000) g});
$e->query_safe('COMMIT');
$e->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 5'), '3000',
	'a later transaction commits all of its rows');

done_testing();
