/*
 * config.h - Trackly's configuration, read from the environment (DESIGN §5).
 *
 * Both programs call config_load once at start and again on SIGHUP; every
 * value is validated there, so the rest of the code can trust it.  A bad
 * value stops the program with one line naming the variable.
 *
 * Memory: config_load fills a caller-owned struct config; config_cleanup
 * frees what it allocated and wipes the secrets.
 */
#ifndef TRACKLY_CONFIG_H
#define TRACKLY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "netaddr.h"

#define CONFIG_MAX_ORIGINS 32
#define CONFIG_MAX_NETWORKS 32
#define CONFIG_ERR_MAX 256
/* Secrets, paths and URLs longer than this are certainly mistakes. */
#define CONFIG_VALUE_MAX 4096

/* EMAIL_TLS: starttls = STARTTLS whenever the server offers it; tls = TLS
 * is required (STARTTLS or no mail); none = plain text. */
enum email_tls { EMAIL_TLS_STARTTLS, EMAIL_TLS_TLS, EMAIL_TLS_NONE };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* What a program requires; optional values always get their defaults. */
enum config_need {
  CONFIG_NEED_DB = 1 << 0,       /* DB_URL */
  CONFIG_NEED_JWT = 1 << 1,      /* JWT_SECRET or JWT_SECRET_FILE */
  /* The program never signs or verifies a token (the monitor): the JWT_*
   * settings are not read, and the secrets' values are wiped from the
   * environment, so a single shared file can hold them for the API. */
  CONFIG_NO_JWT = 1 << 2,
};

struct config {
  char *db_url;
  unsigned char *jwt_secret;     /* raw bytes of the key */
  size_t jwt_secret_len;
  unsigned char *jwt_previous;   /* NULL unless JWT_SECRET_PREVIOUS is set */
  size_t jwt_previous_len;
  int64_t jwt_ttl;               /* seconds, default 86400 */

  char *public_url;              /* no trailing slash */
  char *cors_origins[CONFIG_MAX_ORIGINS];
  size_t cors_count;
  bool cors_any;                 /* CORS_ORIGINS=* */

  int api_workers;               /* default: config_default_workers */
  int api_hashing_slots;         /* 0 (default): API_WORKERS - 1, >= 1 */
  int api_registrations_per_minute; /* default 60, per API host */
  int api_hung_worker_seconds;   /* default 30 */
  int64_t max_projects_per_user; /* default 100 */
  bool email_allow_local_domains;/* a@localhost, a@127.0.0.1: default no */
  int64_t unverified_account_days; /* deleted after, default 7 */
  int64_t unverified_replace_hours;/* replaceable after, default 24 */

  int monitor_concurrency;       /* default 256 */
  int64_t monitor_min_interval;  /* seconds, default 60 */
  bool allow_private_targets;
  struct netaddr_cidr allowed_networks[CONFIG_MAX_NETWORKS];
  size_t allowed_count;          /* TRACKLY_ALLOWED_NETWORKS */
  int64_t check_retention_days;  /* default 30 */
  int64_t alert_reminder_minutes;/* 0 = off */
  int64_t alert_mail_per_hour;   /* per recipient, rolling hour; 0 = no cap */
  int64_t alert_flap_transitions;/* incidents in an hour = flapping; 0 = off */
  int64_t alert_flap_quiet_minutes; /* stable this long ends flapping */

  char *email_host;              /* NULL: no mail server configured */
  int email_port;                /* default 587 */
  char *email_user;
  char *email_pass;
  char *email_from;
  enum email_tls email_tls;

  enum log_format log_format;
};

/* Reads the environment into *cfg.  Returns 0, or -1 with one line naming
 * the offending variable in err (cfg is then cleaned up already). */
int config_load(struct config *cfg, unsigned need, char *err, size_t errcap);

void config_cleanup(struct config *cfg);

/* API_WORKERS when unset, for a machine with cpus online CPUs (or -1 when
 * unknown): one worker per CPU, at least 2 so a worker hashing a password
 * never holds up every other request, at most 256.  More workers than CPUs
 * bought nothing on a 2-CPU machine once nginx keeps its connections
 * (bench/results-api.md, docs/operations.md "Scaling out"). */
int config_default_workers(long cpus);

/* Loads env_file (when not NULL) into the environment, then the
 * configuration into *cfg: what a program does at start and the API's
 * master again on SIGHUP.  Returns 0, or -1 with one line in err and
 * nothing in cfg to clean up. */
int config_load_with_env(struct config *cfg, const char *env_file,
                         unsigned need, char *err, size_t errcap);

/* The start of every program's main(): config_load_with_env, then starts
 * the log (program is its identifier) in the configured format.  On
 * failure prints "program: reason" to stderr and returns -1, cfg clean;
 * 0 otherwise. */
int config_startup(struct config *cfg, const char *program,
                   const char *env_file, unsigned need);

/* Prints "program VERSION (schema version N)" to stdout, for --version. */
void config_print_version(const char *program);

/* Loads KEY=VALUE lines from path into the environment, replacing what is
 * there, as systemd's EnvironmentFile= does; called again on SIGHUP, so an
 * edited file takes effect on reload.  Blank lines and lines starting with
 * '#' are skipped; an "export " prefix is allowed; values may be wrapped in
 * single or double quotes.  Returns 0, or -1 with a message in err. */
int config_load_env_file(const char *path, char *err, size_t errcap);

/* True when origin (exactly as the browser sent it) may use the API. */
bool config_origin_allowed(const struct config *cfg, const char *origin);

#endif
