/*
 * netaddr.c - which addresses the prober must never connect to; see
 * netaddr.h.
 *
 * Each family is a table of prefixes searched in order, so a more specific
 * block (255.255.255.255) is listed before the wider one that contains it
 * (240/4).  A few IPv6 blocks carry an IPv4 address inside; those are
 * answered by classifying the embedded address.  The sources are the IANA
 * IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates)
 * and the IPv6 Address Space registry.
 */
#include "netaddr.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

struct v4_block {
  uint8_t prefix[4];
  unsigned bits;
  enum netaddr_class cls;
};

static const struct v4_block v4_blocks[] = {
  {{255, 255, 255, 255}, 32, NETADDR_BROADCAST},
  {{0, 0, 0, 0}, 8, NETADDR_UNSPECIFIED},       /* "this network" */
  {{10, 0, 0, 0}, 8, NETADDR_PRIVATE},
  {{100, 64, 0, 0}, 10, NETADDR_CGNAT},
  {{127, 0, 0, 0}, 8, NETADDR_LOOPBACK},
  {{169, 254, 0, 0}, 16, NETADDR_LINK_LOCAL},
  {{172, 16, 0, 0}, 12, NETADDR_PRIVATE},
  {{192, 0, 0, 0}, 24, NETADDR_RESERVED},       /* IETF protocol assignments */
  {{192, 0, 2, 0}, 24, NETADDR_DOCUMENTATION},  /* TEST-NET-1 */
  {{192, 88, 99, 0}, 24, NETADDR_RESERVED},     /* 6to4 relay anycast */
  {{192, 168, 0, 0}, 16, NETADDR_PRIVATE},
  {{198, 18, 0, 0}, 15, NETADDR_RESERVED},      /* benchmarking */
  {{198, 51, 100, 0}, 24, NETADDR_DOCUMENTATION}, /* TEST-NET-2 */
  {{203, 0, 113, 0}, 24, NETADDR_DOCUMENTATION},  /* TEST-NET-3 */
  {{224, 0, 0, 0}, 4, NETADDR_MULTICAST},
  {{240, 0, 0, 0}, 4, NETADDR_RESERVED},        /* "future use" */
};

/* What to do with an IPv6 block: answer with a class, or look at the IPv4
 * address in the last four bytes (or, for 6to4, in bytes 2-5). */
enum v6_rule {
  V6_CLASS,
  V6_EMBEDDED,        /* IPv4-mapped, IPv4-translated, NAT64 */
  V6_COMPATIBLE,      /* IPv4-compatible: embedded, but never public */
  V6_6TO4,
};

struct v6_block {
  uint8_t prefix[16];
  unsigned bits;
  enum v6_rule rule;
  enum netaddr_class cls;   /* for V6_CLASS */
};

static const struct v6_block v6_blocks[] = {
  {{0}, 128, V6_CLASS, NETADDR_UNSPECIFIED},                       /* :: */
  {{[15] = 1}, 128, V6_CLASS, NETADDR_LOOPBACK},                   /* ::1 */
  {{[10] = 0xff, [11] = 0xff}, 96, V6_EMBEDDED, NETADDR_PUBLIC},   /* ::ffff:0:0/96 */
  {{[8] = 0xff, [9] = 0xff}, 96, V6_EMBEDDED, NETADDR_PUBLIC},     /* ::ffff:0:0:0/96 */
  {{0}, 96, V6_COMPATIBLE, NETADDR_PUBLIC},                        /* ::/96 */
  {{0x00, 0x64, 0xff, 0x9b}, 96, V6_EMBEDDED, NETADDR_PUBLIC},     /* 64:ff9b::/96 */
  {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, V6_CLASS,             /* local-use NAT64 */
   NETADDR_PRIVATE},
  {{0x01, 0x00}, 64, V6_CLASS, NETADDR_RESERVED},                  /* discard-only */
  {{0x20, 0x01, 0x0d, 0xb8}, 32, V6_CLASS, NETADDR_DOCUMENTATION}, /* 2001:db8::/32 */
  {{0x20, 0x01}, 23, V6_CLASS, NETADDR_RESERVED},                  /* Teredo, ORCHID, ... */
  {{0x20, 0x02}, 16, V6_6TO4, NETADDR_PUBLIC},
  {{0x3f, 0xff}, 20, V6_CLASS, NETADDR_DOCUMENTATION},             /* 3fff::/20 */
  {{0xfc}, 7, V6_CLASS, NETADDR_PRIVATE},                          /* unique local */
  {{0xfe, 0x80}, 10, V6_CLASS, NETADDR_LINK_LOCAL},
  {{0xfe, 0xc0}, 10, V6_CLASS, NETADDR_PRIVATE},                   /* site-local */
  {{0xff}, 8, V6_CLASS, NETADDR_MULTICAST},
  {{0x20}, 3, V6_CLASS, NETADDR_PUBLIC},                           /* global unicast */
  /* Whatever is left of ::/0 is unassigned ("Reserved by IETF"). */
  {{0}, 0, V6_CLASS, NETADDR_RESERVED},
};

/* True when the first bits bits of a and prefix agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *prefix,
                         unsigned bits)
{
  unsigned whole = bits / 8, rest = bits % 8;

  if(memcmp(a, prefix, whole))
    return false;
  if(rest) {
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    if((a[whole] & mask) != (prefix[whole] & mask))
      return false;
  }
  return true;
}

enum netaddr_class netaddr_classify_v4(const uint8_t a[4])
{
  for(size_t i = 0; i < sizeof(v4_blocks) / sizeof(v4_blocks[0]); i++)
    if(prefix_match(a, v4_blocks[i].prefix, v4_blocks[i].bits))
      return v4_blocks[i].cls;
  return NETADDR_PUBLIC;
}

/*
 * IPv6 forms that carry an IPv4 address are judged by that address, so
 * ::ffff:127.0.0.1 is loopback exactly as 127.0.0.1 is: the kernel (mapped),
 * a NAT64 gateway or a 6to4 relay would deliver to it.  The deprecated
 * IPv4-compatible form is never public, because no stack should route it;
 * at best it says which IPv4 address was meant, which can only make the
 * answer stricter.  Space outside 2000::/3 that no block claims is
 * unassigned and refused as reserved.
 */
enum netaddr_class netaddr_classify_v6(const uint8_t a[16])
{
  enum netaddr_class cls = NETADDR_RESERVED;

  for(size_t i = 0; i < sizeof(v6_blocks) / sizeof(v6_blocks[0]); i++) {
    const struct v6_block *b = &v6_blocks[i];

    if(!prefix_match(a, b->prefix, b->bits))
      continue;
    switch(b->rule) {
    case V6_CLASS:
      cls = b->cls;
      break;
    case V6_EMBEDDED:
      cls = netaddr_classify_v4(a + 12);
      break;
    case V6_COMPATIBLE:
      cls = netaddr_classify_v4(a + 12);
      if(cls == NETADDR_PUBLIC)
        cls = NETADDR_RESERVED;
      break;
    case V6_6TO4:
      cls = netaddr_classify_v4(a + 2);
      break;
    }
    break;
  }
  return cls;
}

/* The address is copied out of *sa rather than read through a cast, so a
 * caller's struct sockaddr buffer need not be aligned for sockaddr_in6. */
enum netaddr_class netaddr_classify(const struct sockaddr *sa,
                                    socklen_t len)
{
  sa_family_t family;

  if(!sa || len < offsetof(struct sockaddr, sa_family) + sizeof(family))
    return NETADDR_INVALID;
  memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof(family));

  if(family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    uint8_t a[4];
    memcpy(&in, sa, sizeof(in));
    memcpy(a, &in.sin_addr, sizeof(a));
    return netaddr_classify_v4(a);
  }
  if(family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    uint8_t a[16];
    memcpy(&in6, sa, sizeof(in6));
    memcpy(a, &in6.sin6_addr, sizeof(a));
    return netaddr_classify_v6(a);
  }
  return NETADDR_INVALID;
}

bool netaddr_blocked(const struct sockaddr *sa, socklen_t len)
{
  return netaddr_classify(sa, len) != NETADDR_PUBLIC;
}

const char *netaddr_class_name(enum netaddr_class c)
{
  switch(c) {
  case NETADDR_PUBLIC:        return "public";
  case NETADDR_UNSPECIFIED:   return "unspecified";
  case NETADDR_LOOPBACK:      return "loopback";
  case NETADDR_PRIVATE:       return "private";
  case NETADDR_LINK_LOCAL:    return "link-local";
  case NETADDR_CGNAT:         return "carrier-grade NAT";
  case NETADDR_MULTICAST:     return "multicast";
  case NETADDR_BROADCAST:     return "broadcast";
  case NETADDR_DOCUMENTATION: return "documentation";
  case NETADDR_RESERVED:      return "reserved";
  case NETADDR_INVALID:       return "invalid";
  }
  return "invalid";
}
