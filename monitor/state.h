/*
 * state.h - the monitor's pure decisions: the status state machine and the
 * scheduling grid (DESIGN §4).  No I/O; unit-tested on their own.
 */
#ifndef TRACKLY_STATE_H
#define TRACKLY_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum project_status { STATUS_PENDING, STATUS_UP, STATUS_DOWN };

/* What a check did to a project: the transitions that open or close an
 * incident, and the quiet first UP. */
enum transition {
  TRANSITION_NONE,
  TRANSITION_UP,          /* PENDING -> UP: first good check, no mail */
  TRANSITION_DOWN,        /* PENDING/UP -> DOWN: incident opens, mail */
  TRANSITION_RECOVERED,   /* DOWN -> UP: incident closes, mail */
};

struct project_state {
  enum project_status status;
  int failures;           /* consecutive failed checks */
  int successes;          /* consecutive good checks */
};

/* Applies one check result to *s.  A project becomes DOWN after
 * failure_threshold consecutive failures (from PENDING or UP) and UP again
 * after recovery_threshold consecutive successes; a PENDING project becomes
 * UP on its first success.  A single failure below the threshold changes
 * nothing but the counters.  Returns the transition, if any. */
enum transition state_apply(struct project_state *s, bool ok,
                            int failure_threshold, int recovery_threshold);

/* "PENDING", "UP", "DOWN" and back; state_parse_status returns false for
 * anything else. */
const char *state_status_name(enum project_status s);
bool state_parse_status(const char *name, enum project_status *out);

/* The next slot on a project's fixed grid: scheduled + interval, or, when
 * that is already past (the check ran late, the monitor was down), the
 * first slot of the same grid after now, so a late check is done once and
 * never several times to catch up.  All values in milliseconds;
 * interval > 0. */
int64_t state_next_slot(int64_t scheduled, int64_t interval, int64_t now);

/* True when a reminder is due for a project that stays DOWN: reminders
 * every reminder_ms (0 = off) after the last alert at last_alert
 * (milliseconds). */
bool state_reminder_due(int64_t last_alert, int64_t reminder_ms,
                        int64_t now);

#endif
