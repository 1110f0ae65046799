#
# 004_damaged_files.pl - one damaged file does not take the node down.
#
# SSTable: with the default widecol.disk_failure_policy (best_effort) a
# half-truncated SSTable of one table takes only that table offline: the
# node starts, the other table serves, reads of the damaged one fail naming
# the file with a hint to run widecol.scrub(), which then salvages the
# readable rows, moves the file to the quarantine directory and brings the
# table back.  With policy stop the node refuses to start.
#
# Commit log: a damaged older segment keeps the node from starting, the log
# naming the segment, offset and records lost; with
# widecol.commitlog_ignore_replay_errors on (and a reload) it starts and
# logs what was skipped.
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
my $dir = "$short/dmg";

my $node = widecol_node('damaged', conf => "widecol.data_directory = '$dir'\n");
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE good_t (p int, c int, v text)
		SERVER ks OPTIONS (primary_key '((p), c)');
	CREATE FOREIGN TABLE bad_t (p int, c int, v text)
		SERVER ks OPTIONS (primary_key '((p), c)');
});

# bad_t: two SSTables (generation 1: partition 1, generation 2: partition 2)
$node->safe_psql(
	'postgres', q{
	INSERT INTO bad_t SELECT 1, c, repeat('x', 40) || c FROM generate_series(1, 3000) c;
	SELECT widecol.flush('bad_t');
	INSERT INTO bad_t SELECT 2, c, 'second ' || c FROM generate_series(1, 100) c;
	SELECT widecol.flush('bad_t');
});
my @sst = glob("$dir/t*/1.sst");
is(scalar(@sst), 1, 'exactly one table has SSTables so far') or diag(join(', ', @sst));
my $bad_file = $sst[0];
$node->safe_psql(
	'postgres', q{
	INSERT INTO good_t SELECT p, c, 'good ' || c FROM generate_series(1, 5) p, generate_series(1, 100) c;
	SELECT widecol.flush('good_t');
});

# ---------------------------------------------------------------- SSTable damage
$node->stop('fast');
my $size = -s $bad_file;
truncate($bad_file, int($size / 2)) or die "truncate $bad_file: $!";

# policy stop: the node refuses to start, as before
$node->append_conf('postgresql.conf', "widecol.disk_failure_policy = 'stop'\n");
my $log_offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/could not open the widecol engine/, $log_offset),
	'policy stop: the node does not start with a damaged SSTable');
$node->stop('fast');

# best_effort (the default): only bad_t goes offline
$node->append_conf('postgresql.conf', "widecol.disk_failure_policy = 'best_effort'\n");
$log_offset = -s $node->logfile;
$node->start;
ok($node->poll_query_until('postgres', $running_query), 'best_effort: the node starts');
ok($node->wait_for_log(qr/table \S+ is offline/, $log_offset),
	'best_effort: the server log says the table is offline');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t'),
	'500', 'the undamaged table serves');
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'SELECT count(*) FROM bad_t', timeout => 60);
isnt($ret, 0, 'reading the damaged table fails');
like($stderr, qr/ERROR:  .*corruption/, 'the error is a corruption');
like($stderr, qr/\Q$bad_file\E/, 'the error names the damaged file');
like($stderr, qr/HINT:  .*widecol\.scrub\(\)/, 'the hint says to run widecol.scrub()');
# writes are still accepted while the table is offline
$node->safe_psql('postgres', q{INSERT INTO bad_t VALUES (3, 1, 'while offline')});

# only the owner (or a superuser) may scrub
$node->safe_psql('postgres',
	'CREATE ROLE scrubber LOGIN; GRANT USAGE ON SCHEMA widecol TO scrubber; '
	  . 'GRANT SELECT ON bad_t TO scrubber');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET ROLE scrubber; SELECT * FROM widecol.scrub('bad_t')", timeout => 60);
isnt($ret, 0, 'a non-owner cannot scrub');
like($stderr, qr/must be owner/, 'the refusal says why');

my $scrub = $node->safe_psql('postgres',
	q{SELECT was_offline, sstables_damaged, rows_salvaged > 0 AND rows_salvaged < 3000,
	         rows_kept, quarantined[1] FROM widecol.scrub('bad_t')});
my ($was_offline, $damaged, $salvaged_ok, $kept, $quarantined) = split /\|/, $scrub;
is($was_offline, 't', 'scrub: the table was offline');
is($damaged, '1', 'scrub: one damaged SSTable');
is($salvaged_ok, 't', 'scrub: part of the truncated file was salvaged');
(my $qfile = $bad_file) =~ s{/1\.sst$}{/quarantine/1.sst};
is($quarantined, $qfile, 'scrub: the damaged file is in the quarantine directory');
ok(-e $qfile && !-e $bad_file, 'scrub: the file was moved aside, not deleted');
my $count = $node->safe_psql('postgres', 'SELECT count(*) FROM bad_t');
is($count, $kept, 'after scrub the table serves the rows scrub kept');
cmp_ok($count, '>', 101, 'the salvaged rows, the second SSTable and the offline write are there');
is($node->safe_psql('postgres', q{SELECT v FROM bad_t WHERE p = 3 AND c = 1}),
	'while offline', 'the write accepted while offline is there');
is($node->safe_psql('postgres', 'SELECT count(*) FROM bad_t WHERE p = 2'),
	'100', 'the undamaged SSTable of the table is intact');

# ---------------------------------------------------------------- commit-log damage
# rows that stay in the commit log (no flush), then a restart so that their
# segment is no longer the newest
$node->safe_psql('postgres',
	q{INSERT INTO good_t SELECT 10, c, 'logged ' || c FROM generate_series(1, 2000) c});
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', $running_query), 'node running after a crash');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t WHERE p = 10'),
	'2000', 'the logged rows were replayed');
$node->stop('fast');

# the older segment holding the most data (the logged rows, one batch
# record): cut it in the middle of its data
my @segs = sort { ($a =~ /(\d+)\.log$/)[0] <=> ($b =~ /(\d+)\.log$/)[0] }
  glob("$dir/commitlog/CommitLog-*.log");
cmp_ok(scalar(@segs), '>=', 2, 'there is an older segment');
my $seg;
my $data_end = 0;
for my $s (@segs[ 0 .. $#segs - 1 ])
{
	open(my $fh, '<:raw', $s) or die "open $s: $!";
	local $/;
	my $bytes = <$fh>;
	close($fh);
	(my $trimmed = $bytes) =~ s/\0+\z//;
	if (length($trimmed) > $data_end)
	{
		$seg = $s;
		$data_end = length($trimmed);
	}
}
cmp_ok($data_end, '>', 10_000, 'an older segment holds the logged rows');
truncate($seg, int($data_end / 2)) or die "truncate $seg: $!";

$log_offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/could not open the widecol engine/, $log_offset),
	'damaged older segment: the node does not start');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/commit log segment "\Q$seg\E" is damaged at offset \d+/,
	'the log names the segment and the offset');
like($log, qr/\d+ of the segment's \d+ records \(\d+ bytes/, 'the log says how many records are lost');
like($log, qr/widecol\.commitlog_ignore_replay_errors/, 'the hint names the setting');

$log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "widecol.commitlog_ignore_replay_errors = on\n");
$node->reload;
ok($node->poll_query_until('postgres', $running_query),
	'with commitlog_ignore_replay_errors the node starts');
$log = slurp_file($node->logfile, $log_offset);
like($log, qr/replayed \d+ of its \d+ records; \d+ were skipped/, 'the log says what was skipped');
my $left = $node->safe_psql('postgres', 'SELECT count(*) FROM good_t WHERE p = 10');
cmp_ok($left, '<', 2000, 'the records of the damaged part are lost');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t'),
	500 + $left, 'flushed data is untouched');

# the damaged segment was retired: the node starts without the setting
$node->append_conf('postgresql.conf', "widecol.commitlog_ignore_replay_errors = off\n");
$node->restart;
ok($node->poll_query_until('postgres', $running_query),
	'after the damaged segment was retired the node starts without the setting');
is($node->safe_psql('postgres', 'SELECT count(*) FROM good_t WHERE p = 10'),
	$left, 'the replayed rows were kept');
$node->stop('fast');

done_testing();
