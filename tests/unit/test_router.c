/*
 * test_router.c - the route table lookup (api/router.c).  What api/auth.c
 * reads from headers is tests/unit/test_auth.c.
 *
 * Paths are copied to the heap at their exact length (plus the NUL), so a
 * read past the end shows under valgrind and ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

struct lookup {
  int status;
  const struct route *route;
  int64_t ids[REQUEST_MAX_IDS];
  char allow[ROUTER_ALLOW_MAX];
};

static struct lookup lookup(const char *method, const char *path)
{
  struct lookup l;
  char *p = strdup(path);

  assert_non_null(p);
  memset(&l, 0, sizeof(l));
  l.status = router_lookup(method, p, l.ids, &l.route, l.allow,
                           sizeof(l.allow));
  free(p);
  return l;
}

static void expect_route(const char *method, const char *path,
                         const char *pattern, bool auth)
{
  struct lookup l = lookup(method, path);

  if(l.status)
    fail_msg("%s %s: %d, not a route", method, path, l.status);
  assert_non_null(l.route);
  assert_string_equal(l.route->method, method);
  assert_string_equal(l.route->pattern, pattern);
  assert_int_equal(l.route->auth, auth);
  assert_non_null(l.route->handler);
}

static void expect_status(const char *method, const char *path, int status,
                          const char *allow)
{
  struct lookup l = lookup(method, path);

  if(l.status != status)
    fail_msg("%s %s: %d, expected %d", method, path, l.status, status);
  assert_null(l.route);
  if(allow)
    assert_string_equal(l.allow, allow);
}

static void routes_found(void **state)
{
  (void)state;
  expect_route("GET", "/healthcheck", "/healthcheck", false);
  expect_route("POST", "/user/register", "/user/register", false);
  expect_route("POST", "/user/login", "/user/login", false);
  expect_route("POST", "/user/logout", "/user/logout", true);
  expect_route("POST", "/user/signout", "/user/signout", false);
  expect_route("GET", "/user/me", "/user/me", true);
  expect_route("PUT", "/user/password", "/user/password", true);
  expect_route("DELETE", "/user", "/user", true);
  expect_route("GET", "/user/verify", "/user/verify", false);
  expect_route("POST", "/user/verify", "/user/verify", false);
  expect_route("POST", "/user/verify/resend", "/user/verify/resend", true);
  expect_route("POST", "/project", "/project", true);
  expect_route("GET", "/project", "/project", true);
  expect_route("GET", "/project/dashboard", "/project/dashboard", true);
  expect_route("GET", "/project/status", "/project/status", true);
  expect_route("GET", "/project/mute", "/project/mute", false);
  expect_route("POST", "/project/mute", "/project/mute", false);
  expect_route("GET", "/project/1", "/project/{id}", true);
  expect_route("PUT", "/project/1", "/project/{id}", true);
  expect_route("DELETE", "/project/1", "/project/{id}", true);
  expect_route("POST", "/project/1/check", "/project/{id}/check", true);
  expect_route("GET", "/project/1/checks", "/project/{id}/checks", true);
  expect_route("GET", "/project/1/uptime", "/project/{id}/uptime", true);
  expect_route("GET", "/project/1/incidents", "/project/{id}/incidents",
               true);
  expect_route("GET", "/project/1/series", "/project/{id}/series", true);
}

static void ids_are_read(void **state)
{
  struct lookup l;

  (void)state;
  l = lookup("GET", "/project/9223372036854775807/checks");
  assert_int_equal(l.status, 0);
  assert_true(l.ids[0] == INT64_MAX);
  l = lookup("GET", "/project/42");
  assert_int_equal(l.status, 0);
  assert_int_equal(l.ids[0], 42);
}

static void unknown_paths(void **state)
{
  (void)state;
  expect_status("GET", "/", 404, "");
  expect_status("GET", "", 404, "");
  expect_status("GET", "/project/", 404, "");
  expect_status("GET", "/project/0", 404, "");
  expect_status("GET", "/project/007", 404, "");
  expect_status("GET", "/project/-1", 404, "");
  expect_status("GET", "/project/1e3", 404, "");
  expect_status("GET", "/project/9223372036854775808", 404, "");
  expect_status("GET", "/project/1%2F2", 404, "");
  expect_status("GET", "/project/1/2", 404, "");
  expect_status("GET", "/project/1/checks/", 404, "");
  expect_status("GET", "/project/0/incidents", 404, "");
  expect_status("GET", "/project/1/incidents/1", 404, "");
  expect_status("GET", "/project/dashboard/series", 404, "");
  expect_status("GET", "/projects", 404, "");
  expect_status("GET", "/project/../user/me", 404, "");
  expect_status("GET", "/Project", 404, "");
  /* An unknown path is 404 for a preflight too. */
  expect_status("OPTIONS", "/nowhere", 404, "");
}

static void wrong_methods(void **state)
{
  (void)state;
  expect_status("PATCH", "/project/1", 405, "GET, HEAD, PUT, DELETE");
  expect_status("get", "/project/1", 405, "GET, HEAD, PUT, DELETE");
  expect_status("head", "/project/1", 405, "GET, HEAD, PUT, DELETE");
  expect_status("DELETE", "/project", 405, "POST, GET, HEAD");
  expect_status("GET", "/user/login", 405, "POST");
  expect_status("PUT", "/user/verify", 405, "POST, GET, HEAD");
  expect_status("GET", "/user/verify/resend", 405, "POST");
  expect_status("GET", "/user/signout", 405, "POST");
  expect_status("PUT", "/project/mute", 405, "GET, HEAD, POST");
  expect_status("GET", "/project/1/check", 405, "POST");
  expect_status("POST", "/project/1/incidents", 405, "GET, HEAD");
  expect_status("DELETE", "/project/1/series", 405, "GET, HEAD");
  /* /project/dashboard is not an id, so only its own GET is listed. */
  expect_status("DELETE", "/project/dashboard", 405, "GET, HEAD");
  /* HEAD is answered only where GET is. */
  expect_status("HEAD", "/user/login", 405, "POST");
  expect_status("HEAD", "/user", 405, "DELETE");
  expect_status("HEAD", "/project/1/check", 405, "POST");
}

static void preflights(void **state)
{
  (void)state;
  expect_status("OPTIONS", "/project/1", 204, "GET, HEAD, PUT, DELETE");
  expect_status("OPTIONS", "/user", 204, "DELETE");
  expect_status("OPTIONS", "/healthcheck", 204, "GET, HEAD");
}

/* HEAD finds the GET route of every path that has one (issue 12 item 8:
 * load balancers probe with HEAD), the same row, so the handler, the
 * auth flag and the metrics' route label are the GET's. */
static void head_is_answered_wherever_get_is(void **state)
{
  size_t n, heads = 0;
  const struct route *table = router_table(&n);

  (void)state;
  for(size_t i = 0; i < n; i++) {
    char path[64];
    const char *id = strstr(table[i].pattern, "{id}");
    struct lookup l;

    if(strcmp(table[i].method, "GET"))
      continue;
    if(id)
      snprintf(path, sizeof(path), "%.*s7%s", (int)(id - table[i].pattern),
               table[i].pattern, id + 4);
    else
      snprintf(path, sizeof(path), "%s", table[i].pattern);
    l = lookup("HEAD", path);
    if(l.status)
      fail_msg("HEAD %s: %d, expected the GET route", path, l.status);
    assert_ptr_equal(l.route, &table[i]);
    heads++;
  }
  assert_true(heads >= 12);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(routes_found),
    cmocka_unit_test(ids_are_read),
    cmocka_unit_test(unknown_paths),
    cmocka_unit_test(wrong_methods),
    cmocka_unit_test(preflights),
    cmocka_unit_test(head_is_answered_wherever_get_is),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
