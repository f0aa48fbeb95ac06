/*
 * fuzz_link.c - the text rules of DESIGN §2 and the prober's address guard
 * (common/validate.c, common/json.c, common/netaddr.c, common/cidr.c).
 *
 * Every input goes through each function; checked:
 *   - utf8_valid agrees with a second, independent decoder, and
 *     utf8_chars never counts more characters than bytes;
 *   - link_valid, email_valid and name_valid never accept what their
 *     documented rules exclude (length, spaces, controls, a scheme that is
 *     not http(s), user:password@);
 *   - a CIDR that parses has its host bits cleared, contains its own
 *     network address, and its address classifies the same way as a
 *     sockaddr, as the raw bytes, and inside every IPv6 form that embeds
 *     an IPv4 address (::ffff:a.b.c.d, 64:ff9b::a.b.c.d, 2002:aabb:ccdd::).
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include "json.h"
#include "netaddr.h"
#include "validate.h"

/* An independent strict UTF-8 check (RFC 3629 table 3-7 as ranges). */
static bool utf8_reference(const unsigned char *s, size_t len)
{
  size_t i = 0;

  while(i < len) {
    unsigned char c = s[i];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if(c == 0)
      return false;
    if(c < 0x80) {
      i++;
      continue;
    }
    if(c >= 0xC2 && c <= 0xDF)
      n = 1;
    else if(c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if(c == 0xE0)
        lo = 0xA0;
      if(c == 0xED)
        hi = 0x9F;
    }
    else if(c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if(c == 0xF0)
        lo = 0x90;
      if(c == 0xF4)
        hi = 0x8F;
    }
    else
      return false;
    if(len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
      return false;
    for(size_t k = 2; k <= n; k++)
      if(s[i + k] < 0x80 || s[i + k] > 0xBF)
        return false;
    i += n + 1;
  }
  return true;
}

static void check_text(const char *s, size_t len)
{
  bool valid = utf8_valid(s, len);
  size_t trimmed = len;
  const char *t;

  FUZZ_CHECK(valid == utf8_reference((const unsigned char *)s, len));
  FUZZ_CHECK(utf8_chars(s, len) <= len);
  t = trim_space(s, &trimmed);
  FUZZ_CHECK(t >= s && t + trimmed <= s + len);

  if(name_valid(s, len)) {
    FUZZ_CHECK(valid);
    FUZZ_CHECK(utf8_chars(s, len) >= 1 &&
               utf8_chars(s, len) <= NAME_MAX_CHARS);
    FUZZ_CHECK(trimmed > 0);
  }
  if(email_valid(s, len)) {
    const char *at = memchr(s, '@', len);
    FUZZ_CHECK(len >= 3 && len <= EMAIL_MAX);
    FUZZ_CHECK(at && at > s && at - s <= 64 && at + 1 < s + len);
    FUZZ_CHECK(!memchr(at + 1, '@', len - (size_t)(at - s) - 1));
    for(size_t i = 0; i < len; i++)
      FUZZ_CHECK((unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f);
  }
  if(link_valid(s, len)) {
    size_t scheme = (len > 7 && !strncasecmp(s, "http://", 7)) ? 7 : 8;
    FUZZ_CHECK(len <= LINK_MAX);
    FUZZ_CHECK(!strncasecmp(s, "http://", 7) ||
               !strncasecmp(s, "https://", 8));
    FUZZ_CHECK(len > scheme);
    for(size_t i = 0; i < len; i++)
      FUZZ_CHECK((unsigned char)s[i] > 0x20 && s[i] != 0x7f);
    /* No user:password@ before the path. */
    {
      size_t auth = 0;
      while(scheme + auth < len && !strchr("/?#", s[scheme + auth]))
        auth++;
      FUZZ_CHECK(!memchr(s + scheme, '@', auth));
      FUZZ_CHECK(auth > 0);
    }
  }
}

static void sockaddr_of(int family, const uint8_t *addr,
                        struct sockaddr_storage *ss, socklen_t *len)
{
  memset(ss, 0, sizeof(*ss));
  if(family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, addr, 4);
    *len = sizeof(*in);
  }
  else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, addr, 16);
    *len = sizeof(*in6);
  }
}

/* IPv4 a is judged the same in every IPv6 form that embeds it. */
static void check_embedded(const uint8_t a[4])
{
  enum netaddr_class cls = netaddr_classify_v4(a);
  uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff};
  uint8_t nat64[16] = {0x00, 0x64, 0xff, 0x9b};
  uint8_t six2four[16] = {0x20, 0x02};
  uint8_t compat[16] = {0};

  memcpy(mapped + 12, a, 4);
  memcpy(nat64 + 12, a, 4);
  memcpy(six2four + 2, a, 4);
  memcpy(compat + 12, a, 4);
  FUZZ_CHECK(cls != NETADDR_INVALID);
  FUZZ_CHECK(netaddr_classify_v6(mapped) == cls);
  FUZZ_CHECK(netaddr_classify_v6(nat64) == cls);
  FUZZ_CHECK(netaddr_classify_v6(six2four) == cls);
  /* IPv4-compatible is never public; :: and ::1 are themselves. */
  FUZZ_CHECK(netaddr_classify_v6(compat) != NETADDR_PUBLIC);
}

static void check_address(int family, const uint8_t *addr)
{
  struct sockaddr_storage ss;
  socklen_t len;
  enum netaddr_class cls;

  sockaddr_of(family, addr, &ss, &len);
  cls = netaddr_classify((const struct sockaddr *)&ss, len);
  FUZZ_CHECK(cls == (family == AF_INET ? netaddr_classify_v4(addr) :
                                         netaddr_classify_v6(addr)));
  FUZZ_CHECK(cls != NETADDR_INVALID);
  FUZZ_CHECK(netaddr_blocked((const struct sockaddr *)&ss, len) ==
             (cls != NETADDR_PUBLIC));
  FUZZ_CHECK(netaddr_class_name(cls)[0]);
  /* A sockaddr cut short is invalid, never read past its length. */
  FUZZ_CHECK(netaddr_classify((const struct sockaddr *)&ss, len - 1) ==
             NETADDR_INVALID);
  if(family == AF_INET)
    check_embedded(addr);
}

static void check_cidr(const char *s)
{
  struct netaddr_cidr c;
  struct sockaddr_storage ss;
  socklen_t len;
  int bits;

  if(!netaddr_parse_cidr(s, &c))
    return;
  FUZZ_CHECK(c.family == AF_INET || c.family == AF_INET6);
  bits = c.family == AF_INET ? 32 : 128;
  FUZZ_CHECK(c.prefix >= 0 && c.prefix <= bits);
  for(int i = c.prefix; i < bits; i++)
    FUZZ_CHECK(!(c.addr[i / 8] & (0x80 >> (i % 8))));
  sockaddr_of(c.family, c.addr, &ss, &len);
  FUZZ_CHECK(netaddr_in_cidr((const struct sockaddr *)&ss, len, &c));
  check_address(c.family, c.addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *exact = fuzz_memdup(data, size);
  char *str = fuzz_strndup(data, size);
  uint8_t raw[16] = {0};

  check_text(exact, size);
  check_cidr(str);

  /* The first bytes as raw addresses too, whatever they spell. */
  if(size)
    memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
  check_address(AF_INET, raw);
  check_address(AF_INET6, raw);

  free(str);
  free(exact);
  return 0;
}
