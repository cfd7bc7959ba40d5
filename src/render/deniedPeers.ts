/**
 * The peer addresses a relay must never send to, as coturn 4.6 range rules.
 *
 * coturn's `denied-peer-ip` takes `start-end` ranges only: a CIDR is rejected with a log line and the rule is
 * dropped, leaving the range open. A range that starts at the all-zero address (`0.0.0.0-…` or `::-…`) matches every
 * peer of both families, so no range here may start there. Both traps are why the list is written out as explicit
 * ranges and checked by a test instead of being generated from CIDRs at render time.
 */

/** One denied range with the reason it is denied, rendered as a comment above the rule. */
export interface DeniedPeerRange {
  /** First address of the range, inclusive. */
  readonly start: string;
  /** Last address of the range, inclusive. */
  readonly end: string;
  /** The registry entry or attack the range stands for. */
  readonly reason: string;
}

/** IPv4 special-purpose and non-public space (IANA IPv4 Special-Purpose Address Registry, RFC 6890). */
export const deniedIpv4Peers: readonly DeniedPeerRange[] = [
  // 0.0.0.0 itself cannot be listed (it would block every peer); coturn refuses the zero address on its own.
  { start: "0.0.0.1", end: "0.255.255.255", reason: '"this network" 0.0.0.0/8 (RFC 791), minus 0.0.0.0' },
  { start: "10.0.0.0", end: "10.255.255.255", reason: "private 10.0.0.0/8 (RFC 1918)" },
  { start: "100.64.0.0", end: "100.127.255.255", reason: "carrier-grade NAT 100.64.0.0/10 (RFC 6598)" },
  { start: "127.0.0.0", end: "127.255.255.255", reason: "loopback 127.0.0.0/8: services on the relay host itself" },
  {
    start: "169.254.0.0",
    end: "169.254.255.255",
    reason: "link-local 169.254.0.0/16, including the cloud metadata service 169.254.169.254",
  },
  { start: "172.16.0.0", end: "172.31.255.255", reason: "private 172.16.0.0/12 (RFC 1918)" },
  { start: "192.0.0.0", end: "192.0.0.255", reason: "IETF protocol assignments 192.0.0.0/24 (RFC 6890)" },
  { start: "192.0.2.0", end: "192.0.2.255", reason: "documentation TEST-NET-1 192.0.2.0/24 (RFC 5737)" },
  { start: "192.88.99.0", end: "192.88.99.255", reason: "deprecated 6to4 relay anycast 192.88.99.0/24 (RFC 7526)" },
  { start: "192.168.0.0", end: "192.168.255.255", reason: "private 192.168.0.0/16 (RFC 1918)" },
  { start: "198.18.0.0", end: "198.19.255.255", reason: "benchmarking 198.18.0.0/15 (RFC 2544)" },
  { start: "198.51.100.0", end: "198.51.100.255", reason: "documentation TEST-NET-2 198.51.100.0/24 (RFC 5737)" },
  { start: "203.0.113.0", end: "203.0.113.255", reason: "documentation TEST-NET-3 203.0.113.0/24 (RFC 5737)" },
  { start: "224.0.0.0", end: "239.255.255.255", reason: "multicast 224.0.0.0/4 (RFC 5771)" },
  {
    start: "240.0.0.0",
    end: "255.255.255.255",
    reason: "reserved 240.0.0.0/4 (RFC 1112) and limited broadcast 255.255.255.255",
  },
];

/**
 * IPv6 special-purpose space, including every way of writing an IPv4 address inside IPv6: coturn 4.6.1 does not
 * canonicalise them, so an IPv4 deny rule does not stop `::ffff:127.0.0.1` (CVE-2026-27624).
 */
export const deniedIpv6Peers: readonly DeniedPeerRange[] = [
  // `::` itself cannot be listed (it would block every peer); `::1` is inside the next range.
  {
    start: "::0.0.0.1",
    end: "::255.255.255.255",
    reason: "IPv4-compatible ::/96 (deprecated, RFC 4291) and loopback ::1",
  },
  {
    start: "::ffff:0.0.0.0",
    end: "::ffff:255.255.255.255",
    reason: "IPv4-mapped ::ffff:0:0/96: IPv4 loopback, private and metadata addresses in IPv6 form",
  },
  {
    start: "64:ff9b::",
    end: "64:ff9b::ffff:ffff",
    reason: "NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): reaches IPv4 through a translator",
  },
  {
    start: "64:ff9b:1::",
    end: "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
    reason: "local-use NAT64 64:ff9b:1::/48 (RFC 8215)",
  },
  { start: "100::", end: "100::ffff:ffff:ffff:ffff", reason: "discard-only 100::/64 (RFC 6666)" },
  {
    start: "2001::",
    end: "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "IETF protocol assignments 2001::/23, including Teredo 2001::/32 and benchmarking 2001:2::/48",
  },
  {
    start: "2001:db8::",
    end: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "documentation 2001:db8::/32 (RFC 3849)",
  },
  {
    start: "2002::",
    end: "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "6to4 2002::/16 (RFC 3056): embeds an IPv4 address",
  },
  {
    start: "3fff::",
    end: "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "documentation 3fff::/20 (RFC 9637)",
  },
  {
    start: "fc00::",
    end: "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "unique local fc00::/7, including the AWS IPv6 metadata service fd00:ec2::254",
  },
  {
    start: "fe80::",
    end: "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "link-local fe80::/10",
  },
  {
    start: "fec0::",
    end: "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "deprecated site-local fec0::/10 (RFC 3879)",
  },
  {
    start: "ff00::",
    end: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    reason: "multicast ff00::/8",
  },
];

/** Every denied range, IPv4 first, in the order they are rendered. */
export const deniedPeers: readonly DeniedPeerRange[] = [...deniedIpv4Peers, ...deniedIpv6Peers];
