/*
 * master.h - the API's master process: keeps N workers alive on one
 * listening socket, replaces them on SIGHUP, drains them on SIGTERM.
 */
#ifndef TRACKLY_MASTER_H
#define TRACKLY_MASTER_H

#include "config.h"

struct master_options {
  int listen_fd;
  const char *env_file;   /* re-read on SIGHUP; NULL when none */
  int workers;            /* --workers, or 0 to use API_WORKERS */
};

/* Runs until SIGTERM or SIGINT and every worker has exited (forcibly after
 * 10 s).  cfg is the configuration loaded at start; on SIGHUP it is
 * replaced by a fresh load (and left alone when that fails).  Returns the
 * process exit status. */
int master_run(const struct master_options *opt, struct config *cfg);

#endif
