/*
 * main.c - trackly-monitor.
 *
 * The probing daemon (scheduler, prober, results, mailer) is the subject of
 * a later milestone; for now the program parses its command line and
 * configuration and checks the database schema, so deployments can already
 * wire it up and see it refuse a database it does not know.
 */
#include "config.h"
#include "db.h"
#include "log.h"
#include "trackly_build.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
  fputs(
"Usage: trackly-monitor [OPTION]...\n"
"Trackly's monitor daemon: probes every project on its schedule, records\n"
"the results and sends alert mail.\n"
"\n"
"  -e, --env-file FILE   read NAME=value settings from FILE first\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Configuration is read from the environment; DB_URL is required.\n"
"This version only checks its configuration and the database schema.\n",
    out);
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"env-file", required_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  const char *env_file = NULL;
  struct config cfg;
  char err[CONFIG_ERR_MAX];
  int c, rc;

  while((c = getopt_long(argc, argv, "e:hV", longopts, NULL)) != -1) {
    switch(c) {
    case 'e':
      env_file = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("trackly-monitor %s (schema version %d)\n", TRACKLY_VERSION,
             TRACKLY_SCHEMA_VERSION);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if((env_file && config_load_env_file(env_file, err, sizeof(err))) ||
     config_load(&cfg, CONFIG_NEED_DB, err, sizeof(err))) {
    fprintf(stderr, "trackly-monitor: %s\n", err);
    return 1;
  }
  log_init("trackly-monitor", cfg.log_format);
  rc = db_check_startup(cfg.db_url, err, sizeof(err));
  if(rc) {
    fprintf(stderr, "trackly-monitor: %s\n", err);
    config_cleanup(&cfg);
    return 1;
  }
  log_info("configuration and schema are fine; probing is not in this "
           "version yet");
  config_cleanup(&cfg);
  return 0;
}
