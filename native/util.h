// Shared helpers of the addon: an owning fd wrapper, errno-shaped JS errors,
// EINTR retry, argument checking, and the declarations of every exported
// entry point (one header so the export table in addon.cc and the
// definitions cannot drift apart).
//
// Man pages: errno(3) (EINTR, for RetryOnEintr); those of the helpers'
// bodies are listed in util.cc.

#ifndef SIDECAR_EXEC_UTIL_H_
#define SIDECAR_EXEC_UTIL_H_

#include <napi.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace sidecar {

// Owns one descriptor so that every early return or exception closes it.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Hands ownership to the caller (typically to JavaScript).
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Takes ownership of every descriptor of every SCM_RIGHTS control message
// of a received `message`.
std::vector<UniqueFd> CollectFds(msghdr* message);

// Repeats a system call interrupted by a signal handler. Only for calls that
// are safe to repeat (never close(2): on Linux the fd is gone after EINTR).
template <typename F>
auto RetryOnEintr(F call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

// "ENOENT" for ENOENT; "UNKNOWN" if the C library has no name for it.
const char* ErrnoName(int err);

// Throws an Error shaped { message: "<syscall> <CODE>", errno, code, syscall }
// with a positive errno, as the contract in src/binding/index.ts says.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);

// [first, second] as a JS array of fd numbers. Both stay owned (closed on a
// throw) until the array exists; then they are released to JavaScript.
Napi::Array FdPair(Napi::Env env, UniqueFd& first, UniqueFd& second);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);

// Argument checks. Each throws a TypeError (RangeError for a value of the
// right type outside its domain) whose message is the function's usage line.
// At least `count` arguments (extra ones are ignored).
void CheckArity(const Napi::CallbackInfo& info, size_t count,
                const char* usage);
// An integral Number in [min, max].
int64_t IntegerArg(Napi::Env env, const Napi::Value& value, int64_t min,
                   int64_t max, const char* usage);
// A descriptor: an integer in [0, INT_MAX].
int FdArg(Napi::Env env, const Napi::Value& value, const char* usage);
// A signal number: an integer in [0, SIGRTMAX]; 0 only probes.
int SignalArg(Napi::Env env, const Napi::Value& value, const char* usage);
// A string without NUL bytes (it is handed to the kernel as a C string).
std::string CStringArg(Napi::Env env, const Napi::Value& value,
                       const char* usage);
// An array of descriptors (each an integer >= min, usually 0 or -1).
std::vector<int> FdArrayArg(Napi::Env env, const Napi::Value& value, int min,
                            const char* usage);
std::vector<std::string> CStringArrayArg(Napi::Env env,
                                         const Napi::Value& value,
                                         const char* usage);
// A Uint8Array (Buffer included); its data pointer already accounts for
// byteOffset.
Napi::Uint8Array BytesArg(Napi::Env env, const Napi::Value& value,
                          const char* usage);

// The positional arguments of one entry point, checked against its usage
// line: the constructor checks the arity (CheckArity), and each getter
// converts argument `index` with the matching *Arg function above.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, size_t count, const char* usage)
      : info_(info), usage_(usage) {
    CheckArity(info, count, usage);
  }

  Napi::Env Env() const { return info_.Env(); }
  const char* usage() const { return usage_; }

  int64_t Integer(size_t index, int64_t min, int64_t max) const {
    return IntegerArg(Env(), info_[index], min, max, usage_);
  }
  int Fd(size_t index) const { return FdArg(Env(), info_[index], usage_); }
  int Signal(size_t index) const {
    return SignalArg(Env(), info_[index], usage_);
  }
  std::string CString(size_t index) const {
    return CStringArg(Env(), info_[index], usage_);
  }
  std::vector<int> FdArray(size_t index, int min) const {
    return FdArrayArg(Env(), info_[index], min, usage_);
  }
  Napi::Uint8Array Bytes(size_t index) const {
    return BytesArg(Env(), info_[index], usage_);
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* usage_;
};

// Entry points: socket.cc
Napi::Value Listen(const Napi::CallbackInfo& info);
Napi::Value Accept(const Napi::CallbackInfo& info);
Napi::Value Connect(const Napi::CallbackInfo& info);
Napi::Value Send(const Napi::CallbackInfo& info);
Napi::Value Receive(const Napi::CallbackInfo& info);
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);
Napi::Value PeerHungUp(const Napi::CallbackInfo& info);

// Entry points: fd.cc
Napi::Value Pipe(const Napi::CallbackInfo& info);
Napi::Value SocketPair(const Napi::CallbackInfo& info);
Napi::Value WaitReadable(const Napi::CallbackInfo& info);
Napi::Value OpenReadWrite(const Napi::CallbackInfo& info);
Napi::Value ReadFileAt(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);
Napi::Value Dup(const Napi::CallbackInfo& info);

// Entry points: closer.cc
Napi::Value CloseOffLoop(const Napi::CallbackInfo& info);
Napi::Value CloseConnection(const Napi::CallbackInfo& info);

// Entry points: spawn.cc
Napi::Value Spawn(const Napi::CallbackInfo& info);

// pty.cc
Napi::Value OpenPty(const Napi::CallbackInfo& info);
Napi::Value SetTerminalSize(const Napi::CallbackInfo& info);

// Entry points: process.cc
Napi::Value WaitPidfd(const Napi::CallbackInfo& info);
Napi::Value PidfdSignal(const Napi::CallbackInfo& info);
Napi::Value PidfdOpenPid(const Napi::CallbackInfo& info);
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);

// Entry points: sync.cc
Napi::Value ExchangeSync(const Napi::CallbackInfo& info);

// Entry points: poll.cc (the Poller class constructor).
Napi::Function DefinePoller(Napi::Env env);

}  // namespace sidecar

#endif  // SIDECAR_EXEC_UTIL_H_
