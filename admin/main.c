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
 * Passwords are never taken from the command line, where any local user can
 * read them in /proc: they come from stdin, or from a prompt with echo off.
 */
#include "config.h"
#include "db.h"
#include "log.h"
#include "parse.h"
#include "password.h"
#include "validate.h"
#include "trackly_build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_STATE 3
#define SCHEMA_FILE_MAX (1024 * 1024)
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

/* What a subcommand was given on its command line. */
struct args {
  const char *operand;     /* EMAIL, when the command takes one */
  const char *file;        /* schema apply --file */
  bool verified;           /* user create --verified */
  int64_t max_lag;         /* monitor lag --max SECONDS; -1: none */
};

struct command {
  const char *group;
  const char *name;
  const char *options;     /* long options it accepts, ",name," list */
  bool takes_email;
  int (*run)(struct config *cfg, const struct args *a);
  const char *help;
};

/* ---------------------------------------------------------------------- */

static int open_db(struct db *db, const struct config *cfg)
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

/* Reads at most cap bytes of path into a fresh NUL-terminated buffer. */
static char *read_file(const char *path, size_t cap)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *buf = NULL;
  size_t len = 0;
  ssize_t n = 0;
  int err;

  if(fd < 0)
    return NULL;
  buf = malloc(cap + 1);
  while(buf && len <= cap) {
    n = read(fd, buf + len, cap + 1 - len);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      break;
    len += (size_t)n;
  }
  err = n < 0 ? errno : EFBIG;
  close(fd);
  if(buf && (n < 0 || len > cap)) {   /* a read error, or too big */
    free(buf);
    errno = err;
    return NULL;
  }
  if(buf)
    buf[len] = '\0';
  return buf;
}

/* schema.sql is one transaction of plain SQL (no psql meta-commands), so
 * it goes to the server as one simple-protocol script: all or nothing. */
static int schema_apply(struct config *cfg, const struct args *a)
{
  const char *path = a->file ? a->file : TRACKLY_SCHEMA_PATH;
  const char *keys[] = {"dbname", "application_name", NULL};
  const char *values[] = {cfg->db_url, "trackly-admin", NULL};
  char err[CONFIG_ERR_MAX];
  char *sql = read_file(path, SCHEMA_FILE_MAX);
  PGconn *conn;
  PGresult *res;
  int rc = EXIT_FAILURE;

  if(!sql) {
    fprintf(stderr, "trackly-admin: cannot read %s: %s\n", path,
            strerror(errno));
    return EXIT_FAILURE;
  }
  conn = PQconnectdbParams(keys, values, 1);
  if(PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "trackly-admin: cannot connect to the database: %s",
            PQerrorMessage(conn));
    goto out;
  }
  res = PQexec(conn, sql);
  if(PQresultStatus(res) != PGRES_COMMAND_OK &&
     PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "trackly-admin: %s did not apply: %s", path,
            PQresultErrorMessage(res));
    PQclear(res);
    goto out;
  }
  PQclear(res);
  if(db_check_startup(cfg->db_url, err, sizeof(err)) != DB_OK) {
    fprintf(stderr, "trackly-admin: %s applied, but %s\n", path, err);
    rc = EXIT_STATE;
    goto out;
  }
  printf("schema applied from %s; the database is at version %d\n", path,
         TRACKLY_SCHEMA_VERSION);
  rc = 0;
out:
  PQfinish(conn);
  free(sql);
  return rc;
}

static int schema_check(struct config *cfg, const struct args *a)
{
  char err[CONFIG_ERR_MAX];
  enum db_result rc = db_check_startup(cfg->db_url, err, sizeof(err));

  (void)a;
  if(rc != DB_OK) {
    fprintf(stderr, "trackly-admin: %s\n", err);
    return rc == DB_ERROR ? EXIT_STATE : EXIT_FAILURE;
  }
  printf("schema version %d, as this build needs\n", TRACKLY_SCHEMA_VERSION);
  return 0;
}

/* ---------------------------------------------------------------------- */

static struct termios saved_tty;

/* Ctrl-C at the prompt must not leave the terminal without echo. */
static void restore_tty(int sig)
{
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Reads one line from stdin, byte by byte so no copy of the password is
 * left in a stdio buffer.  Returns its length without the line end, or -1
 * when there is no line or it is longer than cap - 1 bytes. */
static ssize_t read_line(char *buf, size_t cap)
{
  size_t len = 0;
  char c;
  ssize_t n;

  for(;;) {
    n = read(STDIN_FILENO, &c, 1);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0 || c == '\n')
      break;
    if(len + 1 >= cap)
      return -1;
    buf[len++] = c;
  }
  if(n <= 0 && len == 0)
    return -1;
  if(len && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';
  return (ssize_t)len;
}

static ssize_t prompt(const char *text, char *buf, size_t cap)
{
  struct termios quiet;
  ssize_t len;

  fputs(text, stderr);
  fflush(stderr);
  quiet = saved_tty;
  quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  len = read_line(buf, cap);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
  fputc('\n', stderr);
  return len;
}

/* The new user's password: asked twice at a terminal, otherwise the first
 * line of stdin.  Returns its length, or -1 after saying what is wrong. */
static ssize_t read_password(char *pw, size_t cap)
{
  char again[PASSWORD_MAX + 2];
  ssize_t len, len2;

  if(tcgetattr(STDIN_FILENO, &saved_tty)) {
    len = read_line(pw, cap);
    if(len < 0)
      fputs("trackly-admin: no password on stdin (one line, at most "
            "1024 bytes)\n", stderr);
  }
  else {
    signal(SIGINT, restore_tty);
    signal(SIGTERM, restore_tty);
    len = prompt("Password: ", pw, cap);
    len2 = len < 0 ? -1 : prompt("Password again: ", again, sizeof(again));
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if(len < 0 || len2 != len || memcmp(pw, again, (size_t)len)) {
      fputs("trackly-admin: the passwords do not match\n", stderr);
      len = -1;
    }
    explicit_bzero(again, sizeof(again));
  }
  if(len >= 0 && !password_length_valid((size_t)len)) {
    fprintf(stderr, "trackly-admin: the password must be %d to %d bytes\n",
            PASSWORD_MIN, PASSWORD_MAX);
    len = -1;
  }
  return len;
}

/* Trims the address and checks it as the API does.  Returns it, copied
 * into buf, or NULL after saying why not. */
static const char *email_arg(const char *arg, char *buf, size_t cap)
{
  size_t len = strlen(arg);
  const char *s = trim_space(arg, &len);

  if(!email_valid(s, len) || len >= cap) {
    fprintf(stderr, "trackly-admin: '%s' is not a valid email address\n",
            arg);
    return NULL;
  }
  memcpy(buf, s, len);
  buf[len] = '\0';
  return buf;
}

static int user_create(struct config *cfg, const struct args *a)
{
  char email[EMAIL_MAX + 1];
  char pw[PASSWORD_MAX + 2];
  char hash[PASSWORD_ENCODED_MAX];
  const char *params[3];
  PGresult *res = NULL;
  struct db db;
  ssize_t len;
  enum db_result result;
  int rc;

  if(!email_arg(a->operand, email, sizeof(email)))
    return EXIT_FAILURE;
  len = read_password(pw, sizeof(pw));
  rc = len < 0 ? -1 : password_hash(pw, (size_t)len, hash, sizeof(hash));
  explicit_bzero(pw, sizeof(pw));
  if(rc) {
    if(len >= 0)
      fputs("trackly-admin: cannot hash the password\n", stderr);
    return EXIT_FAILURE;
  }
  if((rc = open_db(&db, cfg)))
    return rc;
  params[0] = email;
  params[1] = hash;
  params[2] = a->verified ? "true" : "false";
  result = db_exec(&db, "user_create", 3, params, &res);
  if(result == DB_OK) {
    printf("created user %s (id %s)%s\n", email, PQgetvalue(res, 0, 0),
           a->verified ? ", email verified" :
           "; email not verified yet");
    rc = 0;
  }
  else {
    fprintf(stderr, "trackly-admin: %s\n", result == DB_CONFLICT ?
            "a user with that email address exists already" :
            "could not create the user");
    rc = EXIT_FAILURE;
  }
  PQclear(res);
  explicit_bzero(hash, sizeof(hash));
  db_close(&db);
  return rc;
}

/* The commands about one address (user verify, mail test): runs statement
 * with the email operand as its one parameter and lets report() say what
 * came of it (its return is the exit code); when the statement fails,
 * prints "trackly-admin: " failure instead.  Returns the exit code. */
static int run_for_email(struct config *cfg, const struct args *a,
                         const char *statement, const char *failure,
                         int (*report)(const PGresult *res, const char *email))
{
  char email[EMAIL_MAX + 1];
  const char *params[1];
  PGresult *res = NULL;
  struct db db;
  int rc;

  if(!email_arg(a->operand, email, sizeof(email)))
    return EXIT_FAILURE;
  if((rc = open_db(&db, cfg)))
    return rc;
  params[0] = email;
  if(db_exec(&db, statement, 1, params, &res) == DB_OK)
    rc = report(res, email);
  else {
    fprintf(stderr, "trackly-admin: %s\n", failure);
    rc = EXIT_FAILURE;
  }
  PQclear(res);
  db_close(&db);
  return rc;
}

static int verified(const PGresult *res, const char *email)
{
  if(PQntuples(res) == 0) {
    fprintf(stderr, "trackly-admin: no user %s\n", email);
    return EXIT_FAILURE;
  }
  printf("verified %s (id %s)\n", email, PQgetvalue(res, 0, 0));
  return 0;
}

static int user_verify(struct config *cfg, const struct args *a)
{
  return run_for_email(cfg, a, "user_verify", "could not verify the user",
                       verified);
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

static int mail_queued(const PGresult *res, const char *email)
{
  printf("queued test mail %s to %s; trackly-monitor's mailer sends it "
         "within seconds if EMAIL_HOST is set (a failure shows in "
         "mail_outbox.last_error and the monitor's log)\n",
         PQgetvalue(res, 0, 0), email);
  return 0;
}

static int mail_test(struct config *cfg, const struct args *a)
{
  return run_for_email(cfg, a, "mail_test", "could not queue the mail",
                       mail_queued);
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
