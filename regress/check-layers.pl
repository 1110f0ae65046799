#!/usr/bin/perl
#
# regress/check-layers.pl - enforce the rule between widecol's layers
# ('make check-layers'; 'make test' runs it as one test).
#
# engine/ and cluster/ are plain C: they never include a PostgreSQL header,
# never call PostgreSQL's memory or error functions, and their library code
# never ends the process; engine/ does not include cluster/ headers either
# (cluster/ is built on the engine, not the other way round).  Every file
# under engine/ and cluster/ is checked, tests and fuzz targets included,
# except for the exit rule, which applies to the libraries only.
#
# Usage: regress/check-layers.pl [--pg-includedir=DIR] [ROOT]
#   DIR is PostgreSQL's server include directory (pg_config
#   --includedir-server); any header found there counts as a PostgreSQL
#   header, besides the well-known names below.  ROOT defaults to the
#   checkout this script lives in.
#
# Prints one "file:line: message" per violation and exits 1 when there is
# any, 0 otherwise.
#
# Copyright (c) 2026, widecol developers

use strict;
use warnings;
use File::Basename qw(dirname);
use File::Find;

my $pg_includedir = '';
my @args;
for my $a (@ARGV)
{
	if ($a =~ /^--pg-includedir=(.*)$/) { $pg_includedir = $1; }
	else { push @args, $a; }
}
my $root = $args[0] // dirname(dirname(__FILE__));
chdir $root or die "check-layers: cannot enter \"$root\": $!\n";

# PostgreSQL headers known by name, and the top directories of the server
# include tree (so that "utils/palloc.h" is caught even without pg_config).
my %pg_names = map { $_ => 1 } qw(
  postgres.h postgres_fe.h postgres_ext.h c.h fmgr.h funcapi.h miscadmin.h
  pgstat.h pg_config.h pg_config_ext.h pg_config_manual.h pg_config_os.h
  port.h pgtime.h windowapi.h libpq-fe.h libpq-events.h);
my %pg_dirs = map { $_ => 1 } qw(
  access bootstrap catalog commands common datatype executor extension
  fe_utils foreign jit lib libpq mb nodes optimizer parser partitioning port
  portability postmaster regex replication rewrite snowball statistics
  storage tcop tsearch utils);

# Calls that belong to PostgreSQL's backend (memory contexts, error
# reporting); engine/ and cluster/ return a status instead.
my $pg_calls = qr/\b(palloc0?|palloc_extended|repalloc|pfree|pstrdup|pnstrdup|psprintf|
                    ereport|elog|errmsg|errcode|errhint|errdetail|
                    MemoryContextAlloc\w*|MemoryContextSwitchTo|
                    CHECK_FOR_INTERRUPTS|PG_TRY|PG_CATCH)\s*\(/x;

# Calls that end the process; only test and fuzz harnesses may make them.
my $exit_calls = qr/\b(exit|_exit|_Exit|abort|quick_exit)\s*\(/;

my %cluster_headers;
for my $h (glob('cluster/*.h cluster/tests/*.h'))
{
	(my $base = $h) =~ s{.*/}{};
	$cluster_headers{$base} = 1;
}

my @files;
find(
	{
		wanted => sub { push @files, $File::Find::name if /\.[ch]$/ && -f $_; },
		no_chdir => 1
	},
	grep { -d $_ } qw(engine cluster));
@files = sort @files;

my $violations = 0;

sub violation
{
	my ($file, $line, $msg) = @_;
	print "$file:$line: $msg\n";
	$violations++;
}

# Replace comments (and, with $blank_strings, the contents of string and
# character literals) by spaces, keeping newlines so that line numbers stay.
sub strip
{
	my ($text, $blank_strings) = @_;
	$text =~ s{("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|(/\*.*?\*/|//[^\n]*)}{
		if (defined $1)
		{
			my $lit = $1;
			if ($blank_strings)
			{
				my $q = substr($lit, 0, 1);
				(my $inner = substr($lit, 1, -1)) =~ s/[^\n]/ /g;
				$lit = $q . $inner . $q;
			}
			$lit;
		}
		else
		{
			(my $c = $2) =~ s/[^\n]/ /g;
			$c;
		}
	}gse;
	return $text;
}

sub is_pg_header
{
	my ($inc) = @_;
	(my $base = $inc) =~ s{.*/}{};
	my ($top) = $inc =~ m{^([^/]+)/};
	return 1 if $pg_names{$inc} || $pg_names{$base} && $inc !~ m{/};
	return 1 if defined $top && $pg_dirs{$top};
	return 1 if $pg_includedir ne '' && -f "$pg_includedir/$inc";
	return 0;
}

for my $file (@files)
{
	open(my $fh, '<', $file) or die "check-layers: cannot read \"$file\": $!\n";
	my $raw = do { local $/; <$fh> };
	close $fh;

	my $dir = dirname($file);
	my $in_engine = $file =~ m{^engine/};
	my $is_library = $file =~ m{^(engine|cluster)/[^/]+\.c$};
	my @code = split /\n/, strip($raw, 0), -1;
	my @bare = split /\n/, strip($raw, 1), -1;

	for my $i (0 .. $#code)
	{
		my $ln = $i + 1;

		if ($code[$i] =~ /^\s*#\s*include\s*([<"])([^>"]+)[>"]/)
		{
			my ($quote, $inc) = ($1, $2);

			# a local header of the same name is what the compiler finds
			my $local = $quote eq '"'
			  && (-f "$dir/$inc" || ($in_engine ? -f "engine/$inc" : 0));

			if (!$local && is_pg_header($inc))
			{
				violation($file, $ln,
					"includes PostgreSQL header <$inc>; only extension/ may");
			}
			elsif ($in_engine
				&& ($inc =~ m{(^|/)cluster/} || (!$local && $cluster_headers{$inc})))
			{
				violation($file, $ln,
					"engine/ includes cluster/ header \"$inc\"; the engine must not depend on cluster/");
			}
		}

		while ($bare[$i] =~ /$pg_calls/g)
		{
			violation($file, $ln,
				"calls PostgreSQL's $1(); engine/ and cluster/ return a wc_status instead");
		}
		while ($is_library && $bare[$i] =~ /$exit_calls/g)
		{
			violation($file, $ln,
				"calls $1(); engine/ and cluster/ never end the process, they return a wc_status");
		}
	}
}

if ($violations)
{
	print "check-layers: $violations violation(s) of the layer rule "
	  . "(engine/ and cluster/ are plain C; see docs/architecture.md)\n";
	exit 1;
}
print "check-layers: " . scalar(@files) . " files in engine/ and cluster/ follow the layer rule\n";
exit 0;
