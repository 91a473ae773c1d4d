// Shared helpers: descriptor ownership, errno-shaped errors, argument checks.
//
// Man pages: close(2), errno(3), signal(7), cmsg(3) (SCM_RIGHTS).

#include "util.h"

#include "errno-names.h"

#include <climits>
#include <cmath>
#include <csignal>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace sidecar {

void UniqueFd::reset(int fd) {
  // close(2) is not retried: on Linux the descriptor is released even when
  // close reports EINTR, and a retry could close a descriptor another thread
  // has just been given.
  if (fd_ >= 0) {
    int saved = errno;  // callers read errno after an owner goes out of scope
    ::close(fd_);
    errno = saved;
  }
  fd_ = fd;
}

const char* ErrnoName(int err) {
  const char* name = ErrnoNameOf(err);
  return name != nullptr ? name : "UNKNOWN";
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  const char* code = ErrnoName(err);
  Napi::Error error =
      Napi::Error::New(env, std::string(syscall) + " " + code);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  throw error;
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

Napi::Array FdPair(Napi::Env env, UniqueFd& first, UniqueFd& second) {
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, first.get()));
  result.Set(1u, Napi::Number::New(env, second.get()));
  first.release();
  second.release();
  return result;
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

void CheckArity(const Napi::CallbackInfo& info, size_t count,
                const char* usage) {
  // Extra arguments are ignored, as by any JS function: TypeScript accepts
  // e.g. fds.forEach(binding.close), which passes (fd, index, array).
  if (info.Length() < count) {
    ThrowTypeError(info.Env(), std::string("expected ") +
                                   std::to_string(count) +
                                   " argument(s); usage: " + usage);
  }
}

int64_t IntegerArg(Napi::Env env, const Napi::Value& value, int64_t min,
                   int64_t max, const char* usage) {
  if (!value.IsNumber()) {
    ThrowTypeError(env, std::string("expected an integer; usage: ") + usage);
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::trunc(number) != number) {
    ThrowTypeError(env, std::string("expected an integer; usage: ") + usage);
  }
  if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
    ThrowRangeError(env, std::string("integer out of range [") +
                             std::to_string(min) + ", " + std::to_string(max) +
                             "]; usage: " + usage);
  }
  return static_cast<int64_t>(number);
}

int FdArg(Napi::Env env, const Napi::Value& value, const char* usage) {
  return static_cast<int>(IntegerArg(env, value, 0, INT_MAX, usage));
}

int SignalArg(Napi::Env env, const Napi::Value& value, const char* usage) {
  return static_cast<int>(IntegerArg(env, value, 0, SIGRTMAX, usage));
}

std::string CStringArg(Napi::Env env, const Napi::Value& value,
                       const char* usage) {
  if (!value.IsString()) {
    ThrowTypeError(env, std::string("expected a string; usage: ") + usage);
  }
  std::string text = value.As<Napi::String>().Utf8Value();
  // An embedded NUL would silently cut the string the kernel sees (and turn
  // a socket path into an abstract address), so refuse it.
  if (text.find('\0') != std::string::npos) {
    ThrowTypeError(env,
                   std::string("string must not contain NUL bytes; usage: ") +
                       usage);
  }
  return text;
}

namespace {

// An array whose every element `convert(element)` accepts (or throws for).
template <typename T, typename Convert>
std::vector<T> ArrayArg(Napi::Env env, const Napi::Value& value,
                        const char* usage, Convert convert) {
  if (!value.IsArray()) {
    ThrowTypeError(env, std::string("expected an array; usage: ") + usage);
  }
  Napi::Array array = value.As<Napi::Array>();
  std::vector<T> elements;
  elements.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    elements.push_back(convert(array.Get(i)));
  }
  return elements;
}

}  // namespace

std::vector<int> FdArrayArg(Napi::Env env, const Napi::Value& value, int min,
                            const char* usage) {
  return ArrayArg<int>(env, value, usage, [&](const Napi::Value& element) {
    return static_cast<int>(IntegerArg(env, element, min, INT_MAX, usage));
  });
}

std::vector<std::string> CStringArrayArg(Napi::Env env,
                                         const Napi::Value& value,
                                         const char* usage) {
  return ArrayArg<std::string>(
      env, value, usage,
      [&](const Napi::Value& element) { return CStringArg(env, element, usage); });
}

Napi::Uint8Array BytesArg(Napi::Env env, const Napi::Value& value,
                          const char* usage) {
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env,
                   std::string("expected a Uint8Array; usage: ") + usage);
  }
  return value.As<Napi::Uint8Array>();
}

std::vector<UniqueFd> CollectFds(msghdr* message) {
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(message); c != nullptr;
       c = CMSG_NXTHDR(message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  return fds;
}

}  // namespace sidecar
