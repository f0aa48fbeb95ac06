/*
 * check.h - one check of one project, from claim to result.
 *
 * The scheduler fills the first part from the claimed row, the prober the
 * second, and the results writer reads both.  A check is owned by whoever
 * holds it in a list (scheduler -> prober -> results); check_new makes one
 * and check_free releases it and everything it points to (check.c).  The
 * prober's easy handle is not the check's: the prober cleans it up before
 * it hands the check on.
 */
#ifndef TRACKLY_CHECK_H
#define TRACKLY_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>

#include "state.h"
#include "validate.h"

#define CHECK_BODY_MAX (64 * 1024)
#define CHECK_ERROR_MAX 96

struct check {
  struct check *next;             /* in whatever list holds it */
  struct check *fly_prev, *fly_next;  /* the prober's in-flight list */

  /* From the claim. */
  int64_t project_id;
  int64_t user_id;                /* the owner, for the fair share */
  char *link;
  char *keyword;                  /* NULL: none */
  struct status_ranges expect;
  long timeout_ms;
  int64_t interval_ms;
  int64_t scheduled_ms;           /* the grid slot being checked */
  char scheduled_text[48];        /* the same, exactly as Postgres has it */
  struct project_state state;
  int failure_threshold, recovery_threshold;
  int64_t last_alert_ms;          /* 0: never */

  /* The probe. */
  CURL *easy;
  const void *easy_owner;         /* the prober, for the socket callback */
  long os_errno;                  /* errno of a failed connect */
  char *body;                     /* only kept when there is a keyword */
  size_t body_len;
  size_t received;
  bool body_capped;               /* stopped reading at CHECK_BODY_MAX */
  bool blocked;                   /* the address guard refused a connection */
  bool guarded;                   /* private addresses were refused */
  bool host_is_name;              /* the last URL's host is no address */

  /* The result. */
  bool ok;
  long status_code;               /* 0: no HTTP response */
  long latency_ms;
  int64_t checked_ms;
  char error[CHECK_ERROR_MAX];    /* "" when ok */
};

/* A zeroed check owning copies of link and keyword (NULL or "": no
 * keyword); the caller fills in the rest.  NULL when out of memory. */
struct check *check_new(const char *link, const char *keyword);

/* Releases c (NULL is fine) and the strings and body it owns. */
void check_free(struct check *c);

/* Releases every check of a list linked by next. */
void check_free_list(struct check *list);

#endif
