/*
 * histogram.c - a Prometheus latency histogram; see histogram.h.
 */
#include "histogram.h"
#include "promtext.h"

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) ((unsigned long long)atomic_load_explicit(&(c), \
                                                        memory_order_relaxed))

void histogram_observe(struct histogram *h, const struct histogram_bounds *b,
                       uint64_t value)
{
  size_t i = 0;

  while(i < HISTOGRAM_BUCKETS && value > b->le[i])
    i++;
  ADD(h->buckets[i], 1);
  ADD(h->sum, value);
}

/* The number of decimals that show one unit of b in seconds: 3 for
 * milliseconds, 6 for microseconds. */
static int decimals(const struct histogram_bounds *b)
{
  int n = 0;

  for(uint64_t u = b->per_second; u > 1; u /= 10)
    n++;
  return n;
}

void histogram_render(struct dynbuf *o, const char *name, const char *help,
                      struct histogram *h, const struct histogram_bounds *b)
{
  unsigned long long total = 0, sum = GET(h->sum);
  unsigned long long per = (unsigned long long)b->per_second;

  promtext_family(o, name, "histogram", help);
  for(size_t i = 0; i <= HISTOGRAM_BUCKETS; i++) {
    total += GET(h->buckets[i]);
    if(i < HISTOGRAM_BUCKETS)
      promtext_put(o, "%s_bucket{le=\"%g\"} %llu\n", name,
                   (double)b->le[i] / (double)per, total);
    else
      promtext_put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, total);
  }
  promtext_put(o, "%s_sum %llu.%0*llu\n%s_count %llu\n", name, sum / per,
               decimals(b), sum % per, name, total);
}
