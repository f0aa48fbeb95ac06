/*
 * test_netaddr.c - which addresses the prober refuses (common/netaddr.c).
 *
 * Every block is probed at its first and last address and at the
 * neighbours just outside it, so an off-by-one in a prefix length shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"

struct want {
  const char *addr;
  enum netaddr_class cls;
};

#define PUB   NETADDR_PUBLIC
#define UNSP  NETADDR_UNSPECIFIED
#define LOOP  NETADDR_LOOPBACK
#define PRIV  NETADDR_PRIVATE
#define LINK  NETADDR_LINK_LOCAL
#define CGNAT NETADDR_CGNAT
#define MCAST NETADDR_MULTICAST
#define BCAST NETADDR_BROADCAST
#define DOC   NETADDR_DOCUMENTATION
#define RSVD  NETADDR_RESERVED

/* Classifies addr both as raw bytes and as a socket address, checks the two
 * agree with want, and names the address when they do not. */
static void check(const char *addr, enum netaddr_class want)
{
  enum netaddr_class raw, sock;

  if(strchr(addr, ':')) {
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(443);
    if(inet_pton(AF_INET6, addr, &sin6.sin6_addr) != 1) {
      print_error("bad test address %s\n", addr);
      fail();
    }
    raw = netaddr_classify_v6(sin6.sin6_addr.s6_addr);
    sock = netaddr_classify((const struct sockaddr *)&sin6, sizeof(sin6));
  }
  else {
    struct sockaddr_in sin;
    uint8_t a[4];
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(80);
    if(inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
      print_error("bad test address %s\n", addr);
      fail();
    }
    memcpy(a, &sin.sin_addr, 4);
    raw = netaddr_classify_v4(a);
    sock = netaddr_classify((const struct sockaddr *)&sin, sizeof(sin));
  }
  if(raw != want || sock != want) {
    print_error("%s: raw %s, sockaddr %s, want %s\n", addr,
                netaddr_class_name(raw), netaddr_class_name(sock),
                netaddr_class_name(want));
    fail();
  }
}

static void check_all(const struct want *w, size_t n)
{
  for(size_t i = 0; i < n; i++)
    check(w[i].addr, w[i].cls);
}

#define CHECK_ALL(table) check_all(table, sizeof(table) / sizeof(table[0]))

static void v4_public(void **state)
{
  static const struct want w[] = {
    {"1.1.1.1", PUB},
    {"8.8.8.8", PUB},
    {"9.9.9.9", PUB},
    {"93.184.216.34", PUB},
    {"1.0.0.0", PUB},
    {"223.255.255.255", PUB},
    {"192.0.1.255", PUB},       /* between 192.0.0/24 and 192.0.2/24 */
    {"192.0.3.0", PUB},
    {"192.31.196.1", PUB},      /* AS112: special but globally reachable */
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_unspecified(void **state)
{
  static const struct want w[] = {
    {"0.0.0.0", UNSP},
    {"0.0.0.1", UNSP},
    {"0.255.255.255", UNSP},
    {"1.0.0.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_private(void **state)
{
  static const struct want w[] = {
    {"9.255.255.255", PUB},
    {"10.0.0.0", PRIV},
    {"10.0.0.1", PRIV},
    {"10.255.255.255", PRIV},
    {"11.0.0.0", PUB},
    {"172.15.255.255", PUB},
    {"172.16.0.0", PRIV},
    {"172.20.1.2", PRIV},
    {"172.31.255.255", PRIV},
    {"172.32.0.0", PUB},
    {"192.167.255.255", PUB},
    {"192.168.0.0", PRIV},
    {"192.168.1.1", PRIV},
    {"192.168.255.255", PRIV},
    {"192.169.0.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_cgnat(void **state)
{
  static const struct want w[] = {
    {"100.63.255.255", PUB},
    {"100.64.0.0", CGNAT},
    {"100.100.100.100", CGNAT},
    {"100.127.255.255", CGNAT},
    {"100.128.0.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_loopback(void **state)
{
  static const struct want w[] = {
    {"126.255.255.255", PUB},
    {"127.0.0.0", LOOP},
    {"127.0.0.1", LOOP},
    {"127.1.2.3", LOOP},
    {"127.255.255.255", LOOP},
    {"128.0.0.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_link_local(void **state)
{
  static const struct want w[] = {
    {"169.253.255.255", PUB},
    {"169.254.0.0", LINK},
    {"169.254.169.254", LINK},  /* cloud metadata */
    {"169.254.255.255", LINK},
    {"169.255.0.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_documentation(void **state)
{
  static const struct want w[] = {
    {"192.0.2.0", DOC},
    {"192.0.2.255", DOC},
    {"198.51.99.255", PUB},
    {"198.51.100.0", DOC},
    {"198.51.100.255", DOC},
    {"198.51.101.0", PUB},
    {"203.0.112.255", PUB},
    {"203.0.113.0", DOC},
    {"203.0.113.255", DOC},
    {"203.0.114.0", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_reserved(void **state)
{
  static const struct want w[] = {
    {"191.255.255.255", PUB},
    {"192.0.0.0", RSVD},
    {"192.0.0.8", RSVD},
    {"192.0.0.255", RSVD},
    {"192.88.98.255", PUB},
    {"192.88.99.0", RSVD},
    {"192.88.99.255", RSVD},
    {"192.88.100.0", PUB},
    {"198.17.255.255", PUB},
    {"198.18.0.0", RSVD},
    {"198.19.255.255", RSVD},
    {"198.20.0.0", PUB},
    {"240.0.0.0", RSVD},
    {"250.1.2.3", RSVD},
    {"255.255.255.254", RSVD},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v4_multicast_broadcast(void **state)
{
  static const struct want w[] = {
    {"223.255.255.255", PUB},
    {"224.0.0.0", MCAST},
    {"224.0.0.251", MCAST},
    {"239.255.255.255", MCAST},
    {"240.0.0.0", RSVD},
    {"255.255.255.255", BCAST},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v6_public(void **state)
{
  static const struct want w[] = {
    {"2606:4700::1111", PUB},
    {"2a00:1450:4001:80b::200e", PUB},
    {"2000::", PUB},
    {"2001:200::", PUB},        /* just past 2001::/23 */
    {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", PUB},
    {"2001:db9::", PUB},
    {"2003::1", PUB},
    {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUB},
    {"3fff:1000::", PUB},       /* just past 3fff::/20 */
    {"3fff:ffff::1", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v6_special(void **state)
{
  static const struct want w[] = {
    {"::", UNSP},
    {"::1", LOOP},
    {"::2", UNSP},             /* IPv4-compatible 0.0.0.2 */
    {"fc00::", PRIV},
    {"fd00::1", PRIV},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PRIV},
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD},
    {"fe00::", RSVD},
    {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD},
    {"fe80::", LINK},
    {"fe80::1", LINK},
    {"febf::1", LINK},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LINK},
    {"fec0::", PRIV},
    {"fec0::1", PRIV},
    {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PRIV},
    {"ff00::", MCAST},
    {"ff02::1", MCAST},
    {"ff05::1:3", MCAST},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", MCAST},
    {"100::", RSVD},
    {"100::ffff:ffff:ffff:ffff", RSVD},
    {"100:0:0:1::", RSVD},     /* outside 100::/64, still unassigned */
    {"2001::", RSVD},
    {"2001::1", RSVD},         /* Teredo */
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", RSVD},
    {"2001:2::1", RSVD},       /* benchmarking */
    {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD},
    {"2001:db8::", DOC},
    {"2001:db8::1", DOC},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", DOC},
    {"3fff::", DOC},
    {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", DOC},
    {"5f00::1", RSVD},         /* SRv6 SIDs, outside 2000::/3 */
    {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD}, /* below 2000::/3 */
    {"4000::", RSVD},          /* above 2000::/3 */
    {"e000::1", RSVD},
  };
  (void)state;
  CHECK_ALL(w);
}

static void v6_embedded_ipv4(void **state)
{
  static const struct want w[] = {
    /* IPv4-mapped: judged by the IPv4 address. */
    {"::ffff:127.0.0.1", LOOP},
    {"::ffff:10.0.0.1", PRIV},
    {"::ffff:169.254.169.254", LINK},
    {"::ffff:100.64.0.1", CGNAT},
    {"::ffff:0.0.0.0", UNSP},
    {"::ffff:255.255.255.255", BCAST},
    {"::ffff:8.8.8.8", PUB},
    {"::fffe:8.8.8.8", RSVD},  /* neither mapped nor compatible */
    /* IPv4-translated (RFC 2765). */
    {"::ffff:0:127.0.0.1", LOOP},
    {"::ffff:0:8.8.8.8", PUB},
    {"::ffff:1:8.8.8.8", RSVD},
    /* IPv4-compatible: never public. */
    {"::127.0.0.1", LOOP},
    {"::10.1.2.3", PRIV},
    {"::8.8.8.8", RSVD},
    {"::1:0:0:1", RSVD},       /* not /96, unassigned */
    /* NAT64. */
    {"64:ff9b::7f00:1", LOOP},
    {"64:ff9b::a9fe:a9fe", LINK},
    {"64:ff9b::808:808", PUB},
    {"64:ff9b::1:0:0:1", RSVD}, /* inside 64:ff9b::/32, not the /96 */
    {"64:ff9b:1::", PRIV},
    {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", PRIV},
    {"64:ff9b:2::", RSVD},
    /* 6to4: the IPv4 address is in bits 16-47. */
    {"2002:7f00:1::1", LOOP},
    {"2002:a00:1::1", PRIV},
    {"2002:a9fe:a9fe::", LINK},
    {"2002:c000:201::1", DOC},
    {"2002:808:808::1", PUB},
    {"2002:0808:0808::1", PUB},
    {"2002::", UNSP},
    {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUB},
    {"2003::", PUB},
  };
  (void)state;
  CHECK_ALL(w);
}

static void sockaddr_checks(void **state)
{
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  struct sockaddr_storage ss;
  (void)state;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  assert_int_equal(inet_pton(AF_INET, "8.8.8.8", &sin.sin_addr), 1);
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin, sizeof(sin)),
                   NETADDR_PUBLIC);
  assert_false(netaddr_blocked((struct sockaddr *)&sin, sizeof(sin)));
  /* Too short for the family it claims. */
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin,
                                    sizeof(sin) - 1), NETADDR_INVALID);
  assert_true(netaddr_blocked((struct sockaddr *)&sin, sizeof(sin) - 1));
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin, 0),
                   NETADDR_INVALID);
  assert_int_equal(netaddr_classify(NULL, sizeof(sin)), NETADDR_INVALID);
  assert_true(netaddr_blocked(NULL, 0));

  /* A sockaddr_storage passed with its full size is fine. */
  memset(&ss, 0, sizeof(ss));
  memcpy(&ss, &sin, sizeof(sin));
  assert_int_equal(netaddr_classify((struct sockaddr *)&ss, sizeof(ss)),
                   NETADDR_PUBLIC);

  /* Other families are invalid, hence blocked. */
  sin.sin_family = AF_UNIX;
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin, sizeof(sin)),
                   NETADDR_INVALID);
  sin.sin_family = AF_UNSPEC;
  assert_true(netaddr_blocked((struct sockaddr *)&sin, sizeof(sin)));

  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  assert_int_equal(inet_pton(AF_INET6, "2606:4700::1111", &sin6.sin6_addr),
                   1);
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin6, sizeof(sin6)),
                   NETADDR_PUBLIC);
  assert_false(netaddr_blocked((struct sockaddr *)&sin6, sizeof(sin6)));
  /* An AF_INET6 address passed with the IPv4 length. */
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin6, sizeof(sin)),
                   NETADDR_INVALID);
  assert_int_equal(netaddr_classify((struct sockaddr *)&sin6,
                                    sizeof(sin6) - 1), NETADDR_INVALID);

  assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr),
                   1);
  assert_true(netaddr_blocked((struct sockaddr *)&sin6, sizeof(sin6)));
}

static void class_names(void **state)
{
  (void)state;
  assert_string_equal(netaddr_class_name(NETADDR_PUBLIC), "public");
  assert_string_equal(netaddr_class_name(NETADDR_LOOPBACK), "loopback");
  assert_string_equal(netaddr_class_name(NETADDR_LINK_LOCAL), "link-local");
  assert_string_equal(netaddr_class_name(NETADDR_INVALID), "invalid");
  for(int c = NETADDR_PUBLIC; c <= NETADDR_INVALID; c++) {
    const char *name = netaddr_class_name((enum netaddr_class)c);
    assert_non_null(name);
    assert_true(strlen(name) > 0);
  }
  assert_string_equal(netaddr_class_name((enum netaddr_class)999),
                      "invalid");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(v4_public),
    cmocka_unit_test(v4_unspecified),
    cmocka_unit_test(v4_private),
    cmocka_unit_test(v4_cgnat),
    cmocka_unit_test(v4_loopback),
    cmocka_unit_test(v4_link_local),
    cmocka_unit_test(v4_documentation),
    cmocka_unit_test(v4_reserved),
    cmocka_unit_test(v4_multicast_broadcast),
    cmocka_unit_test(v6_public),
    cmocka_unit_test(v6_special),
    cmocka_unit_test(v6_embedded_ipv4),
    cmocka_unit_test(sockaddr_checks),
    cmocka_unit_test(class_names),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
