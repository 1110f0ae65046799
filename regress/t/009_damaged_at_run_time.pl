#
# 009_damaged_at_run_time.pl - an SSTable damaged while the node runs.
#
# A data block of bad_t is damaged under the running node.  With the
# default widecol.disk_failure_policy (best_effort) the read that meets it
# fails naming the file with a hint to run widecol.scrub(), and bad_t goes
# offline as if the damage had been found at startup: every later read of
# it fails too, node_status() says why, the other table keeps serving and
# taking writes, and widecol.scrub() brings bad_t back with its readable
# rows.  With policy stop the node also stops taking writes, for every
# table, until bad_t is scrubbed.
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

my $running_query = 'SELECT running FROM widecol.node_status()';

# the node's socket lives in its engine directory: keep the path short
my $short = PostgreSQL::Test::Utils::tempdir_short();
my $dir = "$short/rt";

my $node = widecol_node('damaged_run', conf => "widecol.data_directory = '$dir'\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE good_t (p int, c int, v text)
		SERVER ks OPTIONS (primary_key '((p), c)');
	CREATE FOREIGN TABLE bad_t (p int, c int, v text)
		SERVER ks OPTIONS (primary_key '((p), c)',
			compaction $${'class': 'SizeTieredCompactionStrategy', 'enabled': 'false'}$$);
	INSERT INTO good_t SELECT p, c, 'good ' || c FROM generate_series(1, 5) p, generate_series(1, 100) c;
	SELECT widecol.flush('good_t');
});

# Flush sql into bad_t and return the path of the SSTable that flush wrote.
sub flush_new_sstable
{
	my ($sql) = @_;
	my %before = map { $_ => 1 } glob("$dir/t*/*.sst");
	$node->safe_psql('postgres', "$sql; SELECT widecol.flush('bad_t');");
	my @new = grep { !$before{$_} } glob("$dir/t*/*.sst");
	is(scalar(@new), 1, 'the flush wrote one SSTable') or diag(join(', ', @new));
	return $new[0];
}

# XOR one byte of a file, in place, under the running node.
sub flip_byte
{
	my ($path, $off) = @_;
	open(my $fh, '+<:raw', $path) or die "open $path: $!";
	seek($fh, $off, 0) or die "seek $path: $!";
	read($fh, my $c, 1) == 1 or die "read $path: $!";
	seek($fh, $off, 0) or die "seek $path: $!";
	print $fh chr(ord($c) ^ 0x5a) or die "write $path: $!";
	close($fh) or die "close $path: $!";
}

sub background_error
{
	return $node->safe_psql('postgres',
		'SELECT coalesce(background_error, \'none\') FROM widecol.node_status()');
}

# ---------------------------------------------------------------- best_effort
# bad_t (no background compaction, so that its files stay as flushed):
# generation 1 holds partition 1, generation 2 partition 2; unread
my $bad_file = flush_new_sstable(
	q{INSERT INTO bad_t SELECT 1, c, repeat('x', 40) || c FROM generate_series(1, 3000) c});
flush_new_sstable(q{INSERT INTO bad_t SELECT 2, c, 'second ' || c FROM generate_series(1, 100) c});
flip_byte($bad_file, 20);    # inside the first data block

my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 1', timeout => 60);
isnt($ret, 0, 'the read that meets the damaged block fails');
like($stderr, qr/ERROR:  .*corruption/, 'the error is a corruption');
like($stderr, qr/\Q$bad_file\E/, 'the error names the damaged file');
like($stderr, qr/HINT:  .*widecol\.scrub\(\)/, 'the hint says to run widecol.scrub()');
($ret, $stdout, $stderr) =
  $node->psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 2', timeout => 60);
isnt($ret, 0, 'the table is offline: a read of an intact partition fails too');
like($stderr, qr/is offline because of a damaged file: .*\Q$bad_file\E/,
	'the error says the table is offline and names the file');
like(background_error(), qr/is offline because of a damaged file: .*\Q$bad_file\E/,
	'node_status() shows the table offline');
like($node->safe_psql('postgres', q{SELECT offline FROM widecol.table_stats('bad_t')}),
	qr/\Q$bad_file\E/, 'table_stats() shows the table offline');
is($node->safe_psql('postgres', q{SELECT offline IS NULL FROM widecol.table_stats('good_t')}),
	't', 'table_stats() shows the other table online');
ok($node->log_contains(qr/table \S+ is offline \(reads refused until it is scrubbed\)/),
	'the server log says the table is offline');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t'),
	'500', 'the other table serves');
$node->safe_psql('postgres', q{INSERT INTO good_t VALUES (9, 1, 'meanwhile')});
$node->safe_psql('postgres', q{INSERT INTO bad_t VALUES (3, 1, 'while offline')});
pass('both tables take writes');

my $scrub = $node->safe_psql('postgres',
	q{SELECT was_offline, sstables_damaged, blocks_lost, rows_salvaged > 0 AND rows_salvaged < 3000
	    FROM widecol.scrub('bad_t')});
is($scrub, 't|1|1|t', 'scrub: offline, one damaged file, one block lost, the rest salvaged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 2'),
	'100', 'after scrub the intact SSTable serves');
is($node->safe_psql('postgres', q{SELECT v FROM bad_t WHERE p = 3 AND c = 1}),
	'while offline', 'the write accepted while offline is there');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 1'),
	'>', 2000, 'the readable rows of the damaged file are back');
is(background_error(), 'none', 'node_status() no longer reports it');
is($node->safe_psql('postgres', q{SELECT offline IS NULL FROM widecol.table_stats('bad_t')}),
	't', 'table_stats() shows the table online again');

# ---------------------------------------------------------------- stop
$node->append_conf('postgresql.conf', "widecol.disk_failure_policy = 'stop'\n");
$node->restart;
ok($node->poll_query_until('postgres', $running_query), 'node running with policy stop');
$bad_file = flush_new_sstable(
	q{INSERT INTO bad_t SELECT 4, c, repeat('y', 40) || c FROM generate_series(1, 1000) c});
flip_byte($bad_file, 20);
($ret, $stdout, $stderr) =
  $node->psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 4', timeout => 60);
like($stderr, qr/\Q$bad_file\E/, 'policy stop: the read fails naming the file');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q{INSERT INTO good_t VALUES (9, 2, 'refused')}, timeout => 60);
isnt($ret, 0, 'policy stop: a write to another table fails');
like($stderr, qr/writes are stopped \(disk_failure_policy stop\): .*\Q$bad_file\E/,
	'the error says why and names the file');
like($stderr, qr/HINT:  .*widecol\.scrub\(\)/, 'the hint says to run widecol.scrub()');
like(background_error(), qr/writes are stopped/, 'node_status() shows the stop');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t'),
	'501', 'reads of the other table go on');
$node->safe_psql('postgres', q{SELECT * FROM widecol.scrub('bad_t')});
$node->safe_psql('postgres', q{INSERT INTO good_t VALUES (9, 2, 'after scrub')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t'),
	'502', 'after the scrub writes are taken again');
is(background_error(), 'none', 'node_status() no longer reports it');

$node->stop('fast');
done_testing();
