/*
 * test_validate.c - input rules (common/validate.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "validate.h"

static bool email(const char *s)
{
  return email_valid(s, strlen(s));
}

static void emails(void **state)
{
  char longest[EMAIL_MAX + 2];
  (void)state;

  assert_true(email("a@b.example"));
  assert_true(email("first.last+tag@sub.example.com"));
  assert_true(email("user@localhost"));
  assert_false(email(""));
  assert_false(email("@"));
  assert_false(email("a@"));
  assert_false(email("@b.example"));
  assert_false(email("no-at.example"));
  assert_false(email("a@@b.example"));
  assert_false(email("a@b@c.example"));
  assert_false(email("a b@c.example"));
  assert_false(email("a@b .example"));
  assert_false(email("a@b..example"));
  assert_false(email("a@.example"));
  assert_false(email("a@example."));
  assert_false(email("a\r\nBcc: x@y.example"));
  assert_false(email("<a@b.example>"));
  assert_false(email("\"a\"@b.example"));
  assert_false(email("a,b@c.example"));
  assert_false(email("us\xc3\xa9r@b.example"));   /* no SMTPUTF8 */

  /* 64-byte local part is the limit. */
  memset(longest, 'a', 64);
  memcpy(longest + 64, "@b.example", 11);
  assert_true(email(longest));
  memset(longest, 'a', 65);
  memcpy(longest + 65, "@b.example", 11);
  assert_false(email(longest));

  /* 254 bytes in all. */
  memset(longest, 'd', sizeof(longest));
  memcpy(longest, "a@", 2);
  longest[EMAIL_MAX] = '\0';
  assert_true(email(longest));
  longest[EMAIL_MAX] = 'd';
  longest[EMAIL_MAX + 1] = '\0';
  assert_false(email(longest));
}

static bool public_domain(const char *s)
{
  return email_valid(s, strlen(s)) && email_domain_public(s, strlen(s));
}

/* Issue 12 item 11: addresses that route to this host or a bare IP are
 * refused unless the operator allows them (EMAIL_ALLOW_LOCAL_DOMAINS). */
static void email_domains(void **state)
{
  (void)state;

  assert_true(public_domain("a@b.example"));
  assert_true(public_domain("a@mail.example.co.uk"));
  assert_true(public_domain("a@127.0.0.1.nip.io"));  /* a real DNS name */
  assert_true(public_domain("a@1e100.net"));
  assert_true(public_domain("a@x.y1"));
  assert_false(public_domain("a@b"));
  assert_false(public_domain("postmaster@localhost"));
  assert_false(public_domain("a%b@127.0.0.1"));
  assert_false(public_domain("a@127.0.0.1"));
  assert_false(public_domain("a@127.1"));
  assert_false(public_domain("a@0x7f.1"));
  assert_false(public_domain("a@2130706433"));
  assert_false(public_domain("a@[127.0.0.1]"));       /* not even valid */
  assert_false(public_domain("a@[IPv6:::1]"));
  assert_false(email_domain_public("no-at", 5));
  assert_false(email_domain_public("a@b.", 4));
}

static void trimming(void **state)
{
  size_t len;
  const char *s;
  (void)state;

  len = strlen("  a@b.example\t\n");
  s = trim_space("  a@b.example\t\n", &len);
  assert_int_equal(len, strlen("a@b.example"));
  assert_memory_equal(s, "a@b.example", len);
  len = 3;
  s = trim_space("   ", &len);
  assert_int_equal(len, 0);
  len = 0;
  trim_space("", &len);
  assert_int_equal(len, 0);
}

static void passwords(void **state)
{
  (void)state;
  assert_false(password_length_valid(0));
  assert_false(password_length_valid(7));
  assert_true(password_length_valid(8));
  assert_true(password_length_valid(1024));
  assert_false(password_length_valid(1025));
}

static bool link(const char *s)
{
  return link_valid(s, strlen(s));
}

static void links(void **state)
{
  char big[LINK_MAX + 2];
  (void)state;

  assert_true(link("http://example.com"));
  assert_true(link("https://example.com/"));
  assert_true(link("HTTPS://Example.COM:8443/path?q=1#frag"));
  assert_true(link("http://127.0.0.1:8080/health"));
  assert_true(link("http://[::1]:80/"));
  assert_true(link("http://[2001:db8::1]"));
  assert_true(link("https://xn--mnchen-3ya.de/"));
  assert_true(link("https://m\xc3\xbcnchen.de/"));
  assert_false(link(""));
  assert_false(link("example.com"));
  assert_false(link("ftp://example.com/"));
  assert_false(link("file:///etc/passwd"));
  assert_false(link("gopher://example.com"));
  assert_false(link("javascript:alert(1)"));
  assert_false(link("http://"));
  assert_false(link("http:///path"));
  assert_false(link("http://:80/"));
  assert_false(link("http//example.com"));
  assert_false(link("http://exa mple.com"));
  assert_false(link("http://example.com/a b"));
  assert_false(link("http://example.com\r\nX: y"));
  assert_false(link("http://user:pass@example.com/"));
  assert_false(link("http://user@example.com/"));
  assert_false(link("http://example.com:0/"));
  assert_false(link("http://example.com:65536/"));
  assert_false(link("http://example.com:80x/"));
  assert_false(link("http://example.com:/"));
  assert_false(link("http://[::1/"));
  assert_false(link("http://[]/"));
  assert_false(link("http://[::1]x/"));
  assert_false(link("http://exa<mple.com/"));

  memcpy(big, "http://a.example/", 17);
  memset(big + 17, 'x', sizeof(big) - 17);
  big[LINK_MAX] = '\0';
  assert_true(link(big));
  big[LINK_MAX] = 'x';
  big[LINK_MAX + 1] = '\0';
  assert_false(link(big));
}

static void names(void **state)
{
  char s[4 * 201 + 1];
  (void)state;

  assert_true(name_valid("x", 1));
  assert_true(name_valid("'; DROP TABLE projects; --", 26));
  assert_false(name_valid("", 0));
  assert_false(name_valid("   ", 3));
  assert_false(name_valid("\xff", 1));
  /* 200 emoji (4 bytes each) are 200 characters. */
  for(int i = 0; i < 201; i++)
    memcpy(s + 4 * i, "\xf0\x9f\x98\x80", 4);
  assert_true(name_valid(s, 4 * 200));
  assert_false(name_valid(s, 4 * 201));
}

static bool ranges(const char *s, const char *canonical)
{
  struct status_ranges r;
  char out[STATUS_RANGES_TEXT_MAX];

  if(!status_ranges_parse(s, strlen(s), &r))
    return false;
  status_ranges_format(&r, out, sizeof(out));
  assert_string_equal(out, canonical);
  return true;
}

static void status_ranges(void **state)
{
  struct status_ranges r;
  (void)state;

  assert_true(ranges("200-399", "200-399"));
  assert_true(ranges("200", "200"));
  assert_true(ranges(" 200 - 299 , 301,418 ", "200-299,301,418"));
  assert_true(ranges("100-599", "100-599"));
  assert_true(ranges("1,2", "") == false);
  assert_false(ranges("", ""));
  assert_false(ranges(",", ""));
  assert_false(ranges("200,", ""));
  assert_false(ranges(",200", ""));
  assert_false(ranges("200-", ""));
  assert_false(ranges("-200", ""));
  assert_false(ranges("399-200", ""));
  assert_false(ranges("99", ""));
  assert_false(ranges("600", ""));
  assert_false(ranges("2000", ""));
  assert_false(ranges("20x", ""));
  assert_false(ranges("200-300-400", ""));
  assert_false(ranges("+200", ""));
  assert_true(ranges("200,201,202,203,204,205,206,207,208,209,210,211,212,"
                     "213,214,215", "200,201,202,203,204,205,206,207,208,"
                     "209,210,211,212,213,214,215"));
  assert_false(ranges("200,201,202,203,204,205,206,207,208,209,210,211,212,"
                      "213,214,215,216", ""));

  assert_true(status_ranges_parse("200-299,301", 11, &r));
  assert_true(status_ranges_match(&r, 200));
  assert_true(status_ranges_match(&r, 299));
  assert_true(status_ranges_match(&r, 301));
  assert_false(status_ranges_match(&r, 300));
  assert_false(status_ranges_match(&r, 199));
  assert_false(status_ranges_match(&r, 0));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(emails),
    cmocka_unit_test(email_domains),
    cmocka_unit_test(trimming),
    cmocka_unit_test(passwords),
    cmocka_unit_test(links),
    cmocka_unit_test(names),
    cmocka_unit_test(status_ranges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
