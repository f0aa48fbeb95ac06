/*
 * netaddr.h - which addresses the prober must never connect to.
 *
 * Trackly probes links that strangers type in, from inside someone's
 * network.  Unless TRACKLY_ALLOW_PRIVATE_TARGETS=1, every connection the
 * prober opens (after DNS, and on every redirect hop) is checked here, and
 * anything that is not an ordinary public unicast address is refused:
 * loopback, private (RFC 1918, IPv6 ULA), link-local (cloud metadata lives
 * at 169.254.169.254), carrier-grade NAT, multicast, broadcast, reserved,
 * documentation and benchmarking ranges, the unspecified address, and IPv6
 * forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo),
 * which are judged by the address they embed or refused outright.
 *
 * Pure functions; no allocation.
 */
#ifndef TRACKLY_NETADDR_H
#define TRACKLY_NETADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum netaddr_class {
  NETADDR_PUBLIC = 0,
  NETADDR_UNSPECIFIED,    /* 0.0.0.0/8, :: */
  NETADDR_LOOPBACK,       /* 127.0.0.0/8, ::1 */
  NETADDR_PRIVATE,        /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
  NETADDR_LINK_LOCAL,     /* 169.254/16, fe80::/10 */
  NETADDR_CGNAT,          /* 100.64.0.0/10 */
  NETADDR_MULTICAST,      /* 224/4, ff00::/8 */
  NETADDR_BROADCAST,      /* 255.255.255.255 */
  NETADDR_DOCUMENTATION,  /* 192.0.2/24, 198.51.100/24, 203.0.113/24,
                             2001:db8::/32, 3fff::/20 */
  NETADDR_RESERVED,       /* 240/4, 192.0.0/24, 198.18/15, 192.88.99/24,
                             100::/64, 2001::/23 (Teredo etc.), other
                             special-purpose blocks */
  NETADDR_INVALID,        /* not an AF_INET/AF_INET6 address */
};

/* Classifies a socket address (struct sockaddr_in or sockaddr_in6). */
enum netaddr_class netaddr_classify(const struct sockaddr *sa,
                                    socklen_t len);

/* Classifies a raw IPv4 address (4 bytes, network order) or IPv6 address
 * (16 bytes). */
enum netaddr_class netaddr_classify_v4(const uint8_t a[4]);
enum netaddr_class netaddr_classify_v6(const uint8_t a[16]);

/* True unless the address is NETADDR_PUBLIC. */
bool netaddr_blocked(const struct sockaddr *sa, socklen_t len);

/* A network in CIDR notation, for TRACKLY_ALLOWED_NETWORKS. */
struct netaddr_cidr {
  int family;             /* AF_INET or AF_INET6 */
  uint8_t addr[16];       /* 4 or 16 bytes used, host bits zero */
  int prefix;             /* 0-32 or 0-128 */
};

/* Parses "10.1.2.0/24", "fd00::/8", or a single address (a /32 or /128).
 * Returns true and fills *out. */
bool netaddr_parse_cidr(const char *s, struct netaddr_cidr *out);

/* True when the socket address lies inside c.  IPv4-mapped IPv6 addresses
 * are compared as the IPv4 address they hold. */
bool netaddr_in_cidr(const struct sockaddr *sa, socklen_t len,
                     const struct netaddr_cidr *c);

/* "loopback", "private", ... for logs. */
const char *netaddr_class_name(enum netaddr_class c);

#endif
