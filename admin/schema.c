/*
 * schema.c - trackly-admin schema apply|check: putting schema.sql into the
 * database and saying whether it holds the version this build needs.
 */
#include "admin.h"
#include "trackly_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_FILE_MAX (1024 * 1024)

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
int schema_apply(struct config *cfg, const struct args *a)
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

int schema_check(struct config *cfg, const struct args *a)
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
