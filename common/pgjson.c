/*
 * pgjson.c - JSON from a PGresult's plain columns; see pgjson.h.
 */
#include "pgjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The type OIDs written as something other than a string (PostgreSQL's
 * catalog/pg_type_d.h, which only the server's headers carry; these
 * numbers are fixed since the types were created). */
#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define OIDOID 26
#define JSONOID 114
#define FLOAT4OID 700
#define FLOAT8OID 701
#define TIMESTAMPOID 1114
#define TIMESTAMPTZOID 1184
#define NUMERICOID 1700
#define JSONBOID 3802

static const char hexdigits[] = "0123456789abcdef";

/* What a byte becomes inside a JSON string: 0 for itself, 'u' for
 * \u00XX, else the letter after the backslash.  PostgreSQL's escape_json
 * makes the same choices (lower-case hex included), so a string reads the
 * same whichever side wrote it.  A table: this is the inner loop. */
static const char escapes[256] = {
  'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',     /* 0x00 */
  'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',     /* 0x08 */
  'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',     /* 0x10 */
  'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',     /* 0x18 */
  ['"'] = '"', ['\\'] = '\\',
};

static char escape_of(unsigned char c)
{
  return escapes[c];
}

bool pgjson_string(struct dynbuf *b, const char *s, size_t len)
{
  size_t i, n = len + 2;
  char *out;

  /* Measure first, so the text goes in with one reservation and no
   * per-byte appends: most strings need no escape at all. */
  for(i = 0; i < len; i++) {
    char e = escape_of((unsigned char)s[i]);
    if(e)
      n += e == 'u' ? 5 : 1;
  }
  if(!dynbuf_reserve(b, n))
    return false;
  out = dynbuf_tail(b);
  *out++ = '"';
  if(n == len + 2) {
    memcpy(out, s, len);
    out += len;
  }
  else
    for(i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      char e = escape_of(c);

      if(!e)
        *out++ = (char)c;
      else {
        *out++ = '\\';
        *out++ = e;
        if(e == 'u') {
          *out++ = '0';
          *out++ = '0';
          *out++ = hexdigits[c >> 4];
          *out++ = hexdigits[c & 15];
        }
      }
    }
  *out = '"';
  dynbuf_commit(b, n);
  return true;
}

/* Whether s is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * PostgreSQL's numbers always are, but for NaN and the infinities. */
static bool json_number(const char *s)
{
  if(*s == '-')
    s++;
  if(*s == '0')
    s++;
  else if(*s >= '1' && *s <= '9')
    while(*s >= '0' && *s <= '9')
      s++;
  else
    return false;
  if(*s == '.') {
    if(!(*++s >= '0' && *s <= '9'))
      return false;
    while(*s >= '0' && *s <= '9')
      s++;
  }
  if(*s == 'e' || *s == 'E') {
    s++;
    if(*s == '+' || *s == '-')
      s++;
    if(!(*s >= '0' && *s <= '9'))
      return false;
    while(*s >= '0' && *s <= '9')
      s++;
  }
  return !*s;
}

/* Reads n digits at *p into *out and moves *p past them. */
static bool digits(const char **p, int n, int64_t *out)
{
  int64_t v = 0;

  while(n--) {
    if(**p < '0' || **p > '9')
      return false;
    v = v * 10 + (*(*p)++ - '0');
  }
  *out = v;
  return true;
}

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar,
 * and back (Howard Hinnant's algorithms, exact for every year here). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
  int64_t era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

/* Writes y (1 to 294276), at least four digits; returns their count. */
static size_t put_year(char *out, int64_t y)
{
  char tmp[8];
  size_t n = 0, i;

  do {
    tmp[n++] = (char)('0' + y % 10);
    y /= 10;
  } while(y);
  while(n < 4)
    tmp[n++] = '0';
  for(i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

/* Appends sep and v (0 to 99) as two digits at out[n]; returns the new n. */
static size_t put2(char *out, size_t n, char sep, int64_t v)
{
  out[n++] = sep;
  out[n++] = (char)('0' + v / 10);
  out[n++] = (char)('0' + v % 10);
  return n;
}

/*
 * A timestamp or timestamptz in the ISO DateStyle, "2024-05-01
 * 12:00:00.123456+00" (years may have more than four digits; the offset
 * is +HH, +HH:MM or +HH:MM:SS and absent for timestamp), as RFC 3339 UTC
 * without the fraction.  The sessions run in UTC (common/db.c), so the
 * offset is +00 and the fields are copied; another offset is applied.
 * infinity, -infinity and years BC are null, as to_char gave (infinity)
 * or as RFC 3339 cannot write them (BC).  Returns false for text of any
 * other form.
 */
static bool timestamp_utc(struct dynbuf *b, const char *s, size_t len)
{
  const char *p = s, *frac;
  int64_t year = 0, mon, day, hh, mm, ss, oh = 0, om = 0, os = 0;
  int sign = 0, ydigits = 0;
  char out[48];
  size_t n;

  if(!strcmp(s, "infinity") || !strcmp(s, "-infinity") ||
     (len > 3 && !strcmp(s + len - 3, " BC")))
    return dynbuf_add(b, "null", 4);
  while(*p >= '0' && *p <= '9' && ydigits < 7) {
    year = year * 10 + (*p++ - '0');
    ydigits++;
  }
  if(ydigits < 4 || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
     !digits(&p, 2, &day) || *p++ != ' ' || !digits(&p, 2, &hh) ||
     *p++ != ':' || !digits(&p, 2, &mm) || *p++ != ':' ||
     !digits(&p, 2, &ss))
    goto bad;
  if(*p == '.') {
    frac = ++p;
    while(*p >= '0' && *p <= '9')
      p++;
    if(p == frac)
      goto bad;
  }
  if(*p == '+' || *p == '-') {
    sign = *p++ == '-' ? -1 : 1;
    if(!digits(&p, 2, &oh) ||
       (*p == ':' && (p++, !digits(&p, 2, &om))) ||
       (*p == ':' && (p++, !digits(&p, 2, &os))))
      goto bad;
  }
  if(*p || mon < 1 || mon > 12 || day < 1 || day > 31)
    goto bad;
  if(sign && (oh || om || os)) {
    /* Local time = UTC + offset. */
    int64_t t = days_from_civil(year, mon, day) * 86400 + hh * 3600 +
                mm * 60 + ss - sign * (oh * 3600 + om * 60 + os);
    int64_t days = (t >= 0 ? t : t - 86399) / 86400, sec = t - days * 86400;

    civil_from_days(days, &year, &mon, &day);
    if(year < 1)
      return dynbuf_add(b, "null", 4);
    hh = sec / 3600;
    mm = sec / 60 % 60;
    ss = sec % 60;
  }
  /* By hand: snprintf was most of the time of a row (perf). */
  n = 0;
  out[n++] = '"';
  n += put_year(out + n, year);
  n = put2(out, n, '-', mon);
  n = put2(out, n, '-', day);
  n = put2(out, n, 'T', hh);
  n = put2(out, n, ':', mm);
  n = put2(out, n, ':', ss);
  out[n++] = 'Z';
  out[n++] = '"';
  return dynbuf_add(b, out, n);
bad:
  dynbuf_fail(b);
  return false;
}

bool pgjson_value(struct dynbuf *b, const PGresult *res, int row, int col)
{
  const char *s;
  size_t len;

  if(PQgetisnull(res, row, col))
    return dynbuf_add(b, "null", 4);
  s = PQgetvalue(res, row, col);
  len = (size_t)PQgetlength(res, row, col);
  switch(PQftype(res, col)) {
  case INT2OID:
  case INT4OID:
  case INT8OID:
  case OIDOID:
  case NUMERICOID:
  case FLOAT4OID:
  case FLOAT8OID:
    if(json_number(s))
      return dynbuf_add(b, s, len);
    return pgjson_string(b, s, len);
  case BOOLOID:
    return *s == 't' ? dynbuf_add(b, "true", 4) : dynbuf_add(b, "false", 5);
  case JSONOID:
  case JSONBOID:
    return dynbuf_add(b, s, len);
  case TIMESTAMPOID:
  case TIMESTAMPTZOID:
    return timestamp_utc(b, s, len);
  default:
    return pgjson_string(b, s, len);
  }
}

/* Appends the columns of row from first_col on, each preceded by its
 * key: keys holds ",\"name\":" for every column in turn, starting at
 * off[col] (the first one's comma is skipped). */
static bool members(struct dynbuf *b, const PGresult *res, int row,
                    int first_col, const char *keys, const size_t *off)
{
  int ncols = PQnfields(res), col;

  for(col = first_col; col < ncols; col++) {
    size_t skip = col == first_col;

    dynbuf_add(b, keys + off[col] + skip, off[col + 1] - off[col] - skip);
    pgjson_value(b, res, row, col);
  }
  return !b->failed;
}

/* Writes the keys of members() into keys and off[first_col..ncols]. */
static void write_keys(struct dynbuf *keys, size_t *off, const PGresult *res,
                       int first_col)
{
  int ncols = PQnfields(res), col;

  for(col = first_col; col < ncols; col++) {
    const char *name = PQfname(res, col);

    off[col] = dynbuf_len(keys);
    dynbuf_addc(keys, ',');
    pgjson_string(keys, name, strlen(name));
    dynbuf_addc(keys, ':');
  }
  off[ncols] = dynbuf_len(keys);
}

/* The keys of an object, written once per result rather than per row. */
struct keys {
  struct dynbuf text;
  size_t *off;
};

static bool keys_init(struct keys *k, const PGresult *res, int first_col)
{
  int ncols = PQnfields(res);

  dynbuf_init(&k->text, PGJSON_MAX);
  k->off = calloc((size_t)(ncols > first_col ? ncols : first_col) + 1,
                  sizeof(*k->off));
  if(!k->off)
    return false;
  write_keys(&k->text, k->off, res, first_col);
  return dynbuf_ptr(&k->text) != NULL;
}

static void keys_free(struct keys *k)
{
  dynbuf_free(&k->text);
  free(k->off);
}

bool pgjson_object(struct dynbuf *b, const PGresult *res, int row,
                   int first_col)
{
  struct keys k;

  if(keys_init(&k, res, first_col)) {
    dynbuf_addc(b, '{');
    members(b, res, row, first_col, dynbuf_ptr(&k.text), k.off);
    dynbuf_addc(b, '}');
  }
  else
    dynbuf_fail(b);
  keys_free(&k);
  return !b->failed;
}

/* The room rows first_row.. will likely take: their text, their keys and
 * a little for quotes and punctuation, so the buffer grows once. */
static size_t estimate(const PGresult *res, int first_row, int first_col)
{
  int nrows = PQntuples(res), ncols = PQnfields(res), row, col;
  size_t n = 2, keys = 0;

  for(col = first_col; col < ncols; col++)
    keys += strlen(PQfname(res, col)) + 8;
  for(row = first_row; row < nrows; row++) {
    n += keys + 2;
    for(col = first_col; col < ncols; col++)
      n += (size_t)PQgetlength(res, row, col);
  }
  return n;
}

bool pgjson_array(struct dynbuf *b, const PGresult *res, int first_row,
                  int first_col)
{
  int nrows = PQntuples(res), row;
  size_t want = estimate(res, first_row, first_col);
  struct keys k;

  /* Only a hint: past the cap, the appends themselves fail. */
  if(!b->failed && want <= b->max - b->len)
    dynbuf_reserve(b, want);
  if(!keys_init(&k, res, first_col)) {
    keys_free(&k);
    dynbuf_fail(b);
    return false;
  }
  dynbuf_addc(b, '[');
  for(row = first_row; row < nrows; row++) {
    if(row != first_row)
      dynbuf_addc(b, ',');
    dynbuf_addc(b, '{');
    members(b, res, row, first_col, dynbuf_ptr(&k.text), k.off);
    dynbuf_addc(b, '}');
  }
  keys_free(&k);
  return dynbuf_addc(b, ']');
}
