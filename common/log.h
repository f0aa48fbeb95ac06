/*
 * log.h - one line per event on stderr, which systemd hands to the journal.
 *
 * LOG_FORMAT=text gives "2026-01-02T03:04:05Z info trackly-api[123]: msg",
 * LOG_FORMAT=json one JSON object per line.  Callers never pass passwords,
 * tokens or secrets; request logging passes only route, status and timing.
 */
#ifndef TRACKLY_LOG_H
#define TRACKLY_LOG_H

#include <stddef.h>

#include "config.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the program name and format; before the first call, text format and
 * the name "trackly" are used.  Not thread-safe: call before threads start. */
void log_init(const char *program, enum log_format format);

void log_msg(enum log_level level, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* One field of a structured line: a string, or when str is NULL the
 * number num. */
struct log_field {
  const char *key;
  const char *str;
  long long num;
};

/* A line with fields: in text "msg key=value ...", in JSON each field is a
 * member of the object beside "msg".  For lines a program parses, such as
 * the API's one line per request.  Keys are short literal names; values
 * may be anything (escaped in JSON; in text, space, '=' and control
 * characters become '_'), and a line too long is cut, still valid JSON. */
void log_fields(enum log_level level, const char *msg,
                const struct log_field *fields, size_t nfields);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
