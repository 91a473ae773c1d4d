// Waiting for and signalling started programs. A pidfd names exactly one
// process, so neither a wait nor a signal can hit a recycled pid; kill(2) by
// pid is kept for process groups, which have no pidfd.
//
// Man pages: waitid(2) (P_PIDFD), pidfd_send_signal(2), pidfd_open(2),
// kill(2).

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

#include "util.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424  // same number on every architecture
#endif

namespace sidecar {
namespace {

// idtype_t value of P_PIDFD (Linux 5.4); spelled out because older C
// libraries have no enumerator for it.
constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);

Napi::Object MakeWaitResult(Napi::Env env, const siginfo_t& status) {
  Napi::Object result = Napi::Object::New(env);
  if (status.si_code == CLD_EXITED) {
    result.Set("exitCode", Napi::Number::New(env, status.si_status));
    result.Set("signal", env.Null());
  } else {
    // CLD_KILLED or CLD_DUMPED: WEXITED reports nothing else.
    result.Set("exitCode", env.Null());
    result.Set("signal", Napi::Number::New(env, status.si_status));
  }
  return result;
}

}  // namespace

Napi::Value WaitPidfd(const Napi::CallbackInfo& info) {
  static const char kUsage[] = "waitPidfd(pidfd: number): WaitResult | null";
  Napi::Env env = info.Env();
  CheckArity(info, 1, kUsage);
  int pidfd = FdArg(env, info[0], kUsage);
  siginfo_t status = {};
  int rc = RetryOnEintr([&] {
    return ::waitid(kPidfdIdType, static_cast<id_t>(pidfd), &status,
                    WEXITED | WNOHANG);
  });
  if (rc != 0) ThrowErrno(env, errno, "waitid");
  // WNOHANG with a live child: success with si_pid left at 0.
  if (status.si_pid == 0) return env.Null();
  return MakeWaitResult(env, status);
}

Napi::Value PidfdSignal(const Napi::CallbackInfo& info) {
  static const char kUsage[] = "pidfdSignal(pidfd: number, signal: number): void";
  Napi::Env env = info.Env();
  CheckArity(info, 2, kUsage);
  int pidfd = FdArg(env, info[0], kUsage);
  int signal = SignalArg(env, info[1], kUsage);
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0) {
    ThrowErrno(env, errno, "pidfd_send_signal");
  }
  return env.Undefined();
}

Napi::Value Kill(const Napi::CallbackInfo& info) {
  static const char kUsage[] =
      "kill(pid: number, signal: number): void (pid > 0 or a process group "
      "-pgid < -1)";
  Napi::Env env = info.Env();
  CheckArity(info, 2, kUsage);
  int pid = static_cast<int>(IntegerArg(env, info[0], INT_MIN + 1, INT_MAX, kUsage));
  int signal = SignalArg(env, info[1], kUsage);
  // 0 is the server's own process group and -1 every process it may signal:
  // neither can be a program it started, only a bug upstream (e.g. -pgid
  // computed from a missing pgid), so refuse them.
  if (pid == 0 || pid == -1) {
    ThrowRangeError(env, std::string("pid 0 and -1 are refused; usage: ") +
                             kUsage);
  }
  if (::kill(pid, signal) != 0) ThrowErrno(env, errno, "kill");
  return env.Undefined();
}

}  // namespace sidecar
