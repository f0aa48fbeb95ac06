/*
 * check.c - making and releasing a check; see check.h.
 *
 * The scheduler makes checks from claimed rows, the prober and the results
 * writer pass them on, and whoever holds one last releases it: the one
 * constructor and destructor live here so that no stage frees what
 * another stage allocated by hand.
 */
#include "check.h"

#include <stdlib.h>
#include <string.h>

struct check *check_new(const char *link, const char *keyword)
{
  struct check *c = calloc(1, sizeof(*c));

  if(!c)
    return NULL;
  c->link = strdup(link);
  if(!c->link)
    goto fail;
  if(keyword && *keyword) {
    c->keyword = strdup(keyword);
    if(!c->keyword)
      goto fail;
  }
  return c;
fail:
  check_free(c);
  return NULL;
}

void check_free(struct check *c)
{
  if(!c)
    return;
  free(c->link);
  free(c->keyword);
  free(c->body);
  free(c);
}

void check_free_list(struct check *list)
{
  while(list) {
    struct check *next = list->next;
    check_free(list);
    list = next;
  }
}
