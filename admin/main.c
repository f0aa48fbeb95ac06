/*
 * main.c - trackly-admin: the operator's commands (docs/operations.md).
 *
 *   schema apply|check, user create|verify, monitor lag, mail test
 *
 * It reads the same configuration as the programs (the environment, after
 * an optional --env-file, DB_URL required) and talks to the database with
 * parameterised statements through common/db.c, except for `schema apply`,
 * which must run before any Trackly schema exists and so sends schema.sql
 * as one script on a plain connection.
 *
 * Exit codes (also in trackly-admin(8)): 0 done; 1 failed (configuration,
 * database, no such user, user exists, ...); 2 bad command line; 3 the
 * database schema is missing or of another version, or `monitor lag
 * --max` was exceeded: "the system is not in the state asked for".
 *
 * This file holds the command line, the table of commands, the statements
 * and monitor lag; admin.h names the other files.
 */
#include "admin.h"
#include "parse.h"
#include "trackly_build.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATEMENT_TIMEOUT_MS 30000

static const struct db_statement admin_statements[] = {
  {"user_create",
   "INSERT INTO users (email, password_hash, email_verified)"
   " VALUES ($1, $2, $3::boolean) RETURNING id"},
  {"user_verify",
   "UPDATE users SET email_verified = true, verify_token_hash = NULL,"
   "   verify_expires_at = NULL, updated_at = now()"
   " WHERE lower(email) = lower($1) RETURNING id"},
  /* Lateness of due work as the scheduler sees it: an unpaused project
   * whose next_check_at has passed is waiting for a monitor. */
  {"monitor_lag",
   "SELECT count(*) FILTER (WHERE NOT paused),"
   "  count(*) FILTER (WHERE NOT paused AND next_check_at < now()),"
   "  coalesce(round(extract(epoch FROM max(now() - next_check_at)"
   "    FILTER (WHERE NOT paused AND next_check_at < now()))::numeric, 1),"
   "    0)::text,"
   "  count(*) FILTER (WHERE lease_expires_at > now())"
   " FROM projects"},
  {"mail_test",
   "INSERT INTO mail_outbox (kind, recipient) VALUES ('test', $1)"
   " RETURNING id"},
  {NULL, NULL},
};

static const struct db_statement *const admin_lists[] = {
  admin_statements,
  NULL,
};

/* ---------------------------------------------------------------------- */

int open_db(struct db *db, const struct config *cfg)
{
  char err[CONFIG_ERR_MAX];
  enum db_result rc = db_check_startup(cfg->db_url, err, sizeof(err));

  if(rc != DB_OK) {
    fprintf(stderr, "trackly-admin: %s\n", err);
    if(rc == DB_ERROR)
      fputs("trackly-admin: run `trackly-admin schema apply` first\n",
            stderr);
    return rc == DB_ERROR ? EXIT_STATE : EXIT_FAILURE;
  }
  db_init(db, cfg->db_url, "trackly-admin", STATEMENT_TIMEOUT_MS,
          admin_lists);
  if(db_ensure(db) != DB_OK) {
    fputs("trackly-admin: the database is unavailable\n", stderr);
    db_close(db);
    return EXIT_FAILURE;
  }
  return 0;
}

/* ---------------------------------------------------------------------- */


static int monitor_lag(struct config *cfg, const struct args *a)
{
  PGresult *res = NULL;
  struct db db;
  int64_t overdue_max = 0;
  double lateness;
  int rc;

  if((rc = open_db(&db, cfg)))
    return rc;
  rc = EXIT_FAILURE;
  if(db_exec(&db, "monitor_lag", 0, NULL, &res) != DB_OK) {
    fputs("trackly-admin: could not read the schedule\n", stderr);
    goto out;
  }
  printf("active projects: %s\n"
         "overdue now:     %s\n"
         "max lateness:    %s s\n"
         "leases held:     %s\n",
         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
         PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
  /* Whole seconds are enough for an alert threshold: "12.3" is 12. */
  if(!parse_double(PQgetvalue(res, 0, 2), &lateness) || lateness < 0 ||
     lateness >= 9.2e18) {
    fprintf(stderr, "trackly-admin: unexpected max lateness \"%s\"\n",
            PQgetvalue(res, 0, 2));
    goto out;
  }
  overdue_max = (int64_t)lateness;
  rc = 0;
  if(a->max_lag >= 0 && overdue_max > a->max_lag) {
    fprintf(stderr, "trackly-admin: checks are %lld s late, more than "
            "--max %lld\n", (long long)overdue_max, (long long)a->max_lag);
    rc = EXIT_STATE;
  }
out:
  PQclear(res);
  db_close(&db);
  return rc;
}

/* ---------------------------------------------------------------------- */

static const struct command commands[] = {
  {"schema", "apply", ",file,", false, schema_apply,
   "Usage: trackly-admin schema apply [--file FILE]\n"
   "Applies schema.sql (default " TRACKLY_SCHEMA_PATH ") in one\n"
   "transaction, then checks the schema version.  Safe to run again.\n"
   "\n"
   "  -f, --file FILE   apply FILE instead\n"},
  {"schema", "check", ",", false, schema_check,
   "Usage: trackly-admin schema check\n"
   "Exits 0 when the database holds the schema version this build needs,\n"
   "3 when the schema is missing or of another version, 1 when the\n"
   "database cannot be reached.\n"},
  {"user", "create", ",verified,", true, user_create,
   "Usage: trackly-admin user create [--verified] EMAIL\n"
   "Creates a user.  The password is read from the first line of stdin,\n"
   "or asked twice with echo off when stdin is a terminal; never give it\n"
   "on the command line.\n"
   "\n"
   "      --verified    mark the email address verified, so the user can\n"
   "                    log in at once\n"},
  {"user", "verify", ",", true, user_verify,
   "Usage: trackly-admin user verify EMAIL\n"
   "Marks the user's email address verified, as the link in the\n"
   "verification mail does.\n"},
  {"monitor", "lag", ",max,", false, monitor_lag,
   "Usage: trackly-admin monitor lag [--max SECONDS]\n"
   "Shows how many active projects are past their next check time, how\n"
   "late the latest is, and how many leases monitors hold now.\n"
   "\n"
   "  -m, --max SECONDS  exit 3 when a check is more than SECONDS late\n"},
  {"mail", "test", ",", true, mail_test,
   "Usage: trackly-admin mail test EMAIL\n"
   "Queues a test message to EMAIL in the outbox; trackly-monitor's\n"
   "mailer sends it like any alert.\n"},
};

static void usage(FILE *out)
{
  fputs(
"Usage: trackly-admin [--env-file FILE] COMMAND [OPTION]... [ARG]\n"
"Operator commands for Trackly.\n"
"\n"
"  schema apply [--file FILE]      create or update the database schema\n"
"  schema check                    check the schema version\n"
"  user create [--verified] EMAIL  create a user (password on stdin)\n"
"  user verify EMAIL               mark a user's email verified\n"
"  monitor lag [--max SECONDS]     show how late due checks are\n"
"  mail test EMAIL                 queue a test mail\n"
"\n"
"  -e, --env-file FILE   read NAME=value settings from FILE first\n"
"  -h, --help            show this help (or a command's, after it) and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"DB_URL (from the environment or FILE) names the database.  Exit status:\n"
"0 done, 1 failed, 2 bad command line, 3 schema missing or of another\n"
"version (or lag over --max).  See trackly-admin(8).\n",
    out);
}

static const struct command *find_command(const char *group,
                                          const char *name)
{
  size_t i;

  for(i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if(name && !strcmp(commands[i].group, group) &&
       !strcmp(commands[i].name, name))
      return &commands[i];
  return NULL;
}

static bool accepts(const struct command *cmd, const char *opt)
{
  char key[32];

  snprintf(key, sizeof(key), ",%s,", opt);
  return strstr(cmd->options, key) != NULL;
}

/* Parses a command's own options and operand (argv[0] is its name).
 * Returns true to run the command; false when the program is to exit now
 * (--help, or a usage error already printed) with *status. */
static bool parse_args(const struct command *cmd, int argc, char **argv,
                       struct args *a, int *status)
{
  static const struct option longopts[] = {
    {"file", required_argument, NULL, 'f'},
    {"verified", no_argument, NULL, 'v'},
    {"max", required_argument, NULL, 'm'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c, idx = -1;

  optind = 0;   /* glibc: start over on the new argv */
  opterr = 0;   /* its messages would name argv[0], the command's name */
  while((c = getopt_long(argc, argv, "f:m:h", longopts, &idx)) != -1) {
    const char *name = c == 'f' ? "file" : c == 'v' ? "verified" :
                       c == 'm' ? "max" : NULL;
    if(c == 'h') {
      fputs(cmd->help, stdout);
      *status = 0;
      return false;
    }
    if(!name || !accepts(cmd, name)) {
      if(name)
        fprintf(stderr, "trackly-admin: %s %s takes no --%s\n", cmd->group,
                cmd->name, name);
      else
        fprintf(stderr, "trackly-admin: %s %s: bad option '%s'\n",
                cmd->group, cmd->name, argv[optind - 1]);
      fputs(cmd->help, stderr);
      goto usage;
    }
    if(c == 'f')
      a->file = optarg;
    else if(c == 'v')
      a->verified = true;
    else if(!parse_int(optarg, 0, 1000000000, &a->max_lag)) {
      fprintf(stderr, "trackly-admin: --max wants whole seconds, not '%s'\n",
              optarg);
      goto usage;
    }
  }
  if(cmd->takes_email && optind < argc)
    a->operand = argv[optind++];
  if(cmd->takes_email && !a->operand) {
    fprintf(stderr, "trackly-admin: %s %s needs an email address\n",
            cmd->group, cmd->name);
    fputs(cmd->help, stderr);
    goto usage;
  }
  if(optind < argc) {
    fprintf(stderr, "trackly-admin: unexpected argument '%s'\n",
            argv[optind]);
    goto usage;
  }
  return true;
usage:
  *status = EXIT_USAGE;
  return false;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"env-file", required_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  const struct command *cmd;
  struct args a = {NULL, NULL, false, -1};
  struct config cfg;
  const char *env_file = NULL;
  int c, rc;

  while((c = getopt_long(argc, argv, "+e:hV", longopts, NULL)) != -1) {
    switch(c) {
    case 'e':
      env_file = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      config_print_version("trackly-admin");
      return 0;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if(optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  cmd = find_command(argv[optind], optind + 1 < argc ? argv[optind + 1]
                                                     : NULL);
  if(!cmd) {
    fprintf(stderr, "trackly-admin: unknown command '%s%s%s'\n",
            argv[optind], optind + 1 < argc ? " " : "",
            optind + 1 < argc ? argv[optind + 1] : "");
    usage(stderr);
    return EXIT_USAGE;
  }
  if(!parse_args(cmd, argc - optind - 1, argv + optind + 1, &a, &rc))
    return rc;

  if(config_startup(&cfg, "trackly-admin", env_file, CONFIG_NEED_DB))
    return EXIT_FAILURE;
  rc = cmd->run(&cfg, &a);
  config_cleanup(&cfg);
  return rc;
}

