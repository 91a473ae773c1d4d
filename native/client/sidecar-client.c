/*
 * sidecar-client: `sidecar exec` as a small native executable, for shims
 * that run on every call of a tool and should not pay Node.js's start-up.
 *
 *   sidecar-client --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]]... [--expect-uid UID] [--] PROGRAM [ARG]...
 *
 * Same flags, protocol (docs/protocol.md, version 1) and exit statuses as
 * `sidecar exec` (examples/cli/sidecar.js): it passes its own fds 0-2, runs
 * PROGRAM with the server's environment plus each --env in the caller's
 * working directory (or --workdir), forwards the signals it can catch, and
 * exits with the status `sidecar exec` would give (the table before
 * failed_kind). The protocol's constants come from protocol.h, generated
 * from src/protocol/index.ts.
 *
 * Man pages: socket(2), connect(2), sendmsg(2), recv(2), unix(7)
 * (SCM_RIGHTS, SO_PEERCRED), cmsg(3), signalfd(2), sigprocmask(2), poll(2),
 * read(2), getcwd(3), lstat(2), dirname(3), getsockopt(2), recvmsg(2),
 * termios(3) (cfmakeraw, tcsetattr), ioctl_tty(2) (TIOCGWINSZ, TIOCSWINSZ),
 * atexit(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "protocol.h"

/* Exit statuses of `sidecar exec` (examples/cli/sidecar.js), shared. */
enum {
  kExitUsage = 125,     /* sidecar itself failed: usage, no server... */
  kExitCannotRun = 126, /* the program was found but could not run */
  kExitNotFound = 127,  /* the program was not found */
};

/* Signals forwarded to the program, as `sidecar exec` forwards them. */
static const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT, SIGTSTP};

static const char *g_socket_path = "";

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("sidecar: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
}

static void usage_exit(const char *why) {
  say("%s", why);
  fputs("usage: sidecar-client --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]]... [--expect-uid UID] [--] PROGRAM [ARG]...\n", stderr);
  exit(kExitUsage);
}

/* A growable byte buffer for the request payload. */
struct Bytes {
  unsigned char *data;
  size_t length, capacity;
};

static void put(struct Bytes *b, const void *data, size_t length) {
  if (b->length + length > b->capacity) {
    size_t capacity = b->capacity ? b->capacity * 2 : 4096;
    while (capacity < b->length + length) capacity *= 2;
    unsigned char *grown = realloc(b->data, capacity);
    if (grown == NULL) {
      say("out of memory");
      exit(kExitUsage);
    }
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, data, length);
  b->length += length;
}

static void put_u32(struct Bytes *b, uint32_t value) {
  unsigned char le[4] = {value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, (value >> 24) & 0xff};
  put(b, le, 4);
}

static void put_string(struct Bytes *b, const char *s) {
  size_t length = strlen(s);
  put_u32(b, (uint32_t)length);
  put(b, s, length);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Reads a length-prefixed string at *offset into out (NUL-terminated, cut to size). */
static void get_string(const unsigned char *record, size_t length, size_t *offset, char *out, size_t size) {
  out[0] = '\0';
  if (*offset + 4 > length) return;
  uint32_t n = get_u32(record + *offset);
  *offset += 4;
  if (*offset + n > length) n = (uint32_t)(length - *offset);
  size_t copy = n < size - 1 ? n : size - 1;
  memcpy(out, record + *offset, copy);
  out[copy] = '\0';
  *offset += n;
}

/* SCM_RIGHTS room of a record: 3 fds go out (stdio), 1 is expected in (a terminal's master); the kernel drops any past 4. */
union Control {
  struct cmsghdr align;
  char bytes[CMSG_SPACE(4 * sizeof(int))];
};

/* Sends one record, blocking; fds ride on it when count > 0. */
static int send_record(int sock, const unsigned char *data, size_t length, const int *fds, int count) {
  struct iovec iov = {(void *)data, length};
  union Control control;
  struct msghdr message = {0};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (count > 0) {
    memset(&control, 0, sizeof(control));
    message.msg_control = control.bytes;
    message.msg_controllen = CMSG_SPACE(count * sizeof(int));
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(count * sizeof(int));
    memcpy(CMSG_DATA(header), fds, count * sizeof(int));
  }
  for (;;) {
    ssize_t sent = sendmsg(sock, &message, MSG_NOSIGNAL);
    if (sent >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

static void header(unsigned char *record, int type) {
  record[0] = SIDECAR_PROTOCOL_VERSION;
  record[1] = (unsigned char)type;
  record[2] = record[3] = 0;
}

/* EXEC (with fds 0 to fd_count - 1) and as many EXEC_MORE records as the payload needs. */
static int send_request(int sock, const struct Bytes *payload, int fd_count) {
  static unsigned char record[SIDECAR_MAX_RECORD_BYTES];
  const int fds[3] = {0, 1, 2};
  size_t first = SIDECAR_MAX_RECORD_BYTES - SIDECAR_HEADER_BYTES - 4;
  if (first > payload->length) first = payload->length;
  header(record, SIDECAR_MESSAGE_EXEC);
  record[4] = payload->length & 0xff;
  record[5] = (payload->length >> 8) & 0xff;
  record[6] = (payload->length >> 16) & 0xff;
  record[7] = (payload->length >> 24) & 0xff;
  memcpy(record + 8, payload->data, first);
  if (send_record(sock, record, 8 + first, fds, fd_count) != 0) return -1;
  for (size_t offset = first; offset < payload->length;) {
    size_t chunk = payload->length - offset;
    if (chunk > SIDECAR_MAX_RECORD_BYTES - SIDECAR_HEADER_BYTES) chunk = SIDECAR_MAX_RECORD_BYTES - SIDECAR_HEADER_BYTES;
    header(record, SIDECAR_MESSAGE_EXEC_MORE);
    memcpy(record + SIDECAR_HEADER_BYTES, payload->data + offset, chunk);
    if (send_record(sock, record, SIDECAR_HEADER_BYTES + chunk, NULL, 0) != 0) return -1;
    offset += chunk;
  }
  return 0;
}

static int send_signal(int sock, int signo) {
  unsigned char record[8];
  header(record, SIDECAR_MESSAGE_SIGNAL);
  record[4] = signo & 0xff;
  record[5] = record[6] = record[7] = 0;
  return send_record(sock, record, sizeof(record), NULL, 0);
}

/*
 * Exit statuses, the same rows as `sidecar exec`'s:
 *
 *   what happened                                   status
 *   cannot connect, bad usage, no server            125
 *   FAILED  code ENOENT, syscall "chdir"            125  working directory missing on the server
 *   FAILED  code ENOENT (any other syscall)         127  program not found
 *   FAILED  code ERR_SIDECAR_DENIED                 126  refused by the server's policy
 *   FAILED  any other ERR_SIDECAR_* code            125  the server failed, not the program
 *   FAILED  any other (errno) code                  126  found but cannot run
 *   EXIT    the program exited with status S        S
 *   EXIT    the program was killed by signal N      128+N
 *
 * Besides: this client's own failures before the request is sent (memory,
 * getcwd, signalfd, sendmsg) give 125, as no server does; a malformed
 * reply 125; a connection that ends before the EXIT reply 126, as
 * ERR_SIDECAR_DISCONNECTED does in `sidecar exec`, and so does a failing
 * poll while waiting for it.
 *
 * A FAILED reply's row is decided by its (code, syscall) alone:
 * failed_kind picks it, kFailedStatus gives its status, and
 * failed_status words its stderr line.
 */
enum FailedKind { kMissingWorkdir, kNotFound, kDenied, kSidecarFailed, kCannotRun };

static const int kFailedStatus[] = {
    [kMissingWorkdir] = kExitUsage,
    [kNotFound] = kExitNotFound,
    [kDenied] = kExitCannotRun,
    [kSidecarFailed] = kExitUsage,
    [kCannotRun] = kExitCannotRun,
};

/* One test per row of the table, in its order: the first match wins. */
static enum FailedKind failed_kind(const char *code, const char *syscall_name) {
  static const char kSidecarPrefix[] = "ERR_SIDECAR_";
  if (strcmp(code, "ENOENT") == 0 && strcmp(syscall_name, "chdir") == 0) return kMissingWorkdir;
  if (strcmp(code, "ENOENT") == 0) return kNotFound;
  if (strcmp(code, "ERR_SIDECAR_DENIED") == 0) return kDenied;
  if (strncmp(code, kSidecarPrefix, sizeof(kSidecarPrefix) - 1) == 0) return kSidecarFailed;
  return kCannotRun;
}

/* The exit status and stderr line for a FAILED reply, worded as `sidecar exec` words them. */
static int failed_status(const unsigned char *record, size_t length, const char *program) {
  /* code and syscall are short names; the message may take the whole limit. */
  char code[128], syscall_name[128], text[SIDECAR_MAX_REPLY_STRING_BYTES + 1];
  size_t offset = SIDECAR_HEADER_BYTES + 4;
  get_string(record, length, &offset, code, sizeof(code));
  get_string(record, length, &offset, syscall_name, sizeof(syscall_name));
  get_string(record, length, &offset, text, sizeof(text));
  enum FailedKind kind = failed_kind(code, syscall_name);
  switch (kind) {
    case kMissingWorkdir:
      say("spawn %s ENOENT: %s", program, text);
      break;
    case kNotFound:
      say("%s: command not found on the server at %s", program, g_socket_path);
      break;
    case kDenied:
    case kSidecarFailed:
      say("spawn %s: %s (sidecar server at %s)", program, text, g_socket_path);
      break;
    case kCannotRun:
      /* child_process words these two kinds differently: 'spawn FILE CODE'
         for the errors it emits, 'spawn CODE' for those it throws. */
      if (strcmp(code, "EACCES") == 0 || strcmp(code, "EAGAIN") == 0 || strcmp(code, "EMFILE") == 0 ||
          strcmp(code, "ENFILE") == 0) {
        say("cannot run %s: spawn %s %s", program, program, code);
      } else {
        say("cannot run %s: spawn %s", program, code);
      }
      break;
  }
  return kFailedStatus[kind];
}

/*
 * --expect-uid, as the Node client's expectUid (src/client/expected-server.ts),
 * in the same words: why the socket file or its directory is not what a
 * server of `uid` made, written into `why`; 0 when it is, or when it cannot
 * be looked at (connect(2) then says more, and the peer check follows).
 */
static int socket_owner_refused(unsigned long uid, char *why, size_t size) {
  char *copy = strdup(g_socket_path);
  if (copy == NULL) return 0;
  const char *dir = dirname(copy);
  struct stat socket_stat;
  struct stat dir_stat;
  int refused = 0;
  if (lstat(g_socket_path, &socket_stat) == 0 && stat(dir, &dir_stat) == 0) {
    refused = 1;
    if (S_ISLNK(socket_stat.st_mode)) {
      snprintf(why, size, "the socket path is a symbolic link (owned by uid %lu), not the socket itself, which expectUid asks for",
               (unsigned long)socket_stat.st_uid);
    } else if (socket_stat.st_uid != uid) {
      snprintf(why, size, "the socket file is owned by uid %lu, not uid %lu as expectUid asks", (unsigned long)socket_stat.st_uid, uid);
    } else if (dir_stat.st_uid != uid && dir_stat.st_uid != 0) {
      snprintf(why, size, "its directory %s is owned by uid %lu, not uid %lu or root as expectUid asks", dir,
               (unsigned long)dir_stat.st_uid, uid);
    } else {
      refused = 0;
    }
  }
  free(copy);
  return refused;
}

/* The listener's uid (SO_PEERCRED), checked before anything is sent: what decides. */
static int peer_refused(int sock, unsigned long uid, char *why, size_t size) {
  struct ucred peer;
  socklen_t length = sizeof(peer);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    snprintf(why, size, "its credentials cannot be read: %s", strerror(errno));
    return 1;
  }
  if (peer.uid == uid) return 0;
  snprintf(why, size, "the process listening on it runs as uid %lu, not uid %lu as expectUid asks", (unsigned long)peer.uid, uid);
  return 1;
}

/*
 * -t: the program runs on a terminal of its own on the server, whose master
 * comes with STARTED. The local terminal is put in raw mode (every key,
 * Ctrl-C included, goes to the remote terminal) and restored at exit, which
 * every way out of this client takes: the signals it catches arrive through
 * its signalfd and end in a return from main. Bytes are relayed both ways
 * with plain blocking writes.
 */
static struct termios g_saved_terminal;
static int g_terminal_raw = 0;

static void restore_terminal(void) {
  if (g_terminal_raw) tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_terminal);
  g_terminal_raw = 0;
}

static void make_terminal_raw(void) {
  struct termios raw;
  if (tcgetattr(STDIN_FILENO, &g_saved_terminal) != 0) return;
  raw = g_saved_terminal;
  cfmakeraw(&raw);
  atexit(restore_terminal);
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) g_terminal_raw = 1;
}

/* Raw mode again after a stop (SIGCONT), if it was left for the stop. */
static void resume_terminal(int was_raw) {
  struct termios raw = g_saved_terminal;
  cfmakeraw(&raw);
  if (was_raw && tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) g_terminal_raw = 1;
}

/*
 * Ctrl-Z (SIGTSTP, which the terminal sends to this client's process group,
 * not to the remote program's): the remote program's group is stopped
 * first, then this client stops as SIGTSTP's default action would stop it,
 * with the terminal restored. `fg` or `bg` continue it with SIGCONT, which
 * is forwarded, so the program continues too.
 */
static int stop_with_program(int sock) {
  /* SIGSTOP too: the program's group, alone in its session on the server, is
     orphaned, and the kernel discards a SIGTSTP that would stop it. */
  send_signal(sock, SIGTSTP);
  send_signal(sock, SIGSTOP);
  int was_raw = g_terminal_raw;
  restore_terminal();
  raise(SIGSTOP);
  return was_raw;
}

/* The local window size (from stdin, else stdout), or 0 x 0 when unknown. */
static struct winsize local_size(void) {
  struct winsize size = {0};
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &size) != 0) ioctl(STDOUT_FILENO, TIOCGWINSZ, &size);
  return size;
}

/* Writes all of it, or gives up on an error (the other side is gone). */
static void write_all(int fd, const unsigned char *data, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, data, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    data += written;
    length -= (size_t)written;
  }
}

/* Copies what `from` has now to `to`; -1 once `from` has ended (EOF, or EIO for a master whose terminal closed). */
static int relay(int from, int to) {
  unsigned char buffer[4096];
  ssize_t length = read(from, buffer, sizeof(buffer));
  if (length < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (length <= 0) return -1;
  write_all(to, buffer, (size_t)length);
  return 0;
}

/* One record, and the fd that came with it (-1 for none; any more are closed). */
static ssize_t receive_record(int sock, unsigned char *record, size_t size, int *fd) {
  struct iovec iov = {record, size};
  union Control control;
  struct msghdr message = {0};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.bytes;
  message.msg_controllen = sizeof(control.bytes);
  *fd = -1;
  ssize_t length = recvmsg(sock, &message, MSG_CMSG_CLOEXEC);
  if (length < 0) return length;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; k++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      if (*fd < 0) *fd = received;
      else close(received);
    }
  }
  return length;
}

int main(int argc, char **argv) {
  const char *workdir = NULL;
  int expect_uid = 0; /* --expect-uid given */
  unsigned long expected_uid = 0;
  int tty = 0; /* -t, --tty */
  struct Bytes env = {0};
  uint32_t envc = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(arg, "-t") == 0 || strcmp(arg, "--tty") == 0) {
      tty = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) break;
    const char *eq = strchr(arg, '=');
    size_t name_length = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (value == NULL) usage_exit("an option needs a value");
    if (strncmp(arg, "--connect", name_length) == 0 && name_length == 9) {
      g_socket_path = value;
    } else if (strncmp(arg, "--workdir", name_length) == 0 && name_length == 9) {
      workdir = value;
    } else if (strncmp(arg, "--expect-uid", name_length) == 0 && name_length == 12) {
      char *end = NULL;
      errno = 0;
      expected_uid = strtoul(value, &end, 10);
      if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || expected_uid > 4294967294UL) {
        usage_exit("--expect-uid takes a numeric uid");
      }
      expect_uid = 1;
    } else if (strncmp(arg, "--env", name_length) == 0 && name_length == 5) {
      if (value[0] == '=') usage_exit("--env needs NAME or NAME=VALUE");
      if (strchr(value, '=') != NULL) {
        put_string(&env, value);
        envc++;
      } else if (getenv(value) != NULL) {
        /* --env NAME passes the caller's own value. */
        size_t size = strlen(value) + strlen(getenv(value)) + 2;
        char *pair = malloc(size);
        if (pair == NULL) usage_exit("out of memory");
        snprintf(pair, size, "%s=%s", value, getenv(value));
        put_string(&env, pair);
        free(pair);
        envc++;
      }
    } else {
      usage_exit("unknown option");
    }
  }
  if (g_socket_path[0] == '\0') {
    const char *from_env = getenv("SIDECAR_SOCKET");
    if (from_env == NULL || from_env[0] == '\0') usage_exit("exec needs --connect PATH (or SIDECAR_SOCKET)");
    g_socket_path = from_env;
  }
  if (i >= argc) usage_exit("exec needs a PROGRAM");
  const char *program = argv[i];
  if (tty && !isatty(STDIN_FILENO)) {
    say("--tty needs a terminal on stdin (the input device is not a TTY); leave -t out for pipes and files");
    return kExitUsage;
  }

  /* The working directory travels absolute: a relative --workdir means the
     caller's directory, as child_process resolves a relative cwd, never one
     of the same name on the server. */
  char cwd[4096];
  char joined[8192];
  if (workdir == NULL || workdir[0] != '/') {
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
      say("cannot read the working directory: %s", strerror(errno));
      return kExitUsage;
    }
    if (workdir != NULL && workdir[0] != '\0') {
      int length = snprintf(joined, sizeof(joined), "%s/%s", cwd, workdir);
      if (length < 0 || (size_t)length >= sizeof(joined)) usage_exit("--workdir is too long");
      workdir = joined;
    } else if (workdir == NULL) {
      workdir = cwd;
    }
  }

  /* The payload: flags, counts, uid/gid, fd map, file, cwd, argv, env. */
  struct Bytes payload = {0};
  put_u32(&payload, SIDECAR_REQUEST_SERVER_ENV | (tty ? SIDECAR_REQUEST_TERMINAL : 0));
  put_u32(&payload, (uint32_t)(argc - i));
  put_u32(&payload, envc);
  put_u32(&payload, 3);
  put_u32(&payload, (uint32_t)SIDECAR_NO_ID); /* uid: the server's */
  put_u32(&payload, (uint32_t)SIDECAR_NO_ID); /* gid: the server's */
  if (tty) {
    /* u16 columns, u16 rows; then every stdio entry is the terminal. */
    struct winsize size = local_size();
    const unsigned char terminal[4] = {size.ws_col & 0xff, size.ws_col >> 8, size.ws_row & 0xff, size.ws_row >> 8};
    put(&payload, terminal, sizeof(terminal));
    const unsigned char on_terminal[2] = {SIDECAR_FD_TERMINAL & 0xff, (SIDECAR_FD_TERMINAL >> 8) & 0xff};
    for (int k = 0; k < 3; k++) put(&payload, on_terminal, sizeof(on_terminal));
  } else {
    /* i16 entries: child fds 0, 1, 2 get attached fds 0, 1, 2 (ours). */
    const unsigned char fd_map[6] = {0, 0, 1, 0, 2, 0};
    put(&payload, fd_map, sizeof(fd_map));
  }
  put_string(&payload, program);
  put_string(&payload, workdir);
  for (int k = i; k < argc; k++) put_string(&payload, argv[k]);
  if (env.length > 0) put(&payload, env.data, env.length);

  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(g_socket_path) >= sizeof(address.sun_path)) {
    say("cannot connect to the sidecar server at %s: ENAMETOOLONG", g_socket_path);
    return kExitUsage;
  }
  strcpy(address.sun_path, g_socket_path);
  char why[512];
  if (expect_uid && socket_owner_refused(expected_uid, why, sizeof(why))) {
    say("cannot connect to the sidecar server at %s: EPERM (%s)", g_socket_path, why);
    return kExitUsage;
  }
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr *)&address, sizeof(address)) != 0) {
    say("cannot connect to the sidecar server at %s: %s", g_socket_path, strerror(errno));
    return kExitUsage;
  }
  if (expect_uid && peer_refused(sock, expected_uid, why, sizeof(why))) {
    say("cannot connect to the sidecar server at %s: EPERM (%s)", g_socket_path, why);
    return kExitUsage;
  }

  /* Signals become readable events: nothing runs in a handler. */
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (size_t k = 0; k < sizeof(kForwarded) / sizeof(kForwarded[0]); k++) sigaddset(&forwarded, kForwarded[k]);
  sigprocmask(SIG_BLOCK, &forwarded, NULL);
  int signals = signalfd(-1, &forwarded, SFD_CLOEXEC);
  if (signals < 0) {
    say("signalfd: %s", strerror(errno));
    return kExitUsage;
  }

  if (send_request(sock, &payload, tty ? 0 : 3) != 0) {
    say("cannot send the request to %s: %s", g_socket_path, strerror(errno));
    return kExitUsage;
  }
  free(payload.data);
  free(env.data);

  static unsigned char record[SIDECAR_MAX_RECORD_BYTES];
  /* With -t, also the local terminal's input and, once it came, the master. */
  struct pollfd watched[4] = {{sock, POLLIN, 0}, {signals, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
  int master = -1;
  int raw_before_stop = 0;
  for (;;) {
    if (poll(watched, 4, -1) < 0) {
      if (errno == EINTR) continue;
      say("poll: %s", strerror(errno));
      return kExitCannotRun;
    }
    if (watched[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      if (read(signals, &info, sizeof(info)) != (ssize_t)sizeof(info)) {
        /* nothing read */
      } else if (info.ssi_signo == SIGTSTP) {
        raw_before_stop = stop_with_program(sock);
      } else if (master >= 0 && info.ssi_signo == SIGWINCH) {
        /* The terminal's own: its size goes to the master, whose program then gets SIGWINCH. */
        struct winsize size = local_size();
        ioctl(master, TIOCSWINSZ, &size);
      } else {
        if (info.ssi_signo == SIGCONT) {
          resume_terminal(raw_before_stop);
          raw_before_stop = 0;
        }
        send_signal(sock, (int)info.ssi_signo);
      }
    }
    if ((watched[2].revents & (POLLIN | POLLHUP | POLLERR)) && relay(STDIN_FILENO, master) < 0) watched[2].fd = -1;
    if ((watched[3].revents & (POLLIN | POLLHUP | POLLERR)) && relay(master, STDOUT_FILENO) < 0) watched[3].fd = -1;
    if (!(watched[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    int received = -1;
    ssize_t length = receive_record(sock, record, sizeof(record), &received);
    if (received >= 0 && !(tty && master < 0 && length >= SIDECAR_HEADER_BYTES && record[1] == SIDECAR_MESSAGE_STARTED)) {
      close(received); /* only STARTED of a request for a terminal carries one */
      received = -1;
    }
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) {
      say("connection to the sidecar server at %s ended before the program's exit was reported", g_socket_path);
      return kExitCannotRun;
    }
    if (length < SIDECAR_HEADER_BYTES || record[0] != SIDECAR_PROTOCOL_VERSION) {
      say("sidecar server at %s sent a malformed message", g_socket_path);
      return kExitUsage;
    }
    switch (record[1]) {
      case SIDECAR_MESSAGE_STARTED:
        if (tty) {
          if (received < 0) {
            say("sidecar server at %s sent a malformed message", g_socket_path);
            return kExitUsage;
          }
          master = received;
          watched[2].fd = STDIN_FILENO;
          watched[3].fd = master;
          make_terminal_raw();
        }
        break;
      case SIDECAR_MESSAGE_FAILED:
        return failed_status(record, (size_t)length, program);
      case SIDECAR_MESSAGE_EXIT: {
        if (length < SIDECAR_HEADER_BYTES + 12) return kExitUsage;
        int32_t code = (int32_t)get_u32(record + 4);
        uint32_t signo = get_u32(record + 8);
        uint32_t reason = get_u32(record + 12);
        if (master >= 0) {
          /* What the program wrote before it ended is in the master already. */
          fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
          while (relay(master, STDOUT_FILENO) == 0) {
            struct pollfd more = {master, POLLIN, 0};
            if (poll(&more, 1, 0) <= 0) break;
          }
          restore_terminal();
        }
        if (reason == SIDECAR_EXIT_REASON_MAX_RUNTIME || reason == SIDECAR_EXIT_REASON_CLOSE) {
          say("%s: ended by the server (%s)", program,
              reason == SIDECAR_EXIT_REASON_MAX_RUNTIME ? "it ran longer than the server allows" : "the server is closing");
        }
        return signo != 0 ? 128 + (int)signo : code;
      }
      default:
        say("sidecar server at %s sent a malformed message", g_socket_path);
        return kExitUsage;
    }
  }
}
