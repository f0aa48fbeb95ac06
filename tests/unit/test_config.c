/*
 * test_config.c - reading and validating the environment (common/config.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "trackly_build.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static const char *const vars[] = {
  "DB_URL", "JWT_SECRET", "JWT_SECRET_FILE", "JWT_SECRET_PREVIOUS", "JWT_TTL",
  "PUBLIC_URL", "CORS_ORIGINS", "API_WORKERS", "MAX_PROJECTS_PER_USER",
  "API_HASHING_SLOTS", "API_REGISTRATIONS_PER_MINUTE",
  "API_HUNG_WORKER_SECONDS",
  "MONITOR_CONCURRENCY", "MONITOR_MIN_INTERVAL",
  "TRACKLY_ALLOW_PRIVATE_TARGETS", "CHECK_RETENTION_DAYS",
  "ALERT_REMINDER_MINUTES", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USER",
  "EMAIL_PASS", "EMAIL_FROM", "EMAIL_TLS", "LOG_FORMAT",
  "TRACKLY_ALLOWED_NETWORKS", "EMAIL_ALLOW_LOCAL_DOMAINS",
  "UNVERIFIED_ACCOUNT_DAYS", "UNVERIFIED_REPLACE_HOURS",
  "ALERT_MAIL_PER_HOUR", "ALERT_FLAP_TRANSITIONS", "ALERT_FLAP_QUIET_MINUTES",
  NULL,
};

static int clean_env(void **state)
{
  (void)state;
  for(int i = 0; vars[i]; i++)
    unsetenv(vars[i]);
  setenv("DB_URL", "dbname=trackly", 1);
  setenv("JWT_SECRET", SECRET, 1);
  return 0;
}

static const unsigned need = CONFIG_NEED_DB | CONFIG_NEED_JWT;

/* The integer settings' defaults: each cfg field and the value it must
 * have when the environment says nothing. */
static void expect_int_defaults(const struct config *cfg)
{
#define SETTING(field, want) {#field, (long long)cfg->field, (want)}
  const struct {
    const char *name;
    long long got, want;
  } ints[] = {
    SETTING(jwt_secret_len, 32),
    SETTING(jwt_ttl, 86400),
    SETTING(api_hashing_slots, 0),
    SETTING(api_registrations_per_minute, 60),
    SETTING(api_hung_worker_seconds, 30),
    SETTING(max_projects_per_user, 100),
    SETTING(monitor_concurrency, 256),
    SETTING(monitor_min_interval, 60),
    SETTING(check_retention_days, 7),
    SETTING(alert_reminder_minutes, 0),
    SETTING(alert_mail_per_hour, 10),
    SETTING(alert_flap_transitions, 3),
    SETTING(alert_flap_quiet_minutes, 30),
    SETTING(unverified_account_days, 7),
    SETTING(unverified_replace_hours, 24),
    SETTING(email_port, 587),
    SETTING(email_tls, EMAIL_TLS_STARTTLS),
    SETTING(log_format, LOG_FORMAT_TEXT),
  };
#undef SETTING

  for(size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
    if(ints[i].got != ints[i].want)
      fail_msg("cfg.%s is %lld, want %lld", ints[i].name, ints[i].got,
               ints[i].want);
}

static void defaults(void **state)
{
  struct config cfg;
  char err[CONFIG_ERR_MAX];
  (void)state;

  assert_int_equal(config_load(&cfg, need, err, sizeof(err)), 0);
  expect_int_defaults(&cfg);
  assert_string_equal(cfg.db_url, "dbname=trackly");
  assert_null(cfg.jwt_previous);
  assert_string_equal(cfg.public_url, "http://127.0.0.1:8080");
  assert_true(cfg.api_workers >= 2);
  assert_false(cfg.allow_private_targets);
  assert_false(cfg.email_allow_local_domains);
  assert_null(cfg.email_host);
  config_cleanup(&cfg);
}

/* Each setting given a value it must refuse (NULL: unset), which the
 * one-line error names. */
static const struct {
  const char *name, *value;
} bad[] = {
  {"DB_URL", NULL},
  {"JWT_SECRET", NULL},
  {"JWT_SECRET", "short"},
  {"JWT_SECRET", "0123456789abcdef0123456789abcde"},
  {"JWT_SECRET_PREVIOUS", "tooshort"},
  {"JWT_TTL", "10"},
  {"JWT_TTL", "1y"},
  {"API_WORKERS", "0"},
  {"API_WORKERS", "4x"},
  {"API_WORKERS", " 4"},
  {"API_HASHING_SLOTS", "-1"},
  {"API_HASHING_SLOTS", "257"},
  {"API_REGISTRATIONS_PER_MINUTE", "0"},
  {"API_HUNG_WORKER_SECONDS", "1"},
  {"MAX_PROJECTS_PER_USER", "-1"},
  {"MONITOR_MIN_INTERVAL", "0"},
  {"TRACKLY_ALLOW_PRIVATE_TARGETS", "maybe"},
  {"EMAIL_PORT", "70000"},
  {"EMAIL_TLS", "ssl"},
  {"LOG_FORMAT", "xml"},
  {"PUBLIC_URL", "ftp://x"},
  {"CORS_ORIGINS", "https://a.example/path"},
  {"CORS_ORIGINS", "a.example"},
  {"TRACKLY_ALLOWED_NETWORKS", "10.0.0.0/33"},
  {"TRACKLY_ALLOWED_NETWORKS", "example.com"},
  {"EMAIL_ALLOW_LOCAL_DOMAINS", "sometimes"},
  {"UNVERIFIED_ACCOUNT_DAYS", "0"},
  {"UNVERIFIED_REPLACE_HOURS", "0"},
  /* The default 7 days are 168 hours. */
  {"UNVERIFIED_REPLACE_HOURS", "169"},
  {"ALERT_MAIL_PER_HOUR", "-1"},
  {"ALERT_MAIL_PER_HOUR", "ten"},
  {"ALERT_FLAP_TRANSITIONS", "101"},
  {"ALERT_FLAP_QUIET_MINUTES", "0"},
};

/* API_WORKERS when unset: one per CPU, never fewer than 2 (a worker
 * hashing a password must not hold up everything else), at most 256. */
static void default_workers(void **state)
{
  (void)state;
  assert_int_equal(config_default_workers(-1), 2);
  assert_int_equal(config_default_workers(0), 2);
  assert_int_equal(config_default_workers(1), 2);
  assert_int_equal(config_default_workers(2), 2);
  assert_int_equal(config_default_workers(3), 3);
  assert_int_equal(config_default_workers(64), 64);
  assert_int_equal(config_default_workers(256), 256);
  assert_int_equal(config_default_workers(4096), 256);
}

static void bad_values(void **state)
{
  struct config cfg;
  char err[CONFIG_ERR_MAX];
  (void)state;

  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if(bad[i].value)
      setenv(bad[i].name, bad[i].value, 1);
    else
      unsetenv(bad[i].name);
    assert_int_equal(config_load(&cfg, need, err, sizeof(err)), -1);
    if(!strstr(err, bad[i].name))
      fail_msg("error \"%s\" does not name %s", err, bad[i].name);
    assert_null(strchr(err, '\n'));
    clean_env(NULL);
  }
}

static void values(void **state)
{
  struct config cfg;
  char err[CONFIG_ERR_MAX];
  (void)state;

  setenv("JWT_TTL", "12h", 1);
  setenv("PUBLIC_URL", "https://trackly.example//", 1);
  setenv("CORS_ORIGINS", " https://a.example , http://b.example:3000,", 1);
  setenv("EMAIL_TLS", "tls", 1);
  setenv("TRACKLY_ALLOW_PRIVATE_TARGETS", "1", 1);
  setenv("LOG_FORMAT", "json", 1);
  setenv("JWT_SECRET_PREVIOUS", SECRET "-old", 1);
  setenv("EMAIL_HOST", "", 1);   /* empty counts as unset */
  setenv("TRACKLY_ALLOWED_NETWORKS", " 10.1.2.3/24, ::1 ,", 1);
  setenv("EMAIL_ALLOW_LOCAL_DOMAINS", "yes", 1);
  setenv("UNVERIFIED_ACCOUNT_DAYS", "2", 1);
  setenv("UNVERIFIED_REPLACE_HOURS", "48", 1);
  assert_int_equal(config_load(&cfg, need, err, sizeof(err)), 0);
  assert_true(cfg.email_allow_local_domains);
  assert_int_equal(cfg.unverified_account_days, 2);
  assert_int_equal(cfg.unverified_replace_hours, 48);
  assert_int_equal(cfg.jwt_ttl, 12 * 3600);
  assert_string_equal(cfg.public_url, "https://trackly.example");
  assert_int_equal(cfg.cors_count, 2);
  assert_true(config_origin_allowed(&cfg, "https://a.example"));
  assert_true(config_origin_allowed(&cfg, "http://b.example:3000"));
  assert_false(config_origin_allowed(&cfg, "https://a.example.evil"));
  assert_false(config_origin_allowed(&cfg, "http://a.example"));
  assert_false(config_origin_allowed(&cfg, NULL));
  assert_int_equal(cfg.email_port, 587);
  assert_int_equal(cfg.allowed_count, 2);
  assert_int_equal(cfg.allowed_networks[0].prefix, 24);
  assert_int_equal(cfg.allowed_networks[1].prefix, 128);
  assert_int_equal(cfg.email_tls, EMAIL_TLS_TLS);
  assert_null(cfg.email_host);
  assert_true(cfg.allow_private_targets);
  assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
  assert_int_equal(cfg.jwt_previous_len, 36);
  config_cleanup(&cfg);
}

static void secret_file(void **state)
{
  struct config cfg;
  char err[CONFIG_ERR_MAX], path[] = "/tmp/trackly-test-XXXXXX";
  int fd = mkstemp(path);
  (void)state;

  assert_true(fd >= 0);
  assert_int_equal(write(fd, SECRET "\n", 33), 33);
  close(fd);
  unsetenv("JWT_SECRET");
  setenv("JWT_SECRET_FILE", path, 1);
  assert_int_equal(config_load(&cfg, need, err, sizeof(err)), 0);
  assert_int_equal(cfg.jwt_secret_len, 32);  /* newline dropped */
  assert_memory_equal(cfg.jwt_secret, SECRET, 32);
  config_cleanup(&cfg);

  setenv("JWT_SECRET", SECRET, 1);            /* both set: refused */
  assert_int_equal(config_load(&cfg, need, err, sizeof(err)), -1);
  unlink(path);
  unsetenv("JWT_SECRET");
  assert_int_equal(config_load(&cfg, need, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "JWT_SECRET_FILE"));
}

static void env_file(void **state)
{
  char err[CONFIG_ERR_MAX], path[] = "/tmp/trackly-env-XXXXXX";
  FILE *f;
  int fd = mkstemp(path);
  (void)state;

  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  fputs("# comment\n\nexport API_WORKERS=3\nPUBLIC_URL = 'https://x.example'\n"
        "EMAIL_FROM=\"Trackly <t@x.example>\"\n", f);
  fclose(f);
  setenv("API_WORKERS", "9", 1);
  assert_int_equal(config_load_env_file(path, err, sizeof(err)), 0);
  assert_string_equal(getenv("API_WORKERS"), "3");
  assert_string_equal(getenv("PUBLIC_URL"), "https://x.example");
  assert_string_equal(getenv("EMAIL_FROM"), "Trackly <t@x.example>");

  f = fopen(path, "w");
  fputs("NOT A SETTING\n", f);
  fclose(f);
  assert_int_equal(config_load_env_file(path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, ":1:"));
  unlink(path);
  assert_int_equal(config_load_env_file(path, err, sizeof(err)), -1);
}

/* schema.sql and the build must agree on the version (meson.build). */
/* CONFIG_NO_JWT (the monitor): JWT settings are neither read nor checked,
 * and the secrets' values are wiped where they lie before being unset. */
static void no_jwt(void **state)
{
  struct config cfg;
  char err[256];
  char *value;

  (void)state;
  setenv("JWT_SECRET", "short", 1);          /* would be refused */
  setenv("JWT_SECRET_PREVIOUS", SECRET "-old", 1);
  setenv("JWT_SECRET_FILE", "/nonexistent/jwt", 1);
  setenv("JWT_TTL", "forever", 1);
  value = getenv("JWT_SECRET_PREVIOUS");
  assert_int_equal(config_load(&cfg, CONFIG_NEED_DB | CONFIG_NO_JWT, err,
                               sizeof(err)), 0);
  assert_null(cfg.jwt_secret);
  assert_null(cfg.jwt_previous);
  assert_null(getenv("JWT_SECRET"));
  assert_null(getenv("JWT_SECRET_PREVIOUS"));
  assert_null(getenv("JWT_SECRET_FILE"));
  /* glibc keeps a setenv string alive after unsetenv: it is zeroed. */
  for(size_t i = 0; i < strlen(SECRET "-old"); i++)
    assert_int_equal(value[i], 0);
  config_cleanup(&cfg);
}

static void schema_version_matches(void **state)
{
  char line[256], want[64];
  bool found = false;
  FILE *f = fopen(TRACKLY_SOURCE_ROOT "/schema.sql", "r");
  (void)state;

  assert_non_null(f);
  snprintf(want, sizeof(want), "INSERT INTO schema_version (version) "
           "VALUES (%d)", TRACKLY_SCHEMA_VERSION);
  while(fgets(line, sizeof(line), f))
    if(strstr(line, want))
      found = true;
  fclose(f);
  assert_true(found);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(defaults, clean_env),
    cmocka_unit_test(default_workers),
    cmocka_unit_test_setup(bad_values, clean_env),
    cmocka_unit_test_setup(values, clean_env),
    cmocka_unit_test_setup(secret_file, clean_env),
    cmocka_unit_test_setup(no_jwt, clean_env),
    cmocka_unit_test_setup(env_file, clean_env),
    cmocka_unit_test(schema_version_matches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
