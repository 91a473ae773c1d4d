// AF_UNIX SOCK_SEQPACKET sockets: listen/accept/connect, one record per
// sendmsg/recvmsg with SCM_RIGHTS descriptor passing, and the peer's
// credentials. Every socket and every received descriptor is close-on-exec
// (SOCK_CLOEXEC, MSG_CMSG_CLOEXEC) so that no spawn can leak it.
//
// Man pages: socket(2), bind(2), chmod(2), unlink(2), listen(2), accept4(2),
// connect(2), sendmsg(2), recvmsg(2), cmsg(3), unix(7) (SCM_RIGHTS,
// SO_PEERCRED), getsockopt(2), poll(2) (POLLRDHUP).

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "util.h"

namespace sidecar {
namespace {

// SCM_MAX_FD in the kernel: the most descriptors one message can carry.
constexpr size_t kMaxFds = 253;

// Large enough for a full SCM_RIGHTS message, aligned like a cmsghdr as
// CMSG_FIRSTHDR requires.
union ControlBuffer {
  cmsghdr align;
  unsigned char bytes[CMSG_SPACE(kMaxFds * sizeof(int))];
};

// Fills a sockaddr_un for a filesystem path. False when the path (plus its
// terminating NUL) does not fit in sun_path.
bool MakeAddress(const std::string& path, sockaddr_un* address,
                 socklen_t* length) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.size() + 1 > sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.c_str(), path.size() + 1);
  *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                   path.size() + 1);
  return true;
}

// Validates the path argument of listen/connect and builds its address, or
// throws the errno the kernel would give for it.
void AddressOrThrow(Napi::Env env, const std::string& path,
                    const char* syscall, sockaddr_un* address,
                    socklen_t* length) {
  // An empty sun_path would mean autobind to an abstract address.
  if (path.empty()) ThrowErrno(env, ENOENT, syscall);
  if (!MakeAddress(path, address, length)) {
    ThrowErrno(env, ENAMETOOLONG, syscall);
  }
}

UniqueFd SeqpacketSocket(Napi::Env env) {
  UniqueFd fd(
      ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) ThrowErrno(env, errno, "socket");
  return fd;
}

// A msghdr for one record in one buffer (`vector` must outlive it); the
// caller adds the control part.
msghdr OneRecordMessage(iovec* vector, unsigned char* data, size_t length) {
  vector->iov_base = length > 0 ? data : nullptr;
  vector->iov_len = length;
  msghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_iov = vector;
  message.msg_iovlen = 1;
  return message;
}

// Builds { bytes, fds, truncated, fdsTruncated }; the descriptors stay owned
// by `fds` until the JS object exists, so a failure here cannot leak them.
Napi::Object MakeReceived(Napi::Env env, ssize_t bytes,
                          std::vector<UniqueFd>* fds, int flags) {
  Napi::Object result = Napi::Object::New(env);
  Napi::Array array = Napi::Array::New(env, fds->size());
  for (size_t i = 0; i < fds->size(); i++) {
    array.Set(static_cast<uint32_t>(i), Napi::Number::New(env, (*fds)[i].get()));
  }
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes)));
  result.Set("fds", array);
  result.Set("truncated", Napi::Boolean::New(env, (flags & MSG_TRUNC) != 0));
  result.Set("fdsTruncated",
             Napi::Boolean::New(env, (flags & MSG_CTRUNC) != 0));
  for (UniqueFd& fd : *fds) fd.release();
  return result;
}

}  // namespace

Napi::Value Listen(const Napi::CallbackInfo& info) {
  Args args(info, 3,
            "listen(path: string, mode: number, backlog: number): number");
  Napi::Env env = args.Env();
  std::string path = args.CString(0);
  mode_t mode = static_cast<mode_t>(args.Integer(1, 0, 07777));
  int backlog = static_cast<int>(args.Integer(2, 0, INT32_MAX));

  sockaddr_un address;
  socklen_t length;
  AddressOrThrow(env, path, "bind", &address, &length);
  UniqueFd fd = SeqpacketSocket(env);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    // Nothing was created (EADDRINUSE means the file is someone else's).
    ThrowErrno(env, errno, "bind");
  }
  // chmod before listen: until listen(2) every connect is refused, so no
  // client can get in under the umask-derived mode.
  const char* failed = nullptr;
  if (::chmod(path.c_str(), mode) != 0) {
    failed = "chmod";
  } else if (::listen(fd.get(), backlog) != 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    int err = errno;
    ::unlink(path.c_str());
    ThrowErrno(env, err, failed);  // fd closes as it unwinds
  }
  return Napi::Number::New(env, fd.release());
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  Args args(info, 1, "accept(fd: number): number");
  Napi::Env env = args.Env();
  int listener = args.Fd(0);
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) return Napi::Number::New(env, fd);
    // A connection reset while queued is not the listener's problem: try
    // the next one, as libuv does.
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Napi::Number::New(env, -1);
    }
    ThrowErrno(env, errno, "accept");
  }
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Args args(info, 1, "connect(path: string): number");
  Napi::Env env = args.Env();
  std::string path = args.CString(0);
  sockaddr_un address;
  socklen_t length;
  AddressOrThrow(env, path, "connect", &address, &length);
  UniqueFd fd = SeqpacketSocket(env);
  // AF_UNIX connect never goes in progress: it succeeds, or fails at once
  // (EAGAIN when the backlog is full, since the socket is non-blocking).
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) !=
      0) {
    ThrowErrno(env, errno, "connect");
  }
  return Napi::Number::New(env, fd.release());
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Args args(info, 5,
            "send(fd: number, data: Uint8Array, offset: number, length: "
            "number, fds: number[]): number");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  Napi::Uint8Array data = args.Bytes(1);
  size_t size = data.ElementLength();
  size_t offset =
      static_cast<size_t>(args.Integer(2, 0, static_cast<int64_t>(size)));
  size_t length = static_cast<size_t>(
      args.Integer(3, 0, static_cast<int64_t>(size - offset)));
  std::vector<int> fds = args.FdArray(4, 0);
  // The kernel would say the same; checking first keeps the buffer fixed.
  if (fds.size() > kMaxFds) ThrowErrno(env, EINVAL, "sendmsg");

  iovec vector;
  msghdr message = OneRecordMessage(&vector, data.Data() + offset, length);
  ControlBuffer control;
  if (!fds.empty()) {
    std::memset(&control, 0, sizeof(control));
    message.msg_control = control.bytes;
    message.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t sent = RetryOnEintr([&] {
    return ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  });
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Napi::Number::New(env, -1);
    }
    ThrowErrno(env, errno, "sendmsg");
  }
  return Napi::Number::New(env, static_cast<double>(sent));
}

Napi::Value Receive(const Napi::CallbackInfo& info) {
  Args args(info, 2,
            "receive(fd: number, buffer: Uint8Array): ReceivedMessage | null");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  Napi::Uint8Array buffer = args.Bytes(1);

  iovec vector;
  msghdr message =
      OneRecordMessage(&vector, buffer.Data(), buffer.ElementLength());
  ControlBuffer control;
  message.msg_control = control.bytes;
  message.msg_controllen = sizeof(control.bytes);
  ssize_t bytes = RetryOnEintr([&] {
    return ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  });
  if (bytes < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    ThrowErrno(env, errno, "recvmsg");
  }
  std::vector<UniqueFd> fds = CollectFds(&message);
  return MakeReceived(env, bytes, &fds, message.msg_flags);
}

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Args args(info, 1, "peerCredentials(fd: number): PeerCredentials");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  ucred credentials;
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    ThrowErrno(env, errno, "getsockopt");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, credentials.pid));
  result.Set("uid", Napi::Number::New(env, credentials.uid));
  result.Set("gid", Napi::Number::New(env, credentials.gid));
  return result;
}

// Whether the peer has hung up (or shut down its writing side), asked
// without reading: records still queued hide the end from recvmsg, not
// from poll.
Napi::Value PeerHungUp(const Napi::CallbackInfo& info) {
  Args args(info, 1, "peerHungUp(fd: number): boolean");
  Napi::Env env = args.Env();
  pollfd entry = {args.Fd(0), POLLRDHUP, 0};
  if (RetryOnEintr([&] { return ::poll(&entry, 1, 0); }) < 0) {
    ThrowErrno(env, errno, "poll");
  }
  if ((entry.revents & POLLNVAL) != 0) ThrowErrno(env, EBADF, "poll");
  // POLLERR: the connection failed (ECONNRESET), so no reply can arrive.
  return Napi::Boolean::New(
      env, (entry.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0);
}

}  // namespace sidecar
