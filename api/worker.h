/*
 * worker.h - one API worker process: accept a FastCGI request, answer it,
 * repeat, until told to stop.
 */
#ifndef TRACKLY_WORKER_H
#define TRACKLY_WORKER_H

#include "config.h"

#include <sys/types.h>

/* Runs a worker on the listening socket listen_fd with a copy of cfg.
 * Called in the child right after fork; master is the parent's pid, so the
 * worker can leave if the master dies; slot is the worker's place in the
 * shared pool (pool.h), where it stamps each request.  Never returns. */
void worker_run(int listen_fd, const struct config *cfg, pid_t master,
                int slot) __attribute__((noreturn));

#endif
