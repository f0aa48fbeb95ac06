/*
 * log.c - line-oriented logging to stderr; see log.h.
 *
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from the API's workers and the monitor's threads never interleave
 * mid-line on a shared stderr.
 */
#include "log.h"

#include <stdarg.h>
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

void log_msg(enum log_level level, const char *fmt, ...)
{
  char msg[LOG_LINE_MAX];
  char line[LOG_LINE_MAX + 256];
  char stamp[32];
  struct timespec ts;
  struct tm tm;
  size_t len;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(n < 0)
    return;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

  if(log_format == LOG_FORMAT_JSON) {
    n = snprintf(line, sizeof(line),
                 "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":\"%s\","
                 "\"pid\":%ld,\"msg\":\"",
                 stamp, ts.tv_nsec / 1000000L, level_names[level],
                 program_name, (long)getpid());
    len = (size_t)n;
    append_json_escaped(line, &len, sizeof(line) - 3, msg);
    line[len++] = '"';
    line[len++] = '}';
  }
  else {
    /* Control characters would let a logged value forge a second line. */
    for(char *p = msg; *p; p++)
      if((unsigned char)*p < 0x20)
        *p = ' ';
    n = snprintf(line, sizeof(line), "%sZ %s %s[%ld]: %s", stamp,
                 level_names[level], program_name, (long)getpid(), msg);
    len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
  }
  line[len++] = '\n';
  if(write(STDERR_FILENO, line, len) < 0) {
    /* Nowhere left to report it. */
  }
}
