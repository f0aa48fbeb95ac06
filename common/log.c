/*
 * log.c - line-oriented logging to stderr; see log.h.
 *
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from the API's workers and the monitor's threads never interleave
 * mid-line on a shared stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *program_name = "trackly";
static enum log_format log_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *program, enum log_format format)
{
  program_name = program;
  log_format = format;
}

/* Appends s to out[*len..cap) as the inside of a JSON string. */
static void append_json_escaped(char *out, size_t *len, size_t cap,
                                const char *s)
{
  for(; *s && *len + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if(c == '"' || c == '\\') {
      out[(*len)++] = '\\';
      out[(*len)++] = (char)c;
    }
    else if(c < 0x20) {
      *len += (size_t)snprintf(out + *len, cap - *len, "\\u%04x", c);
    }
    else
      out[(*len)++] = (char)c;
  }
}

/* Writes the line's head (time, level, program, pid) into line; returns its
 * length.  JSON lines are left open after the pid for the caller's fields. */
static size_t line_head(char *line, size_t cap, enum log_level level)
{
  char stamp[32];
  struct timespec ts;
  struct tm tm;
  int n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  if(log_format == LOG_FORMAT_JSON)
    n = snprintf(line, cap,
                 "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":\"%s\","
                 "\"pid\":%ld", stamp, ts.tv_nsec / 1000000L,
                 level_names[level], program_name, (long)getpid());
  else
    n = snprintf(line, cap, "%sZ %s %s[%ld]: ", stamp, level_names[level],
                 program_name, (long)getpid());
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Appends s as text: control characters would let a logged value forge a
 * second line, and with space and '=' a value could forge a field. */
static void append_text(char *out, size_t *len, size_t cap, const char *s,
                        bool is_value)
{
  for(; *s && *len + 1 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if(c < 0x20 || (is_value && (c == ' ' || c == '=')))
      c = is_value ? '_' : ' ';
    out[(*len)++] = (char)c;
  }
}

static void emit(char *line, size_t len)
{
  line[len++] = '\n';
  if(write(STDERR_FILENO, line, len) < 0) {
    /* Nowhere left to report it. */
  }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
  char msg[LOG_LINE_MAX];
  char line[LOG_LINE_MAX + 256];
  size_t len;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(n < 0)
    return;

  len = line_head(line, sizeof(line), level);
  if(log_format == LOG_FORMAT_JSON) {
    memcpy(line + len, ",\"msg\":\"", 8);
    len += 8;
    append_json_escaped(line, &len, sizeof(line) - 3, msg);
    line[len++] = '"';
    line[len++] = '}';
  }
  else
    append_text(line, &len, sizeof(line) - 1, msg, false);
  emit(line, len);
}

void log_fields(enum log_level level, const char *msg,
                const struct log_field *fields, size_t nfields)
{
  char line[LOG_LINE_MAX + 256];
  size_t cap = sizeof(line) - 3, len = line_head(line, sizeof(line), level);
  bool json = log_format == LOG_FORMAT_JSON;
  char num[32];

  if(json) {
    len += (size_t)snprintf(line + len, cap - len, ",\"msg\":\"");
    append_json_escaped(line, &len, cap, msg);
    line[len++] = '"';
  }
  else
    append_text(line, &len, cap, msg, false);
  for(size_t i = 0; i < nfields && len + 64 < cap; i++) {
    const struct log_field *f = &fields[i];

    snprintf(num, sizeof(num), "%lld", f->num);
    if(json) {
      line[len++] = ',';
      line[len++] = '"';
      append_json_escaped(line, &len, cap, f->key);
      len += (size_t)snprintf(line + len, cap - len, "\":%s",
                              f->str ? "\"" : num);
      if(f->str) {
        append_json_escaped(line, &len, cap, f->str);
        line[len++] = '"';
      }
    }
    else {
      line[len++] = ' ';
      append_text(line, &len, cap, f->key, true);
      line[len++] = '=';
      append_text(line, &len, cap, f->str ? (*f->str ? f->str : "-") : num,
                  true);
    }
  }
  if(json)
    line[len++] = '}';
  emit(line, len);
}
