/*
 * config_start.c - the start of every program: the --env-file, the
 * configuration, the log, the --version line; see config.h.  (config.c
 * reads and checks the variables themselves.)
 */
#include "config.h"
#include "log.h"
#include "trackly_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strips one level of matching quotes from v[0..*len). */
static const char *unquote(const char *v, size_t *len)
{
  if(*len >= 2 && (v[0] == '"' || v[0] == '\'') && v[*len - 1] == v[0]) {
    *len -= 2;
    return v + 1;
  }
  return v;
}

int config_load_env_file(const char *path, char *err, size_t errcap)
{
  char line[CONFIG_VALUE_MAX + 256];
  char val[CONFIG_VALUE_MAX + 1];
  char iobuf[BUFSIZ];
  FILE *f = fopen(path, "r");
  int lineno = 0, rc = 0;

  if(!f) {
    snprintf(err, errcap, "%s: %s", path, strerror(errno));
    return -1;
  }
  /* The file holds secrets: read it through a buffer of ours, wiped below
   * with the line and value copies, so no copy is left in freed memory. */
  setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
  while(fgets(line, sizeof(line), f)) {
    char *p = line, *eq, *name_end;
    const char *value;
    size_t len = strlen(line), vlen;
    char name[128];

    lineno++;
    if(len && line[len - 1] != '\n' && !feof(f)) {
      snprintf(err, errcap, "%s:%d: line too long", path, lineno);
      rc = -1;
      break;
    }
    while(len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    while(*p == ' ' || *p == '\t')
      p++;
    if(!*p || *p == '#')
      continue;
    if(!strncmp(p, "export ", 7))
      p += 7;
    eq = strchr(p, '=');
    if(!eq || eq == p) {
      snprintf(err, errcap, "%s:%d: expected NAME=value", path, lineno);
      rc = -1;
      break;
    }
    name_end = eq;
    while(name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
      name_end--;
    if((size_t)(name_end - p) >= sizeof(name)) {
      snprintf(err, errcap, "%s:%d: name too long", path, lineno);
      rc = -1;
      break;
    }
    memcpy(name, p, (size_t)(name_end - p));
    name[name_end - p] = '\0';
    value = eq + 1;
    while(*value == ' ' || *value == '\t')
      value++;
    vlen = strlen(value);
    value = unquote(value, &vlen);
    memcpy(val, value, vlen);
    val[vlen] = '\0';
    if(setenv(name, val, 1)) {
      snprintf(err, errcap, "%s:%d: invalid name \"%s\"", path, lineno, name);
      rc = -1;
      break;
    }
  }
  fclose(f);
  explicit_bzero(iobuf, sizeof(iobuf));
  explicit_bzero(line, sizeof(line));
  explicit_bzero(val, sizeof(val));
  return rc;
}

int config_load_with_env(struct config *cfg, const char *env_file,
                         unsigned need, char *err, size_t errcap)
{
  if(env_file && config_load_env_file(env_file, err, errcap))
    return -1;
  return config_load(cfg, need, err, errcap);
}

int config_startup(struct config *cfg, const char *program,
                   const char *env_file, unsigned need)
{
  char err[CONFIG_ERR_MAX];

  if(config_load_with_env(cfg, env_file, need, err, sizeof(err))) {
    fprintf(stderr, "%s: %s\n", program, err);
    return -1;
  }
  log_init(program, cfg->log_format);
  return 0;
}

void config_print_version(const char *program)
{
  printf("%s %s (schema version %d)\n", program, TRACKLY_VERSION,
         TRACKLY_SCHEMA_VERSION);
}
