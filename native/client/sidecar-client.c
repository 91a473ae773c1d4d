/*
 * sidecar-client: `sidecar exec` as a small native executable, for shims
 * that run on every call of a tool and should not pay Node.js's start-up.
 *
 *   sidecar-client --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]|PREFIX*]... [--expect-uid UID]
 *                  [--start-timeout MS] [--caller-env NAME]... [--] PROGRAM [ARG]...
 *
 * Same flags, protocol (docs/protocol.md, version 1), exit statuses and
 * stderr lines, word for word, as `sidecar exec` (examples/cli/exec.ts;
 * test/integration/native-client.test.js compares them): it passes its own fds 0-2, runs
 * PROGRAM with the server's environment plus each --env in the caller's
 * working directory (or --workdir), forwards the signals it can catch, and
 * exits with the status `sidecar exec` would give (the table before
 * failed_kind). Every wait before the program starts can be ended: SIGINT,
 * SIGTERM and SIGHUP give the request up (exit 128+N), and --start-timeout
 * bounds it (exit 124). With -t the program runs on a terminal of its own
 * on the server, relayed to this one; Ctrl-Z stops the remote program, then
 * this client. The protocol's constants come from protocol.h, generated
 * from src/protocol/index.ts.
 *
 * Man pages: socket(2), connect(2), sendmsg(2), recv(2), unix(7)
 * (SCM_RIGHTS, SO_PEERCRED), cmsg(3), signalfd(2), sigprocmask(2), poll(2),
 * read(2), getcwd(3), lstat(2), stat(2), dirname(3), getsockopt(2), environ(7),
 * recvmsg(2), termios(3) (cfmakeraw, tcsetattr), ioctl_tty(2) (TIOCGWINSZ,
 * TIOCSWINSZ), atexit(3).
 *
 * Built two ways: by node-gyp beside the addon (build/Release), and
 * statically (musl-gcc, or a cross gcc -static) by scripts/build-client.js
 * into prebuilds/linux-<arch>/, so that one file can be copied into any
 * image, glibc, musl or none, through a shared volume.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

/* Exit statuses of `sidecar exec` (examples/cli/sidecar.js), shared. */
enum {
  kExitTimedOut = 124,  /* no answer within --start-timeout, as coreutils' timeout */
  kExitUsage = 125,     /* sidecar itself failed: usage, no server... */
  kExitCannotRun = 126, /* the program was found but could not run */
  kExitNotFound = 127,  /* the program was not found */
};

/* Signals forwarded to the program, as `sidecar exec` forwards them; SIGTSTP stops it, then this client. */
static const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT, SIGTSTP};

static const char *g_socket_path = "";
static const char *g_program = "";

/*
 * The wait for the server before the program starts. Its deadline
 * (CLOCK_MONOTONIC ms, 0: none) comes from --start-timeout; signals arrive
 * on g_signals (signalfd) from before the connect on. Until the request is
 * whole, signals that do not give up are kept in g_pending (a record in the
 * middle of a request would break the protocol) and forwarded after it.
 */
static long long g_deadline_ms = 0;
static long g_start_timeout_ms = 0;
static int g_signals = -1;
static int g_request_sent = 0;
static unsigned long long g_pending = 0;

static const char kUsage[] =
    "usage: sidecar-client --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]|PREFIX*]... [--expect-uid UID] [--start-timeout MS] [--caller-env NAME]... [--] PROGRAM [ARG]...\n";

/* The errno names Node reports as `code`; the client says what Node says. */
static const struct {
  int number;
  const char *name;
} kErrnoNames[] = {
    {ENOENT, "ENOENT"},   {ECONNREFUSED, "ECONNREFUSED"}, {EACCES, "EACCES"},         {EAGAIN, "EAGAIN"},
    {ENOTSOCK, "ENOTSOCK"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {EPROTOTYPE, "EPROTOTYPE"}, {ENOTDIR, "ENOTDIR"},
    {ELOOP, "ELOOP"},     {EPERM, "EPERM"},               {EMFILE, "EMFILE"},         {ENFILE, "ENFILE"},
    {ENOMEM, "ENOMEM"},   {EINTR, "EINTR"},               {EIO, "EIO"},               {EINVAL, "EINVAL"},
    {ETIMEDOUT, "ETIMEDOUT"}, {ECONNRESET, "ECONNRESET"}, {EPIPE, "EPIPE"},
};

static const char *errno_name(int number) {
  for (size_t k = 0; k < sizeof(kErrnoNames) / sizeof(kErrnoNames[0]); k++) {
    if (kErrnoNames[k].number == number) return kErrnoNames[k].name;
  }
  return strerror(number);
}

/* Why connect(2) failed, in the words of src/errors/sidecar.ts (CONNECT_FAILURES). */
static const char *connect_failure(int number) {
  switch (number) {
    case ENOENT: return "no such socket file";
    case ECONNREFUSED: return "nothing is listening on it";
    case EACCES: return "permission denied";
    case EAGAIN: return "the server is too busy to accept";
    case ENOTSOCK: return "not a socket";
    case ENAMETOOLONG: return "the path is longer than a unix socket address allows";
    default: return NULL;
  }
}

/* One "sidecar: ..." line on stderr, as `sidecar exec` says every message. */
static void vsay(const char *format, va_list args) {
  fputs("sidecar: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
}

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsay(format, args);
  va_end(args);
}

/* A mistake in the command line: its line, the usage, exit 125. */
static void usage_exit(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_exit(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsay(format, args);
  va_end(args);
  fputs(kUsage, stderr);
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

static int send_signal(int sock, int signo);
static void stop_with_program(int sock);

static long long now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The request was given up: say why and exit; the kernel closes the connection, so the server starts nothing. */
static void give_up(const char *why, int status) __attribute__((noreturn));
static void give_up(const char *why, int status) {
  say("%s: %s; the request was given up", g_program, why);
  exit(status);
}

/* poll(2)'s timeout until the start deadline (-1 without one); past it, the request is given up. */
static int time_left(void) {
  if (g_deadline_ms == 0) return -1;
  long long left = g_deadline_ms - now_ms();
  if (left <= 0) {
    char why[160];
    snprintf(why, sizeof(why), "the sidecar server at %s did not answer within --start-timeout (%ld ms)", g_socket_path,
             g_start_timeout_ms);
    give_up(why, kExitTimedOut);
  }
  return left > 60000 ? 60000 : (int)left;
}

/* The signals that end the wait before the program starts, with the names the line gives them. */
static const char *give_up_name(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return NULL;
  }
}

/*
 * Reads the signals caught while the program has not started: SIGINT,
 * SIGTERM and SIGHUP give the request up (exit 128+N, as a shell reports a
 * command the signal ended); others are forwarded once the request is whole
 * (the server has no program to give them to yet, as for a local child
 * signalled before it ran).
 */
static void take_signals_before_start(int sock) {
  struct signalfd_siginfo info;
  while (read(g_signals, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
    int signo = (int)info.ssi_signo;
    const char *name = give_up_name(signo);
    if (name != NULL) {
      char why[64];
      snprintf(why, sizeof(why), "interrupted by %s before it started", name);
      give_up(why, 128 + signo);
    }
    if (signo == SIGTSTP) {
      stop_with_program(sock);
    } else if (g_request_sent) {
      send_signal(sock, signo);
    } else if (signo == SIGCONT && (g_pending & (1ULL << SIGTSTP))) {
      g_pending &= ~(1ULL << SIGTSTP); /* stopped and continued before the request left: nothing to tell */
    } else if (signo < 64) {
      g_pending |= 1ULL << signo;
    }
  }
}

/* Waits until `sock` has `events` (or an error), taking signals and minding the deadline meanwhile. */
static void wait_before_start(int sock, short events) {
  for (;;) {
    struct pollfd watched[2] = {{sock, events, 0}, {g_signals, POLLIN, 0}};
    int ready = poll(watched, 2, time_left());
    if (ready < 0 && errno != EINTR) return; /* the retried call reports what is wrong */
    if (ready <= 0) continue;                /* time_left() ends a wait past the deadline */
    if (watched[1].revents & POLLIN) take_signals_before_start(sock);
    if (watched[0].revents) return;
  }
}

/*
 * Sends one record; fds ride on it when count > 0. The socket does not
 * block: before the program starts, a full socket (a stopped server) is
 * waited for with the signals and the deadline; after it, a signal record
 * that does not fit is dropped rather than freeze the client (only a server
 * that stopped reading leaves hundreds of them unread).
 */
/* SCM_RIGHTS room of a record: 3 fds go out (stdio), 1 is expected in (a terminal's master); the kernel drops any past 4. */
union Control {
  struct cmsghdr align;
  char bytes[CMSG_SPACE(4 * sizeof(int))];
};

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
    if (errno == EAGAIN && g_signals >= 0 && !g_request_sent) {
      wait_before_start(sock, POLLOUT);
      continue;
    }
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
  if (!g_request_sent) return 0; /* never inside the request: take_signals_before_start keeps it */
  unsigned char record[8];
  header(record, SIDECAR_MESSAGE_SIGNAL);
  record[4] = signo & 0xff;
  record[5] = record[6] = record[7] = 0;
  return send_record(sock, record, sizeof(record), NULL, 0);
}

/*
 * -t: the program runs on a terminal of its own on the server, whose master
 * comes with STARTED. The local terminal is put in raw mode (every key,
 * Ctrl-C included, goes to the remote terminal) and restored at exit, which
 * every way out of this client takes: the signals it catches arrive through
 * its signalfd and end in a return from main or an exit(). Bytes are relayed
 * both ways with plain blocking writes.
 */
static struct termios g_saved_terminal;
static int g_terminal_raw = 0;
/* Raw mode was left for a stop (Ctrl-Z) and is taken again at SIGCONT. */
static int g_raw_before_stop = 0;

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
static void resume_terminal(void) {
  struct termios raw = g_saved_terminal;
  cfmakeraw(&raw);
  if (g_raw_before_stop && tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) g_terminal_raw = 1;
  g_raw_before_stop = 0;
}

/*
 * Ctrl-Z (SIGTSTP, which the terminal sends to this client's process group,
 * not to the remote program's): SIGTSTP is forwarded, and the server stops
 * the program as the kernel would stop a local one (src/server/stop-signal.ts);
 * then this client stops as SIGTSTP's default action would stop it, with
 * the terminal restored. `fg` or `bg` continue it with SIGCONT, which is
 * forwarded, so the program continues too. Before the request is whole,
 * the stop is kept for after it (g_pending).
 */
static void stop_with_program(int sock) {
  if (g_request_sent) {
    send_signal(sock, SIGTSTP);
  } else {
    g_pending |= 1ULL << SIGTSTP;
  }
  g_raw_before_stop = g_terminal_raw;
  restore_terminal();
  raise(SIGSTOP);
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

/* What the program wrote before it ended is in the master already: copy it out, then give the terminal back. */
static void drain_master(int master) {
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  while (relay(master, STDOUT_FILENO) == 0) {
    struct pollfd more = {master, POLLIN, 0};
    if (poll(&more, 1, 0) <= 0) break;
  }
  restore_terminal();
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

/*
 * Exit statuses, the same rows as `sidecar exec`'s:
 *
 *   what happened                                   status
 *   cannot connect, bad usage, no server            125
 *   FAILED  any code, syscall "chdir"               125  the working directory is not usable on the server
 *   FAILED  code ENOENT, syscall "interpreter"      127  the #! line names a missing interpreter
 *   FAILED  code ENOENT (any other syscall)         127  program not found
 *   FAILED  code ERR_SIDECAR_DENIED                 126  refused by the server's policy
 *   FAILED  any other ERR_SIDECAR_* code            125  the server failed, not the program
 *   FAILED  any other (errno) code                  126  found but cannot run
 *   EXIT    the program exited with status S        S
 *   EXIT    the program was killed by signal N      128+N
 *   no answer within --start-timeout                124  the request was given up
 *   SIGINT, SIGTERM, SIGHUP before STARTED          128+N the request was given up
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
enum FailedKind { kWorkdir, kInterpreter, kNotFound, kDenied, kSidecarFailed, kCannotRun };

static const int kFailedStatus[] = {
    [kWorkdir] = kExitUsage,
    [kInterpreter] = kExitNotFound,
    [kNotFound] = kExitNotFound,
    [kDenied] = kExitCannotRun,
    [kSidecarFailed] = kExitUsage,
    [kCannotRun] = kExitCannotRun,
};

/* One test per row of the table, in its order: the first match wins. */
static enum FailedKind failed_kind(const char *code, const char *syscall_name) {
  static const char kSidecarPrefix[] = "ERR_SIDECAR_";
  if (strcmp(syscall_name, "chdir") == 0) return kWorkdir;
  if (strcmp(code, "ENOENT") == 0 && strcmp(syscall_name, "interpreter") == 0) return kInterpreter;
  if (strcmp(code, "ENOENT") == 0) return kNotFound;
  if (strcmp(code, "ERR_SIDECAR_DENIED") == 0) return kDenied;
  if (strncmp(code, kSidecarPrefix, sizeof(kSidecarPrefix) - 1) == 0) return kSidecarFailed;
  return kCannotRun;
}

/*
 * The message of the error the Node client makes of a spawn failure
 * (src/errors/sidecar.ts): child_process words the errors it emits
 * 'spawn FILE CODE' and those it throws 'spawn CODE'; the server's own
 * words follow for the steps worth naming (detail).
 */
static void spawn_message(char *out, size_t size, const char *program, const char *code, const char *detail) {
  static const char *const kEmitted[] = {"EACCES", "EAGAIN", "EMFILE", "ENFILE", "ENOENT"};
  int emitted = 0;
  for (size_t k = 0; k < sizeof(kEmitted) / sizeof(kEmitted[0]); k++) emitted |= strcmp(code, kEmitted[k]) == 0;
  int length = emitted ? snprintf(out, size, "spawn %s %s", program, code) : snprintf(out, size, "spawn %s", code);
  if (detail != NULL && length >= 0 && (size_t)length < size) snprintf(out + length, size - (size_t)length, ": %s", detail);
}

/* The exit status and stderr line for a FAILED reply, worded as `sidecar exec` words them. */
static int failed_status(const unsigned char *record, size_t length, const char *program) {
  /* code and syscall are short names; the message may take the whole limit. */
  char code[128], syscall_name[128], text[SIDECAR_MAX_REPLY_STRING_BYTES + 1];
  char message[2 * SIDECAR_MAX_REPLY_STRING_BYTES];
  size_t offset = SIDECAR_HEADER_BYTES + 4;
  get_string(record, length, &offset, code, sizeof(code));
  get_string(record, length, &offset, syscall_name, sizeof(syscall_name));
  get_string(record, length, &offset, text, sizeof(text));
  enum FailedKind kind = failed_kind(code, syscall_name);
  switch (kind) {
    case kWorkdir:
    case kInterpreter:
      spawn_message(message, sizeof(message), program, code, text);
      say("%s", message);
      break;
    case kNotFound:
      say("%s: command not found on the server at %s", program, g_socket_path);
      break;
    case kDenied:
    case kSidecarFailed:
      say("spawn %s: %s (sidecar server at %s)", program, text, g_socket_path);
      break;
    case kCannotRun:
      spawn_message(message, sizeof(message), program, code, NULL);
      say("cannot run %s: %s", program, message);
      break;
  }
  return kFailedStatus[kind];
}

/*
 * What the file at the socket path is, when connect(2) was refused for a
 * reason that is not "nothing listens": a regular file or a directory
 * refuses as a dead socket does (ECONNREFUSED). NULL for a socket.
 */
static const char *not_a_socket(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || S_ISSOCK(st.st_mode)) return NULL;
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISREG(st.st_mode)) return "a regular file";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  return "a device";
}

/* The line for a connect(2) that failed with `number`, worded as src/errors/sidecar.ts connectError words it. */
static int connect_failed(int number) {
  const char *kind = number == ECONNREFUSED ? not_a_socket(g_socket_path) : NULL;
  if (kind != NULL) {
    say("cannot connect to the sidecar server at %s: ENOTSOCK (%s is not a socket: it is %s)", g_socket_path, g_socket_path, kind);
  } else if (number == EPROTOTYPE) {
    say("cannot connect to the sidecar server at %s: EPROTOTYPE (%s is a stream socket, not a sidecar server)", g_socket_path,
        g_socket_path);
  } else if (connect_failure(number) != NULL) {
    say("cannot connect to the sidecar server at %s: %s (%s)", g_socket_path, errno_name(number), connect_failure(number));
  } else {
    say("cannot connect to the sidecar server at %s: %s", g_socket_path, errno_name(number));
  }
  return kExitUsage;
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

extern char **environ;

/* A flag's value as a decimal number of at most `max`: digits only, as `sidecar exec` takes it. */
static int decimal(const char *value, unsigned long max, unsigned long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtoul(value, &end, 10);
  return value[0] >= '0' && value[0] <= '9' && *end == '\0' && errno == 0 && *out <= max;
}

/*
 * --caller-env NAME[,NAME]...: the request's bits for the variables whose
 * values stand as the caller gave them (--env), where the server would make
 * them fit its side. The names are those of sidecar exec's --caller-env.
 */
static uint32_t caller_env_bits(const char *value) {
  static const struct {
    const char *name;
    uint32_t bit;
  } kNames[] = {
      {"PATH", SIDECAR_REQUEST_CALLER_PATH},     {"HOME", SIDECAR_REQUEST_CALLER_HOME},
      {"TMPDIR", SIDECAR_REQUEST_CALLER_TMPDIR}, {"SHELL", SIDECAR_REQUEST_CALLER_SHELL},
      {"USER", SIDECAR_REQUEST_CALLER_USER},     {"LOGNAME", SIDECAR_REQUEST_CALLER_LOGNAME},
  };
  uint32_t bits = 0;
  for (const char *name = value;;) {
    size_t length = strcspn(name, ",");
    uint32_t bit = 0;
    for (size_t k = 0; k < sizeof(kNames) / sizeof(kNames[0]); k++) {
      if (strlen(kNames[k].name) == length && strncmp(kNames[k].name, name, length) == 0) bit = kNames[k].bit;
    }
    if (bit == 0) usage_exit("--caller-env must name only PATH, HOME, TMPDIR, SHELL, USER, LOGNAME");
    bits |= bit;
    if (name[length] == '\0') return bits;
    name += length + 1;
  }
}

/* The command line, as `sidecar exec` reads it (examples/cli/args.ts, exec.ts). */
struct Options {
  const char *connect, *workdir, *expect_uid, *start_timeout;
  int connect_count, workdir_count, expect_uid_count, start_timeout_count, help, tty;
  /* The --caller-env bits (SIDECAR_REQUEST_CALLER_*). */
  uint32_t caller_env;
  /* The --env values, in order: pointers into argv. */
  const char **env;
  int envc;
  /* argv index of PROGRAM (argc when there is none). */
  int program;
};

/* Records one value of a single-valued flag; a repeat is judged later, as `single()` judges it. */
static void keep(const char **slot, int *count, const char *value) {
  if (*count == 0) *slot = value;
  (*count)++;
}

/*
 * Options end at the first word that is not a long option (or after `--`):
 * that word is PROGRAM, and everything from it on is the program's. Errors
 * come in the order `sidecar exec` finds them: while reading the words,
 * then per flag.
 */
static void parse_options(int argc, char **argv, struct Options *options) {
  options->env = calloc((size_t)argc, sizeof(*options->env));
  if (options->env == NULL) usage_exit("out of memory");
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(arg, "-t") == 0) {
      options->tty = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') break;
    const char *eq = strchr(arg, '=');
    int name_length = eq ? (int)(eq - arg) : (int)strlen(arg);
    if (strncmp(arg, "--help", (size_t)name_length) == 0 && name_length == 6) {
      if (eq != NULL) usage_exit("--help takes no value");
      options->help = 1;
      continue;
    }
    if (strncmp(arg, "--tty", (size_t)name_length) == 0 && name_length == 5) {
      if (eq != NULL) usage_exit("--tty takes no value");
      options->tty = 1;
      continue;
    }
    static const char *const kValued[] = {"--connect", "--workdir", "--env", "--expect-uid", "--start-timeout", "--caller-env"};
    int known = -1;
    for (int k = 0; k < 6; k++) {
      if ((int)strlen(kValued[k]) == name_length && strncmp(arg, kValued[k], (size_t)name_length) == 0) known = k;
    }
    if (known < 0) usage_exit("unknown option %.*s", name_length, arg);
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (value == NULL) usage_exit("%.*s needs a value", name_length, arg);
    switch (known) {
      case 0: keep(&options->connect, &options->connect_count, value); break;
      case 1: keep(&options->workdir, &options->workdir_count, value); break;
      case 2: options->env[options->envc++] = value; break;
      case 3: keep(&options->expect_uid, &options->expect_uid_count, value); break;
      case 4: keep(&options->start_timeout, &options->start_timeout_count, value); break;
      default: options->caller_env |= caller_env_bits(value); break;
    }
  }
  options->program = i;
}

/* Appends NAME=VALUE to the request's environment. */
static void put_pair(struct Bytes *env, uint32_t *envc, const char *name, size_t name_length, const char *value) {
  size_t size = name_length + strlen(value) + 2;
  char *pair = malloc(size);
  if (pair == NULL) usage_exit("out of memory");
  snprintf(pair, size, "%.*s=%s", (int)name_length, name, value);
  put_string(env, pair);
  free(pair);
  (*envc)++;
}

/*
 * The environment overlay: NAME=VALUE as given, NAME with the caller's own
 * value (nothing when it has none), PREFIX* with each of the caller's
 * variables whose name starts with PREFIX (CCACHE_*, LC_*).
 */
static void env_overlay(const struct Options *options, struct Bytes *env, uint32_t *envc) {
  for (int k = 0; k < options->envc; k++) {
    const char *entry = options->env[k];
    const char *eq = strchr(entry, '=');
    size_t length = strlen(entry);
    if (eq == entry) usage_exit("--env needs NAME or NAME=VALUE: %s", entry);
    if (eq != NULL) {
      put_string(env, entry);
      (*envc)++;
    } else if (length > 0 && entry[length - 1] == '*') {
      for (char **variable = environ; *variable != NULL; variable++) {
        const char *split = strchr(*variable, '=');
        if (split != NULL && split != *variable && strncmp(*variable, entry, length - 1) == 0) {
          put_pair(env, envc, *variable, (size_t)(split - *variable), split + 1);
        }
      }
    } else if (getenv(entry) != NULL) {
      put_pair(env, envc, entry, length, getenv(entry));
    }
  }
}

/* One reply: the exit status to end with, or -1 to go on (STARTED sets *started). */
static int on_record(const unsigned char *record, size_t length, int *started) {
  if (length < SIDECAR_HEADER_BYTES || record[0] != SIDECAR_PROTOCOL_VERSION) {
    say("sidecar server at %s sent a malformed message", g_socket_path);
    return kExitUsage;
  }
  switch (record[1]) {
    case SIDECAR_MESSAGE_STARTED:
      *started = 1;
      return -1;
    case SIDECAR_MESSAGE_FAILED:
      return failed_status(record, length, g_program);
    case SIDECAR_MESSAGE_EXIT: {
      if (length < SIDECAR_HEADER_BYTES + 12) return kExitUsage;
      int32_t code = (int32_t)get_u32(record + 4);
      uint32_t signo = get_u32(record + 8);
      uint32_t reason = get_u32(record + 12);
      if (reason == SIDECAR_EXIT_REASON_MAX_RUNTIME || reason == SIDECAR_EXIT_REASON_CLOSE) {
        say("%s: ended by the server (%s)", g_program,
            reason == SIDECAR_EXIT_REASON_MAX_RUNTIME ? "it ran longer than the server allows" : "the server is closing");
      }
      return signo != 0 ? 128 + (int)signo : code;
    }
    default:
      say("sidecar server at %s sent a malformed message", g_socket_path);
      return kExitUsage;
  }
}

int main(int argc, char **argv) {
  struct Options options = {0};
  parse_options(argc, argv, &options);
  if (options.help) {
    fputs(kUsage, stdout);
    return 0;
  }
  if (options.connect_count > 1) usage_exit("--connect given more than once");
  if (options.connect_count == 0) options.connect = getenv("SIDECAR_SOCKET");
  if (options.connect == NULL || options.connect[0] == '\0') usage_exit("exec needs --connect PATH (or SIDECAR_SOCKET)");
  g_socket_path = options.connect;
  int i = options.program;
  if (i >= argc) usage_exit("exec needs a PROGRAM");
  if (options.expect_uid_count > 1) usage_exit("--expect-uid given more than once");
  int expect_uid = options.expect_uid_count > 0;
  unsigned long expected_uid = 0;
  if (expect_uid) {
    if (!decimal(options.expect_uid, 4294967294UL, &expected_uid)) {
      usage_exit("--expect-uid takes a numeric uid: %s", options.expect_uid);
    }
  }
  if (options.start_timeout_count > 1) usage_exit("--start-timeout given more than once");
  if (options.start_timeout_count > 0) {
    unsigned long ms = 0;
    if (!decimal(options.start_timeout, 2147483647UL, &ms)) {
      usage_exit("--start-timeout takes milliseconds, an integer below 2147483648: %s", options.start_timeout);
    }
    g_start_timeout_ms = (long)ms;
  }
  if (options.workdir_count > 1) usage_exit("--workdir given more than once");
  const char *workdir = options.workdir;
  struct Bytes env = {0};
  uint32_t envc = 0;
  env_overlay(&options, &env, &envc);
  free(options.env);
  const char *program = argv[i];
  g_program = program;
  const int tty = options.tty;
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
  put_u32(&payload, SIDECAR_REQUEST_SERVER_ENV | options.caller_env | (tty ? SIDECAR_REQUEST_TERMINAL : 0));
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
    return connect_failed(ENAMETOOLONG);
  }
  strcpy(address.sun_path, g_socket_path);
  char why[512];
  if (expect_uid && socket_owner_refused(expected_uid, why, sizeof(why))) {
    say("cannot connect to the sidecar server at %s: EPERM (%s)", g_socket_path, why);
    return kExitUsage;
  }
  /* Signals become readable events, from here on: nothing runs in a
     handler, and every wait below also watches them. */
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (size_t k = 0; k < sizeof(kForwarded) / sizeof(kForwarded[0]); k++) sigaddset(&forwarded, kForwarded[k]);
  sigprocmask(SIG_BLOCK, &forwarded, NULL);
  g_signals = signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK);
  if (g_signals < 0) {
    say("signalfd: %s", strerror(errno));
    return kExitUsage;
  }
  if (g_start_timeout_ms > 0) g_deadline_ms = now_ms() + g_start_timeout_ms;

  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0) return connect_failed(errno);
  while (connect(sock, (struct sockaddr *)&address, sizeof(address)) != 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return connect_failed(errno);
    /* The server's backlog is full: it is busy, not gone. Try again in a
       moment, as a blocking connect would wait, but still interruptible. */
    struct pollfd signals_only = {g_signals, POLLIN, 0};
    int left = time_left();
    if (poll(&signals_only, 1, left < 0 || left > 5 ? 5 : left) > 0) take_signals_before_start(sock);
  }
  if (expect_uid && peer_refused(sock, expected_uid, why, sizeof(why))) {
    say("cannot connect to the sidecar server at %s: EPERM (%s)", g_socket_path, why);
    return kExitUsage;
  }

  if (send_request(sock, &payload, tty ? 0 : 3) != 0) {
    say("cannot send the request to %s: %s", g_socket_path, strerror(errno));
    return kExitUsage;
  }
  free(payload.data);
  free(env.data);
  g_request_sent = 1;
  for (int signo = 1; signo < 64; signo++) {
    if (g_pending & (1ULL << signo)) send_signal(sock, signo);
  }

  static unsigned char record[SIDECAR_MAX_RECORD_BYTES];
  /* With -t, also the local terminal's input and, once it came, the master. */
  struct pollfd watched[4] = {{sock, POLLIN, 0}, {g_signals, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
  int started = 0;
  int master = -1;
  for (;;) {
    int ready = poll(watched, 4, started ? -1 : time_left());
    if (ready < 0) {
      if (errno == EINTR) continue;
      say("poll: %s", strerror(errno));
      return kExitCannotRun;
    }
    if (ready == 0) continue; /* time_left() gives up past the deadline */
    if ((watched[2].revents & (POLLIN | POLLHUP | POLLERR)) && relay(STDIN_FILENO, master) < 0) watched[2].fd = -1;
    if ((watched[3].revents & (POLLIN | POLLHUP | POLLERR)) && relay(master, STDOUT_FILENO) < 0) watched[3].fd = -1;
    /* The socket first: a STARTED that came with a signal makes it one for the program. */
    if (watched[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      int received = -1;
      ssize_t length = receive_record(sock, record, sizeof(record), &received);
      int is_started = length >= SIDECAR_HEADER_BYTES && record[1] == SIDECAR_MESSAGE_STARTED;
      if (received >= 0 && !(tty && master < 0 && is_started)) {
        close(received); /* only STARTED of a request for a terminal carries one */
        received = -1;
      }
      if (length < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (length <= 0) {
        say("connection to the sidecar server at %s ended before the program's exit was reported", g_socket_path);
        return kExitCannotRun;
      }
      if (tty && is_started) {
        if (received < 0) {
          say("sidecar server at %s sent a malformed message", g_socket_path);
          return kExitUsage;
        }
        master = received;
        watched[2].fd = STDIN_FILENO;
        watched[3].fd = master;
        make_terminal_raw();
      }
      if (master >= 0 && length >= SIDECAR_HEADER_BYTES && record[1] == SIDECAR_MESSAGE_EXIT) drain_master(master);
      int status = on_record(record, (size_t)length, &started);
      if (status >= 0) return status;
    }
    if (!(watched[1].revents & POLLIN)) continue;
    if (!started) {
      take_signals_before_start(sock);
      continue;
    }
    struct signalfd_siginfo info;
    while (read(g_signals, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
      int signo = (int)info.ssi_signo;
      if (signo == SIGTSTP) {
        stop_with_program(sock);
      } else if (master >= 0 && signo == SIGWINCH) {
        /* The terminal's own: its size goes to the master, whose program then gets SIGWINCH. */
        struct winsize size = local_size();
        ioctl(master, TIOCSWINSZ, &size);
      } else {
        if (signo == SIGCONT) resume_terminal();
        send_signal(sock, signo);
      }
    }
  }
}
