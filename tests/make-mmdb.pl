#!/usr/bin/perl
# make-mmdb.pl OUT.mmdb NETWORK=CC ... - a small, real MaxMind DB mapping networks (or single
# addresses) to a country.iso_code, the way GeoLite2-Country stores it. Tests use it instead of a
# downloaded database. Needs Debian's libmaxmind-db-writer-perl.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb NETWORK=CC ...\n";
my %types = (country => 'map', iso_code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,     # IPv4 networks land in ::/96, where libmaxminddb looks them up
    record_size              => 24,
    database_type            => 'Test-Country',
    languages                => ['en'],
    description              => { en => 'dnsbl tests' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,     # tests use loopback and documentation addresses
);
for my $arg (@ARGV) {
    my ($net, $cc) = split /=/, $arg, 2;
    die "bad mapping '$arg' (want NETWORK=CC)\n" unless defined $cc && $cc =~ /^[A-Z]{2}$/;
    $net .= $net =~ /:/ ? '/128' : '/32' unless $net =~ m{/};
    $tree->insert_network($net, { country => { iso_code => $cc } });
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
