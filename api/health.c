/*
 * health.c - GET /healthcheck: is this worker able to reach the database?
 *
 * Load balancers and the tests poll it; it answers 503 (still JSON) while
 * the database is away, so a health check sees the outage the users see.
 */
#include "handlers.h"
#include "metrics.h"

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
    metrics_db_error(metrics_shared, dr == DB_UNAVAILABLE ?
                     METRICS_DB_UNAVAILABLE : METRICS_DB_ERROR);
    cJSON_AddStringToObject(out, "status", "error");
    cJSON_AddStringToObject(out, "database", "unavailable");
    cJSON_AddStringToObject(out, "error", "database unavailable");
    rc = reply_json(req, 503, out);
  }
  cJSON_Delete(out);
  return rc;
}
