/*
 * config.c - reading and validating the environment; see config.h.
 * (config_start.c is the start of a program: the env file, the log.)
 *
 * An empty variable counts as unset, as systemd's EnvironmentFile= and most
 * shells make that the easy way to "comment out" a value.
 */
#include "config.h"
#include "jwt.h"
#include "parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *env(const char *name)
{
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static int fail(char *err, size_t errcap, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errcap, fmt, ap);
  va_end(ap);
  return -1;
}

static int get_int(const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out, char *err, size_t errcap)
{
  const char *v = env(name);
  if(!v) {
    *out = def;
    return 0;
  }
  if(!parse_int(v, min, max, out))
    return fail(err, errcap, "%s must be an integer from %lld to %lld, not "
                "\"%.40s\"", name, (long long)min, (long long)max, v);
  return 0;
}

static int get_bool(const char *name, bool def, bool *out, char *err,
                    size_t errcap)
{
  const char *v = env(name);
  if(!v)
    *out = def;
  else if(!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))
    *out = true;
  else if(!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no"))
    *out = false;
  else
    return fail(err, errcap, "%s must be 1 or 0, not \"%.40s\"", name, v);
  return 0;
}

/* Duplicates an optional string variable; *out stays NULL when unset. */
static int get_str(const char *name, char **out, char *err, size_t errcap)
{
  const char *v = env(name);
  if(!v)
    return 0;
  if(strlen(v) > CONFIG_VALUE_MAX)
    return fail(err, errcap, "%s is too long", name);
  *out = strdup(v);
  if(!*out)
    return fail(err, errcap, "out of memory reading %s", name);
  return 0;
}

/* JWT_TTL: seconds, or a number with an s, m, h or d suffix. */
static int get_duration(const char *name, int64_t def, int64_t *out,
                        char *err, size_t errcap)
{
  const char *v = env(name);
  char num[32];
  int64_t mult = 1, n;
  size_t len;

  if(!v) {
    *out = def;
    return 0;
  }
  len = strlen(v);
  if(len == 0 || len >= sizeof(num))
    goto bad;
  memcpy(num, v, len + 1);
  switch(num[len - 1]) {
  case 's': mult = 1; num[--len] = '\0'; break;
  case 'm': mult = 60; num[--len] = '\0'; break;
  case 'h': mult = 3600; num[--len] = '\0'; break;
  case 'd': mult = 86400; num[--len] = '\0'; break;
  default: break;
  }
  if(!parse_int(num, 1, 366 * 86400 / mult, &n) || n * mult < 60)
    goto bad;
  *out = n * mult;
  return 0;
bad:
  return fail(err, errcap, "%s must be a duration from 60s to 366d (e.g. "
              "86400, 12h, 7d), not \"%.40s\"", name, v);
}

static int read_secret_file(const char *path, unsigned char **out,
                            size_t *outlen, char *err, size_t errcap)
{
  unsigned char buf[CONFIG_VALUE_MAX + 1];
  FILE *f = fopen(path, "rb");
  size_t n;

  if(!f)
    return fail(err, errcap, "JWT_SECRET_FILE %s: %s", path, strerror(errno));
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  if(n > CONFIG_VALUE_MAX)
    return fail(err, errcap, "JWT_SECRET_FILE %s is too large", path);
  /* Files written with echo end in a newline that is not part of the key. */
  while(n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  *out = malloc(n ? n : 1);
  if(!*out)
    return fail(err, errcap, "out of memory reading JWT_SECRET_FILE");
  memcpy(*out, buf, n);
  *outlen = n;
  explicit_bzero(buf, sizeof(buf));
  return 0;
}

static int get_secret(const char *name, unsigned char **out, size_t *outlen,
                      char *err, size_t errcap)
{
  const char *v = env(name);
  size_t n;

  if(!v)
    return 0;
  n = strlen(v);
  if(n > CONFIG_VALUE_MAX)
    return fail(err, errcap, "%s is too long", name);
  *out = malloc(n);
  if(!*out)
    return fail(err, errcap, "out of memory reading %s", name);
  memcpy(*out, v, n);
  *outlen = n;
  return 0;
}

/* An origin is "scheme://host[:port]" with nothing after it, compared
 * byte for byte with the browser's Origin header. */
static bool valid_origin(const char *o, size_t len)
{
  const char *rest;
  if(len > 7 && !strncmp(o, "http://", 7))
    rest = o + 7;
  else if(len > 8 && !strncmp(o, "https://", 8))
    rest = o + 8;
  else
    return false;
  for(; rest < o + len; rest++)
    if(*rest == '/' || *rest == ' ' || *rest == ',' || *rest == '\t')
      return false;
  return true;
}

static int get_origins(struct config *cfg, char *err, size_t errcap)
{
  const char *v = env("CORS_ORIGINS");
  const char *p, *end;

  if(!v)
    return 0;
  for(p = v; *p; p = *end ? end + 1 : end) {
    size_t len;
    end = strchr(p, ',');
    if(!end)
      end = p + strlen(p);
    while(p < end && (*p == ' ' || *p == '\t'))
      p++;
    len = (size_t)(end - p);
    while(len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      len--;
    if(!len)
      continue;
    if(len == 1 && *p == '*') {
      cfg->cors_any = true;
      continue;
    }
    if(!valid_origin(p, len))
      return fail(err, errcap, "CORS_ORIGINS: \"%.*s\" is not an origin like "
                  "https://app.example.com", (int)(len > 60 ? 60 : len), p);
    if(cfg->cors_count == CONFIG_MAX_ORIGINS)
      return fail(err, errcap, "CORS_ORIGINS: at most %d origins",
                  CONFIG_MAX_ORIGINS);
    cfg->cors_origins[cfg->cors_count] = strndup(p, len);
    if(!cfg->cors_origins[cfg->cors_count])
      return fail(err, errcap, "out of memory reading CORS_ORIGINS");
    cfg->cors_count++;
  }
  return 0;
}

/* TRACKLY_ALLOWED_NETWORKS: comma-separated CIDRs the prober may reach
 * although they are private. */
static int get_networks(struct config *cfg, char *err, size_t errcap)
{
  const char *v = env("TRACKLY_ALLOWED_NETWORKS");
  char item[64];

  for(const char *p = v; p && *p;) {
    size_t len = strcspn(p, ",");
    const char *s = p;
    size_t n = len;

    while(n && (*s == ' ' || *s == '\t')) {
      s++;
      n--;
    }
    while(n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
      n--;
    if(n) {
      if(n >= sizeof(item) || cfg->allowed_count == CONFIG_MAX_NETWORKS)
        return fail(err, errcap, "TRACKLY_ALLOWED_NETWORKS: at most %d "
                    "networks like 10.1.0.0/16", CONFIG_MAX_NETWORKS);
      memcpy(item, s, n);
      item[n] = '\0';
      if(!netaddr_parse_cidr(item, &cfg->allowed_networks[cfg->allowed_count]))
        return fail(err, errcap, "TRACKLY_ALLOWED_NETWORKS: \"%s\" is not "
                    "a network like 10.1.0.0/16 or fd00::/8", item);
      cfg->allowed_count++;
    }
    p += len;
    if(*p == ',')
      p++;
  }
  return 0;
}

static int get_public_url(struct config *cfg, char *err, size_t errcap)
{
  const char *v = env("PUBLIC_URL");
  size_t len;

  if(!v)
    v = "http://127.0.0.1:8080";
  len = strlen(v);
  if(len > 2048 || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)))
    return fail(err, errcap, "PUBLIC_URL must be an http:// or https:// URL, "
                "not \"%.60s\"", v);
  while(len && v[len - 1] == '/')
    len--;
  cfg->public_url = strndup(v, len);
  if(!cfg->public_url)
    return fail(err, errcap, "out of memory reading PUBLIC_URL");
  return 0;
}

static int get_jwt(struct config *cfg, unsigned need, char *err,
                   size_t errcap)
{
  const char *file = env("JWT_SECRET_FILE");

  if(env("JWT_SECRET") && file)
    return fail(err, errcap, "set JWT_SECRET or JWT_SECRET_FILE, not both");
  if(file) {
    if(read_secret_file(file, &cfg->jwt_secret, &cfg->jwt_secret_len, err,
                        errcap))
      return -1;
  }
  else if(get_secret("JWT_SECRET", &cfg->jwt_secret, &cfg->jwt_secret_len,
                     err, errcap))
    return -1;

  if(!cfg->jwt_secret && (need & CONFIG_NEED_JWT))
    return fail(err, errcap, "JWT_SECRET (or JWT_SECRET_FILE) is required; "
                "generate one with: openssl rand -hex 32");
  if(cfg->jwt_secret && cfg->jwt_secret_len < JWT_MIN_KEY)
    return fail(err, errcap, "JWT_SECRET is %zu bytes; at least %d are "
                "required (openssl rand -hex 32)", cfg->jwt_secret_len,
                JWT_MIN_KEY);

  if(get_secret("JWT_SECRET_PREVIOUS", &cfg->jwt_previous,
                &cfg->jwt_previous_len, err, errcap))
    return -1;
  if(cfg->jwt_previous && cfg->jwt_previous_len < JWT_MIN_KEY)
    return fail(err, errcap, "JWT_SECRET_PREVIOUS is %zu bytes; at least %d "
                "are required", cfg->jwt_previous_len, JWT_MIN_KEY);
  return get_duration("JWT_TTL", 86400, &cfg->jwt_ttl, err, errcap);
}

static int get_email(struct config *cfg, char *err, size_t errcap)
{
  const char *tls = env("EMAIL_TLS");
  int64_t port;

  if(!tls || !strcasecmp(tls, "starttls"))
    cfg->email_tls = EMAIL_TLS_STARTTLS;
  else if(!strcasecmp(tls, "tls"))
    cfg->email_tls = EMAIL_TLS_TLS;
  else if(!strcasecmp(tls, "none"))
    cfg->email_tls = EMAIL_TLS_NONE;
  else
    return fail(err, errcap, "EMAIL_TLS must be starttls, tls or none, not "
                "\"%.20s\"", tls);

  if(get_str("EMAIL_HOST", &cfg->email_host, err, errcap) ||
     get_int("EMAIL_PORT", 1, 65535, 587, &port, err, errcap) ||
     get_str("EMAIL_USER", &cfg->email_user, err, errcap) ||
     get_str("EMAIL_PASS", &cfg->email_pass, err, errcap) ||
     get_str("EMAIL_FROM", &cfg->email_from, err, errcap))
    return -1;
  cfg->email_port = (int)port;
  if(!cfg->email_from) {
    cfg->email_from = strdup("Trackly <trackly@localhost>");
    if(!cfg->email_from)
      return fail(err, errcap, "out of memory");
  }
  return 0;
}

/* The bounds on accounts (issue 12): which addresses registration takes,
 * and how long an unverified account holds its address.  The grace before
 * a new registration may replace an unverified account is within its
 * lifetime, or the monitor's purge would make the grace meaningless. */
static int get_accounts(struct config *cfg, char *err, size_t errcap)
{
  if(get_bool("EMAIL_ALLOW_LOCAL_DOMAINS", false,
              &cfg->email_allow_local_domains, err, errcap) ||
     get_int("UNVERIFIED_ACCOUNT_DAYS", 1, 3650, 7,
             &cfg->unverified_account_days, err, errcap) ||
     get_int("UNVERIFIED_REPLACE_HOURS", 1, 3650 * 24, 24,
             &cfg->unverified_replace_hours, err, errcap))
    return -1;
  if(cfg->unverified_replace_hours > cfg->unverified_account_days * 24)
    return fail(err, errcap, "UNVERIFIED_REPLACE_HOURS (%lld) must be at "
                "most UNVERIFIED_ACCOUNT_DAYS x 24 (%lld)",
                (long long)cfg->unverified_replace_hours,
                (long long)cfg->unverified_account_days * 24);
  return 0;
}

/* Overwrites the value of the environment variable name where it lies and
 * removes the variable: for a variable the process was started with, that
 * memory is also what /proc/PID/environ shows. */
static void wipe_env(const char *name)
{
  char *v = getenv(name);

  if(v) {
    explicit_bzero(v, strlen(v));
    unsetenv(name);
  }
}

int config_default_workers(long cpus)
{
  if(cpus < 2)
    return 2;
  return cpus > 256 ? 256 : (int)cpus;
}

int config_load(struct config *cfg, unsigned need, char *err, size_t errcap)
{
  const char *fmt;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t n;

  memset(cfg, 0, sizeof(*cfg));
  err[0] = '\0';

  if(get_str("DB_URL", &cfg->db_url, err, errcap))
    goto fail;
  if(!cfg->db_url && (need & CONFIG_NEED_DB)) {
    fail(err, errcap, "DB_URL is required (a libpq connection string, e.g. "
         "postgresql://trackly@localhost/trackly)");
    goto fail;
  }
  if(need & CONFIG_NO_JWT) {
    wipe_env("JWT_SECRET");
    wipe_env("JWT_SECRET_PREVIOUS");
    wipe_env("JWT_SECRET_FILE");
  }
  else if(get_jwt(cfg, need, err, errcap))
    goto fail;
  if(get_public_url(cfg, err, errcap) ||
     get_origins(cfg, err, errcap) ||
     get_email(cfg, err, errcap) ||
     get_networks(cfg, err, errcap))
    goto fail;

  if(get_int("API_WORKERS", 1, 256, config_default_workers(cpus), &n,
             err, errcap))
    goto fail;
  cfg->api_workers = (int)n;
  if(get_int("API_HASHING_SLOTS", 0, 256, 0, &n, err, errcap))
    goto fail;
  cfg->api_hashing_slots = (int)n;
  if(get_int("API_REGISTRATIONS_PER_MINUTE", 1, 1000000, 60, &n, err,
             errcap))
    goto fail;
  cfg->api_registrations_per_minute = (int)n;
  if(get_int("API_HUNG_WORKER_SECONDS", 2, 3600, 30, &n, err, errcap))
    goto fail;
  cfg->api_hung_worker_seconds = (int)n;
  if(get_int("MONITOR_CONCURRENCY", 1, 10000, 256, &n, err, errcap))
    goto fail;
  cfg->monitor_concurrency = (int)n;
  if(get_int("MAX_PROJECTS_PER_USER", 1, 1000000, 100,
             &cfg->max_projects_per_user, err, errcap) ||
     get_int("MONITOR_MIN_INTERVAL", 1, 86400, 60,
             &cfg->monitor_min_interval, err, errcap) ||
     get_bool("TRACKLY_ALLOW_PRIVATE_TARGETS", false,
              &cfg->allow_private_targets, err, errcap) ||
     get_int("CHECK_RETENTION_DAYS", 1, 36500, 7,
             &cfg->check_retention_days, err, errcap) ||
     get_int("ALERT_REMINDER_MINUTES", 0, 525600, 0,
             &cfg->alert_reminder_minutes, err, errcap) ||
     get_int("ALERT_MAIL_PER_HOUR", 0, 10000, 10,
             &cfg->alert_mail_per_hour, err, errcap) ||
     get_int("ALERT_FLAP_TRANSITIONS", 0, 100, 3,
             &cfg->alert_flap_transitions, err, errcap) ||
     get_int("ALERT_FLAP_QUIET_MINUTES", 1, 1440, 30,
             &cfg->alert_flap_quiet_minutes, err, errcap) ||
     get_accounts(cfg, err, errcap))
    goto fail;

  fmt = env("LOG_FORMAT");
  if(!fmt || !strcmp(fmt, "text"))
    cfg->log_format = LOG_FORMAT_TEXT;
  else if(!strcmp(fmt, "json"))
    cfg->log_format = LOG_FORMAT_JSON;
  else {
    fail(err, errcap, "LOG_FORMAT must be text or json, not \"%.20s\"", fmt);
    goto fail;
  }
  return 0;

fail:
  config_cleanup(cfg);
  return -1;
}

static void free_secret(unsigned char *p, size_t len)
{
  if(p) {
    explicit_bzero(p, len);
    free(p);
  }
}

void config_cleanup(struct config *cfg)
{
  free(cfg->db_url);
  free_secret(cfg->jwt_secret, cfg->jwt_secret_len);
  free_secret(cfg->jwt_previous, cfg->jwt_previous_len);
  free(cfg->public_url);
  for(size_t i = 0; i < cfg->cors_count; i++)
    free(cfg->cors_origins[i]);
  free(cfg->email_host);
  free(cfg->email_user);
  if(cfg->email_pass)
    free_secret((unsigned char *)cfg->email_pass, strlen(cfg->email_pass));
  free(cfg->email_from);
  memset(cfg, 0, sizeof(*cfg));
}

bool config_origin_allowed(const struct config *cfg, const char *origin)
{
  if(!origin || !*origin)
    return false;
  if(cfg->cors_any)
    return true;
  for(size_t i = 0; i < cfg->cors_count; i++)
    if(!strcmp(cfg->cors_origins[i], origin))
      return true;
  return false;
}
