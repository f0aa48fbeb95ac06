/*
 * users.c - trackly-admin user create|verify and mail test: the commands
 * about one address, and the password prompt.
 *
 * Passwords are never taken from the command line, where any local user can
 * read them in /proc: they come from stdin, or from a prompt with echo off.
 */
#include "admin.h"
#include "password.h"
#include "validate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

int user_create(struct config *cfg, const struct args *a)
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

int user_verify(struct config *cfg, const struct args *a)
{
  return run_for_email(cfg, a, "user_verify", "could not verify the user",
                       verified);
}


static int mail_queued(const PGresult *res, const char *email)
{
  printf("queued test mail %s to %s; trackly-monitor's mailer sends it "
         "within seconds if EMAIL_HOST is set (a failure shows in "
         "mail_outbox.last_error and the monitor's log)\n",
         PQgetvalue(res, 0, 0), email);
  return 0;
}

int mail_test(struct config *cfg, const struct args *a)
{
  return run_for_email(cfg, a, "mail_test", "could not queue the mail",
                       mail_queued);
}
