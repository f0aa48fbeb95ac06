/*
 * main.c - trackly-api: command line, configuration, the listening socket,
 * then the master process (master.c) that runs the workers (worker.c).
 */
#include "config.h"
#include "db.h"
#include "log.h"
#include "master.h"
#include "parse.h"
#include "trackly_build.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

static void usage(FILE *out)
{
  fputs(
"Usage: trackly-api [OPTION]...\n"
"Trackly's HTTP API as a pre-forked FastCGI server, for nginx to talk to.\n"
"\n"
"The listening socket comes from systemd socket activation (LISTEN_FDS),\n"
"from --socket, or from standard input as spawn-fcgi hands it over.\n"
"\n"
"  -s, --socket PATH       create and listen on the unix socket PATH\n"
"  -m, --socket-mode MODE  permissions of that socket (octal, default 0660)\n"
"  -w, --workers N         number of workers (default: API_WORKERS, or the\n"
"                          number of CPUs, at least 2)\n"
"  -e, --env-file FILE     read NAME=value settings from FILE first (and\n"
"                          again on SIGHUP)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Configuration is read from the environment: DB_URL and JWT_SECRET (or\n"
"JWT_SECRET_FILE) are required; see trackly-api(8) or README.md for the rest.\n"
"\n"
"Signals: SIGTERM/SIGINT finish requests in flight and exit within 10 s;\n"
"SIGHUP reloads the configuration and replaces the workers one at a time.\n",
    out);
}

/* Creates, binds and listens on a unix socket at path.  A socket file left
 * behind by a crash is replaced; one that something still listens on is
 * not. */
static int open_unix_socket(const char *path, mode_t mode)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  struct stat st;
  int fd;

  if(strlen(path) >= sizeof(addr.sun_path)) {
    fprintf(stderr, "trackly-api: socket path too long (max %zu bytes): %s\n",
            sizeof(addr.sun_path) - 1, path);
    return -1;
  }
  memcpy(addr.sun_path, path, strlen(path) + 1);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if(fd < 0)
    goto fail;
  if(!lstat(path, &st)) {
    if(!S_ISSOCK(st.st_mode)) {
      fprintf(stderr, "trackly-api: %s exists and is not a socket\n", path);
      close(fd);
      return -1;
    }
    if(!connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
      fprintf(stderr, "trackly-api: something is already listening on %s\n",
              path);
      close(fd);
      return -1;
    }
    close(fd);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if(fd < 0)
      goto fail;
  }
  if(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
     chmod(path, mode) || listen(fd, LISTEN_BACKLOG))
    goto fail;
  return fd;
fail:
  fprintf(stderr, "trackly-api: %s: %s\n", path, strerror(errno));
  if(fd >= 0)
    close(fd);
  return -1;
}

/* The socket handed over by systemd, or by spawn-fcgi on fd 0. */
static int inherited_socket(void)
{
  int n = sd_listen_fds(1);

  if(n > 0) {
    if(n > 1)
      log_warn("systemd passed %d sockets; using the first", n);
    return SD_LISTEN_FDS_START;
  }
  if(sd_is_socket(STDIN_FILENO, AF_UNSPEC, SOCK_STREAM, 1) > 0)
    return STDIN_FILENO;
  return -1;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"socket-mode", required_argument, NULL, 'm'},
    {"workers", required_argument, NULL, 'w'},
    {"env-file", required_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  struct master_options opt = {.listen_fd = -1};
  struct config cfg;
  const char *socket_path = NULL;
  int64_t mode = 0660, workers = 0;
  int c, rc;

  while((c = getopt_long(argc, argv, "s:m:w:e:hV", longopts, NULL)) != -1) {
    switch(c) {
    case 's':
      socket_path = optarg;
      break;
    case 'm':
      if(!parse_octal(optarg, 0777, &mode)) {
        fprintf(stderr, "trackly-api: --socket-mode wants an octal mode "
                "like 0660\n");
        return 2;
      }
      break;
    case 'w':
      if(!parse_int(optarg, 1, 256, &workers)) {
        fprintf(stderr, "trackly-api: --workers wants a number from 1 to "
                "256\n");
        return 2;
      }
      break;
    case 'e':
      opt.env_file = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      config_print_version("trackly-api");
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if(optind < argc) {
    fprintf(stderr, "trackly-api: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  opt.workers = (int)workers;

  if(config_startup(&cfg, "trackly-api", opt.env_file,
                    CONFIG_NEED_DB | CONFIG_NEED_JWT))
    return 1;

  if(db_startup_check("trackly-api", cfg.db_url, "starting anyway, "
                      "workers answer 503 until it is back")) {
    config_cleanup(&cfg);
    return 1;
  }

  opt.listen_fd = inherited_socket();
  if(opt.listen_fd < 0 && socket_path)
    opt.listen_fd = open_unix_socket(socket_path, (mode_t)mode);
  else if(opt.listen_fd >= 0)
    socket_path = NULL;     /* not ours to create or remove */
  if(opt.listen_fd < 0) {
    if(!socket_path)
      fprintf(stderr, "trackly-api: no socket: give --socket PATH, use "
              "systemd socket activation, or start under spawn-fcgi\n");
    config_cleanup(&cfg);
    return 1;
  }
  /* Workers poll the socket and must never sleep in accept (worker.c). */
  {
    int fl = fcntl(opt.listen_fd, F_GETFL);
    if(fl < 0 || fcntl(opt.listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
      fprintf(stderr, "trackly-api: cannot make the socket non-blocking: "
              "%s\n", strerror(errno));
      return 1;
    }
  }
  if(FCGX_Init()) {
    fprintf(stderr, "trackly-api: cannot initialise libfcgi\n");
    return 1;
  }

  rc = master_run(&opt, &cfg);
  if(socket_path)
    unlink(socket_path);
  config_cleanup(&cfg);
  return rc;
}
