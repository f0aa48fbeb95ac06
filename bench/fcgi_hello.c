/*
 * fcgi_hello.c - the bare libfcgi responder that bench/api measures the API
 * against.  Not part of Trackly and not in the meson build: bench/api
 * compiles it with gcc -O2.
 *
 * Same process model as trackly-api, minus everything else: a master
 * creates one unix socket, forks N workers that each loop on FCGX_Accept_r
 * on it, and waits.  Every request, whatever its method or path, gets
 * 200 {"status":"ok"} as application/json, with no database, no routing, no
 * token check.  So nginx -> FastCGI -> answer costs the same as for the API,
 * and the difference between the two is what the API itself does.
 *
 * Usage: fcgi_hello SOCKET-PATH WORKERS
 * SIGTERM or SIGINT to the master stops the workers and removes the socket.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define LISTEN_BACKLOG 1024

static const char response[] =
  "Status: 200 OK\r\n"
  "Content-Type: application/json\r\n"
  "Content-Length: 15\r\n"
  "\r\n"
  "{\"status\":\"ok\"}";

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
  (void)sig;
  stopping = 1;
}

/* A worker answers until it is killed (the master sends SIGTERM, whose
 * default action ends it; an answer cut short does not matter here). */
static void worker(int listen_fd)
{
  FCGX_Request req;

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if(FCGX_InitRequest(&req, listen_fd, 0))
    _exit(2);
  while(FCGX_Accept_r(&req) >= 0) {
    FCGX_PutStr(response, (int)sizeof(response) - 1, req.out);
    FCGX_Finish_r(&req);
  }
  _exit(1);
}

int main(int argc, char **argv)
{
  pid_t pids[MAX_WORKERS];
  struct sigaction sa;
  char *end;
  long n;
  int fd;

  if(argc != 3) {
    fprintf(stderr, "usage: fcgi_hello SOCKET-PATH WORKERS\n");
    return 2;
  }
  errno = 0;
  n = strtol(argv[2], &end, 10);
  if(errno || *end || end == argv[2] || n < 1 || n > MAX_WORKERS) {
    fprintf(stderr, "fcgi_hello: WORKERS must be 1-%d\n", MAX_WORKERS);
    return 2;
  }
  if(FCGX_Init()) {
    fprintf(stderr, "fcgi_hello: FCGX_Init failed\n");
    return 1;
  }
  unlink(argv[1]);
  fd = FCGX_OpenSocket(argv[1], LISTEN_BACKLOG);
  if(fd < 0) {
    fprintf(stderr, "fcgi_hello: cannot listen on %s\n", argv[1]);
    return 1;
  }
  /* nginx's workers run as another user, as they do for trackly-api. */
  chmod(argv[1], 0666);

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  for(long i = 0; i < n; i++) {
    pids[i] = fork();
    if(pids[i] < 0) {
      perror("fcgi_hello: fork");
      n = i;
      stopping = 1;
      break;
    }
    if(pids[i] == 0) {
      sa.sa_handler = SIG_DFL;
      sigaction(SIGTERM, &sa, NULL);
      sigaction(SIGINT, &sa, NULL);
      worker(fd);
    }
  }

  /* Until told to stop or a worker dies (a benchmark must not go on with
   * fewer workers than it reports). */
  while(!stopping) {
    if(wait(NULL) > 0) {
      fprintf(stderr, "fcgi_hello: a worker exited; stopping\n");
      break;
    }
  }
  for(long i = 0; i < n; i++)
    kill(pids[i], SIGTERM);
  while(wait(NULL) > 0 || errno == EINTR)
    ;
  unlink(argv[1]);
  return 0;
}
