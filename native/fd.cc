// Descriptor utilities: pipes, socket pairs, opening a device, close, dup,
// a small file read below an open directory, and a short blocking wait for
// readability. Every descriptor created here is
// close-on-exec so that no spawn can leak it.
//
// Man pages: pipe2(2), socketpair(2), open(2), openat(2), read(2), close(2),
// fcntl(2) (F_DUPFD_CLOEXEC), ppoll(2), clock_gettime(2).

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include "util.h"

namespace sidecar {
namespace {

// The two ends a pipe2 or socketpair call made, as a JS array.
Napi::Array EndsArray(Napi::Env env, const int ends[2]) {
  UniqueFd first(ends[0]);
  UniqueFd second(ends[1]);
  return FdPair(env, first, second);
}

}  // namespace

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Args args(info, 0, "pipe(): [number, number]");
  Napi::Env env = args.Env();
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) ThrowErrno(env, errno, "pipe2");
  return EndsArray(env, ends);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Args args(info, 0, "socketPair(): [number, number]");
  Napi::Env env = args.Env();
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    ThrowErrno(env, errno, "socketpair");
  }
  return EndsArray(env, ends);
}

// Blocks the calling thread until fd is readable or timeout_ms passed. For
// the few places where waiting briefly beats a round of the event loop.
Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  Args args(info, 2, "waitReadable(fd: number, timeoutMs: number): boolean");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  int64_t timeout_ms = args.Integer(1, 0, INT32_MAX);
  timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  int64_t deadline_ns =
      deadline.tv_sec * 1000000000LL + deadline.tv_nsec + timeout_ms * 1000000LL;
  for (;;) {
    pollfd entry = {fd, POLLIN, 0};
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t left_ns = deadline_ns - (now.tv_sec * 1000000000LL + now.tv_nsec);
    if (left_ns < 0) left_ns = 0;
    timespec left = {static_cast<time_t>(left_ns / 1000000000LL),
                     static_cast<long>(left_ns % 1000000000LL)};
    int ready = ::ppoll(&entry, 1, &left, nullptr);
    if (ready > 0) return Napi::Boolean::New(env, true);
    if (ready == 0) return Napi::Boolean::New(env, false);
    if (errno != EINTR) ThrowErrno(env, errno, "ppoll");
  }
}

Napi::Value OpenReadWrite(const Napi::CallbackInfo& info) {
  Args args(info, 1, "openReadWrite(path: string): number");
  Napi::Env env = args.Env();
  std::string path = args.CString(0);
  // O_NOCTTY: opening a terminal must never make it the server's
  // controlling terminal.
  int fd = RetryOnEintr(
      [&] { return ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY); });
  if (fd < 0) ThrowErrno(env, errno, "open");
  return Napi::Number::New(env, fd);
}

// The first kReadAtLimit bytes of the file `name` in an open directory, as a
// string: a cgroup's control file (cgroup.events) read where the cgroup's
// directory is held open already. No path walk from the root of cgroupfs,
// and one call where fs.readFileSync takes four and a Buffer.
constexpr size_t kReadAtLimit = 4096;

Napi::Value ReadFileAt(const Napi::CallbackInfo& info) {
  Args args(info, 2, "readFileAt(dirFd: number, name: string): string");
  Napi::Env env = args.Env();
  int dir = args.Fd(0);
  std::string name = args.CString(1);
  // A name in the directory itself: never a path that leaves it.
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string::npos) {
    ThrowTypeError(env, "readFileAt: name must be a file name, not a path");
  }
  int fd = RetryOnEintr([&] {
    return ::openat(dir, name.c_str(),
                    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  });
  if (fd < 0) ThrowErrno(env, errno, "openat");
  UniqueFd file(fd);
  char buffer[kReadAtLimit];
  size_t length = 0;
  while (length < sizeof(buffer)) {
    ssize_t got = ::read(file.get(), buffer + length, sizeof(buffer) - length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) ThrowErrno(env, errno, "read");
    if (got == 0) break;
    length += static_cast<size_t>(got);
  }
  return Napi::String::New(env, buffer, length);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Args args(info, 1, "close(fd: number): void");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  // Linux releases the descriptor before it can report EINTR, so EINTR is
  // success and retrying would risk closing someone else's new descriptor.
  // Other errors (EIO...) are reported, but the descriptor is gone then too.
  if (::close(fd) != 0 && errno != EINTR) ThrowErrno(env, errno, "close");
  return env.Undefined();
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  Args args(info, 1, "dup(fd: number): number");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  // At 3 or above so a copy can never land on (and later be taken for)
  // the server's own stdin/stdout/stderr.
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) ThrowErrno(env, errno, "fcntl");
  return Napi::Number::New(env, copy);
}

}  // namespace sidecar
