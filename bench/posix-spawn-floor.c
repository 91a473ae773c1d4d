/*
 * posix-spawn-floor: the floor of what any spawner can do on this machine, and
 * a low-overhead timing loop for the shim rows of `npm run bench`.
 *
 * Built by bench/run.js with `cc -O2` at bench time (skipped when there is no
 * compiler). Every time is wall-clock (CLOCK_MONOTONIC) from just before
 * posix_spawnp() to just after waitpid() returned, in nanoseconds, one per
 * line on stdout.
 *
 *   posix-spawn-floor loop N PROGRAM [ARG]...
 *       N sequential spawns of PROGRAM; prints N times.
 *   posix-spawn-floor serve PROGRAM [ARG]...
 *       For every byte read on stdin, one spawn of PROGRAM; prints its time.
 *       Lets a Node driver interleave the floor with its own measurements
 *       (A, B, A, B...) while this small process does the spawning.
 *   posix-spawn-floor alt RUNS WARMUP -- CMD1 [ARG]... -- CMD2 [ARG]... [-- ...]
 *       WARMUP then RUNS rounds; each round runs CMD1, CMD2, ... once, in
 *       order. Prints "INDEX NANOSECONDS" per measured run. A command that
 *       fails (non-zero status) stops the loop with exit status 1.
 *
 * Spawned programs get /dev/null as stdin and stdout, and this stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static posix_spawn_file_actions_t actions;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One spawn and wait; returns the time taken, or -1 (message on stderr). */
static long long run_once(char **argv) {
  pid_t pid;
  int status;
  long long start = now_ns();
  int err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
  if (err != 0) {
    fprintf(stderr, "posix-spawn-floor: cannot spawn %s: %s\n", argv[0], strerror(err));
    return -1;
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("posix-spawn-floor: waitpid");
      return -1;
    }
  }
  long long elapsed = now_ns() - start;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "posix-spawn-floor: %s ended with status 0x%x\n", argv[0], status);
    return -1;
  }
  return elapsed;
}

static int usage(void) {
  fprintf(stderr,
          "usage: posix-spawn-floor loop N PROGRAM [ARG]...\n"
          "       posix-spawn-floor serve PROGRAM [ARG]...\n"
          "       posix-spawn-floor alt RUNS WARMUP -- CMD [ARG]... [-- CMD [ARG]...]...\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  setvbuf(stdout, NULL, _IOLBF, 0);

  if (strcmp(argv[1], "loop") == 0) {
    if (argc < 4) return usage();
    long n = strtol(argv[2], NULL, 10);
    for (long i = 0; i < n; i++) {
      long long t = run_once(argv + 3);
      if (t < 0) return 1;
      printf("%lld\n", t);
    }
    return 0;
  }

  if (strcmp(argv[1], "serve") == 0) {
    char byte;
    ssize_t got;
    while ((got = read(0, &byte, 1)) != 0) {
      if (got < 0) {
        if (errno == EINTR) continue;
        perror("posix-spawn-floor: read");
        return 1;
      }
      long long t = run_once(argv + 2);
      if (t < 0) return 1;
      printf("%lld\n", t);
    }
    return 0;
  }

  if (strcmp(argv[1], "alt") == 0) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) return usage();
    long runs = strtol(argv[2], NULL, 10);
    long warmup = strtol(argv[3], NULL, 10);
    /* Split the rest at "--" into NULL-terminated argvs, in place. */
    char **cmds[64];
    int ncmds = 0;
    for (int i = 4; i < argc; i++) {
      if (strcmp(argv[i], "--") == 0) {
        argv[i] = NULL; /* terminates the previous command */
        if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) return usage();
        if (ncmds == 64) return usage();
        cmds[ncmds++] = argv + i + 1;
      }
    }
    for (long round = -warmup; round < runs; round++) {
      for (int c = 0; c < ncmds; c++) {
        long long t = run_once(cmds[c]);
        if (t < 0) return 1;
        if (round >= 0) printf("%d %lld\n", c, t);
      }
    }
    return 0;
  }
  return usage();
}
