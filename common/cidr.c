/*
 * cidr.c - networks in CIDR notation (declared in netaddr.h), so operators
 * can exempt their own private ranges from the prober's address guard.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

bool netaddr_parse_cidr(const char *s, struct netaddr_cidr *out)
{
  char host[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr(s, '/');
  size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
  int64_t prefix;
  int bits;

  if(!hlen || hlen >= sizeof(host))
    return false;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  memset(out, 0, sizeof(*out));
  if(inet_pton(AF_INET, host, out->addr) == 1) {
    out->family = AF_INET;
    bits = 32;
  }
  else if(inet_pton(AF_INET6, host, out->addr) == 1) {
    out->family = AF_INET6;
    bits = 128;
  }
  else
    return false;
  if(!slash)
    prefix = bits;
  else if(!parse_int(slash + 1, 0, bits, &prefix) || slash[1] == '-')
    return false;
  out->prefix = (int)prefix;
  /* Clear the host bits, so "10.1.2.3/24" means 10.1.2.0/24. */
  for(int i = 0; i < bits / 8; i++) {
    int keep = out->prefix - 8 * i;
    if(keep <= 0)
      out->addr[i] = 0;
    else if(keep < 8)
      out->addr[i] &= (uint8_t)(0xff << (8 - keep));
  }
  return true;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
  int full = prefix / 8, rest = prefix % 8;

  if(memcmp(a, net, (size_t)full))
    return false;
  if(!rest)
    return true;
  return ((a[full] ^ net[full]) & (0xff << (8 - rest))) == 0;
}

bool netaddr_in_cidr(const struct sockaddr *sa, socklen_t len,
                     const struct netaddr_cidr *c)
{
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0xff, 0xff};

  if(sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return c->family == AF_INET &&
           prefix_match((const uint8_t *)&in->sin_addr, c->addr, c->prefix);
  }
  if(sa->sa_family == AF_INET6 &&
     len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const uint8_t *a = in6->sin6_addr.s6_addr;
    if(c->family == AF_INET6)
      return prefix_match(a, c->addr, c->prefix);
    return !memcmp(a, mapped, 12) && prefix_match(a + 12, c->addr, c->prefix);
  }
  return false;
}
