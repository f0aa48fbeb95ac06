/*
 * health.c - what operators poll: GET /healthcheck (is this worker able to
 * reach the database?) and GET /metrics (the pool's counters).
 *
 * Load balancers and the tests poll /healthcheck; it answers 503 (still
 * JSON) while the database is away, so a health check sees the outage the
 * users see.  /metrics renders metrics.c's shared counters in the
 * Prometheus text format.
 */
#include "handlers.h"
#include "metrics.h"
#include "router.h"

#include <stdlib.h>

const struct db_statement health_statements[] = {
  {"health_ping", "SELECT 1"},
  {NULL, NULL},
};

int health_get(struct request *req)
{
  PGresult *res = NULL;
  enum db_result dr = db_exec(&req->app->db, "health_ping", 0, NULL, &res);
  cJSON *out = cJSON_CreateObject();
  int rc;

  PQclear(res);
  if(!out)
    return 500;
  if(dr == DB_OK) {
    cJSON_AddStringToObject(out, "status", "ok");
    cJSON_AddStringToObject(out, "database", "ok");
    rc = reply_json(req, 200, out);
  }
  else {
    req->db_error = dr == DB_UNAVAILABLE ? DB_UNAVAILABLE : DB_ERROR;
    cJSON_AddStringToObject(out, "status", "error");
    cJSON_AddStringToObject(out, "database", "unavailable");
    cJSON_AddStringToObject(out, "error", "database unavailable");
    rc = reply_json(req, 503, out);
  }
  cJSON_Delete(out);
  return rc;
}

/* Room for every counter of a full route table, with plenty to spare. */
#define METRICS_TEXT_MAX (128 * 1024)

int metrics_get(struct request *req)
{
  struct metrics empty = {0};
  struct dynbuf text;
  size_t nroutes;
  const struct route *routes = router_table(&nroutes);
  int rc = 500;

  dynbuf_init(&text, METRICS_TEXT_MAX);
  if(!metrics_render(metrics_shared ? metrics_shared : &empty, routes,
                     nroutes, &text))
    rc = reply_body(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                    dynbuf_ptr(&text), dynbuf_len(&text));
  dynbuf_free(&text);
  return rc;
}
