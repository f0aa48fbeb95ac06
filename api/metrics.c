/*
 * metrics.c - the API's counters and their text form; see metrics.h.
 *
 * Relaxed atomics are enough: each counter only grows, and a scrape needs
 * no consistency between counters (Prometheus tolerates a bucket read a
 * moment before _count).
 */
#include "metrics.h"
#include "promtext.h"
#include "pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct metrics *metrics_shared;

static const int status_codes[METRICS_STATUSES - 1] = {
  200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 414, 422, 429,
  500, 503,
};

/* Request latency in microseconds: 5 ms to 10 s. */
static const struct histogram_bounds latency_bounds = {
  .per_second = 1000000,
  .le = {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
         2500000, 5000000, 10000000},
};

#define ADD(counter, n) \
  atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define GET(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

int metrics_init(void)
{
  void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if(p == MAP_FAILED)
    return -1;
  metrics_shared = p;             /* zero-filled by the kernel */
  return 0;
}

void metrics_request(struct metrics *m, size_t route, int status,
                     uint64_t us)
{
  size_t s = METRICS_STATUSES - 1;

  if(!m)
    return;
  for(size_t i = 0; i < METRICS_STATUSES - 1; i++)
    if(status_codes[i] == status)
      s = i;
  if(route >= METRICS_ROUTES_MAX)
    route = 0;
  ADD(m->requests[route][s], 1);
  histogram_observe(&m->latency_us, &latency_bounds, us);
}

void metrics_db_error(struct metrics *m, enum metrics_db_error kind)
{
  if(m)
    ADD(m->db_errors[kind], 1);
}

/* Route patterns and methods hold no '"', '\\' or newline, so they need
 * no escaping as label values. */
static void render_requests(struct dynbuf *o, struct metrics *m,
                            const struct route *routes, size_t nroutes)
{
  promtext_family(o, "trackly_http_requests_total", "counter",
       "Requests answered, by method, route pattern and status.");
  for(size_t r = 0; r <= nroutes && r < METRICS_ROUTES_MAX; r++) {
    const char *method = r ? routes[r - 1].method : "-";
    const char *route = r ? routes[r - 1].pattern : "-";

    for(size_t s = 0; s < METRICS_STATUSES; s++) {
      uint64_t n = GET(m->requests[r][s]);
      char status[16];

      if(!n)
        continue;
      if(s < METRICS_STATUSES - 1)
        snprintf(status, sizeof(status), "%d", status_codes[s]);
      else
        snprintf(status, sizeof(status), "other");
      promtext_put(o, "trackly_http_requests_total{method=\"%s\",route=\"%s\","
          "status=\"%s\"} %llu\n", method, route, status,
          (unsigned long long)n);
    }
  }
}

int metrics_render(struct metrics *m, const struct route *routes,
                   size_t nroutes, struct dynbuf *o)
{
  render_requests(o, m, routes, nroutes);
  histogram_render(o, "trackly_http_request_duration_seconds",
                   "Time from a request's arrival at a worker to its answer.",
                   &m->latency_us, &latency_bounds);
  promtext_family(o, "trackly_db_errors_total", "counter",
       "Requests that failed on the database: unavailable (answered 503), "
       "busy (a lock wait timed out, answered 503) or error (answered "
       "500).");
  promtext_put(o, "trackly_db_errors_total{kind=\"unavailable\"} %llu\n"
      "trackly_db_errors_total{kind=\"busy\"} %llu\n"
      "trackly_db_errors_total{kind=\"error\"} %llu\n",
      (unsigned long long)GET(m->db_errors[METRICS_DB_UNAVAILABLE]),
      (unsigned long long)GET(m->db_errors[METRICS_DB_BUSY]),
      (unsigned long long)GET(m->db_errors[METRICS_DB_ERROR]));
  promtext_counter(o, "trackly_api_workers_restarted_total",
       "Workers that died unasked and were replaced.",
       GET(m->workers_restarted));
  promtext_gauge(o, "trackly_api_workers", "Worker processes alive.",
       atomic_load_explicit(&m->workers_alive, memory_order_relaxed));
  pool_render(o);
  return dynbuf_ptr(o) ? 0 : -1;
}
