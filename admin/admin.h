/*
 * admin.h - what trackly-admin's commands share: their arguments, the exit
 * codes, and the database connection each opens.  One file per group of
 * commands: schema.c (schema apply|check), users.c (user create|verify,
 * mail test: the commands about one address), main.c (the command line,
 * monitor lag).
 */
#ifndef TRACKLY_ADMIN_H
#define TRACKLY_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"

/* Exit codes (trackly-admin(8)); 0 done, 1 (EXIT_FAILURE) failed. */
#define EXIT_USAGE 2
#define EXIT_STATE 3

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


/* Checks the schema and connects with the admin statements prepared.
 * Returns 0, or the exit code after saying why not. */
int open_db(struct db *db, const struct config *cfg);

int schema_apply(struct config *cfg, const struct args *a);
int schema_check(struct config *cfg, const struct args *a);
int user_create(struct config *cfg, const struct args *a);
int user_verify(struct config *cfg, const struct args *a);
int mail_test(struct config *cfg, const struct args *a);

#endif
