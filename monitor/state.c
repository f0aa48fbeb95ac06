/*
 * state.c - the status state machine and the scheduling grid; see state.h.
 */
#include "state.h"

#include <string.h>

enum transition state_apply(struct project_state *s, bool ok,
                            int failure_threshold, int recovery_threshold)
{
  if(ok) {
    s->failures = 0;
    s->successes++;
    if(s->status == STATUS_PENDING) {
      s->status = STATUS_UP;
      return TRANSITION_UP;
    }
    if(s->status == STATUS_DOWN && s->successes >= recovery_threshold) {
      s->status = STATUS_UP;
      return TRANSITION_RECOVERED;
    }
    return TRANSITION_NONE;
  }
  s->successes = 0;
  s->failures++;
  if(s->status != STATUS_DOWN && s->failures >= failure_threshold) {
    s->status = STATUS_DOWN;
    return TRANSITION_DOWN;
  }
  return TRANSITION_NONE;
}

static const char *const names[] = {"PENDING", "UP", "DOWN"};

const char *state_status_name(enum project_status s)
{
  return names[s];
}

bool state_parse_status(const char *name, enum project_status *out)
{
  for(int i = 0; i < 3; i++) {
    if(!strcmp(name, names[i])) {
      *out = (enum project_status)i;
      return true;
    }
  }
  return false;
}

int64_t state_next_slot(int64_t scheduled, int64_t interval, int64_t now)
{
  int64_t next = scheduled + interval;

  if(next <= now)
    next += ((now - next) / interval + 1) * interval;
  return next;
}

bool state_reminder_due(int64_t last_alert, int64_t reminder_ms,
                        int64_t now)
{
  return reminder_ms > 0 && now - last_alert >= reminder_ms;
}
