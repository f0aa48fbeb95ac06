/*
 * expect_text.h - the one assertion the metrics tests make about a text:
 * it holds this whole line.  Included by test_histogram.c, test_metrics.c
 * and test_stats.c after <cmocka.h>.
 */
#ifndef TRACKLY_EXPECT_TEXT_H
#define TRACKLY_EXPECT_TEXT_H

#include <string.h>

/* Fails the test unless some line of text is exactly line. */
static inline void expect_line(const char *text, const char *line)
{
  const char *p = text;
  size_t len = strlen(line);

  for(; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if(!strncmp(p, line, len) && p[len] == '\n')
      return;
  fail_msg("no line \"%s\" in:\n%s", line, text);
}

#endif
