/*
 * maildate.c - RFC 3339 in, RFC 5322 and a readable form out; see
 * maildate.h.  The day and month names are written here rather than by
 * strftime, so the monitor's locale cannot change a Date header.
 */
#include "maildate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const day_names[] = {
  "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool utc(int64_t t, struct tm *tm)
{
  time_t tt = (time_t)t;

  if((int64_t)tt != t || !gmtime_r(&tt, tm))
    return false;
  return tm->tm_wday >= 0 && tm->tm_wday < 7 && tm->tm_mon >= 0 &&
         tm->tm_mon < 12;
}

/* The two forms of the same broken-down time; -1 when t has none. */
static int format(int64_t t, bool human, char *out, size_t cap)
{
  struct tm tm;

  if(!utc(t, &tm))
    return -1;
  if(human)
    snprintf(out, cap, "%s %d %s %04d, %02d:%02d UTC",
             day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
  else
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000",
             day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return 0;
}

int maildate_format_rfc5322(int64_t t, char *out, size_t cap)
{
  return format(t, false, out, cap);
}

int maildate_format_human(int64_t t, char *out, size_t cap)
{
  return format(t, true, out, cap);
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, size_t n)
{
  int v = 0;

  for(size_t i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* The offset at p ("Z", "+01:00", "-05:30") in seconds east of UTC. */
static bool parse_offset(const char *p, int *offset)
{
  int oh, om;

  if((*p == 'Z' || *p == 'z') && !p[1]) {
    *offset = 0;
    return true;
  }
  if((*p != '+' && *p != '-') || strlen(p) != 6 || p[3] != ':')
    return false;
  oh = digits(p + 1, 2);
  om = digits(p + 4, 2);
  if(oh < 0 || oh > 23 || om < 0 || om > 59)
    return false;
  *offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
  return true;
}

bool maildate_parse_rfc3339(const char *s, int64_t *out)
{
  struct tm tm;
  int year, mon, day, hour, min, sec, offset = 0;
  const char *p;
  time_t t;

  if(strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
     (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
     s[16] != ':')
    return false;
  year = digits(s, 4);
  mon = digits(s + 5, 2);
  day = digits(s + 8, 2);
  hour = digits(s + 11, 2);
  min = digits(s + 14, 2);
  sec = digits(s + 17, 2);
  if(year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 ||
     hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
    return false;
  p = s + 19;
  if(*p == '.') {
    p++;
    if(*p < '0' || *p > '9')
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  if(!parse_offset(p, &offset))
    return false;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  t = timegm(&tm);
  if(t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
    return false;
  *out = (int64_t)t - offset;
  return true;
}
