// Waiting for and signalling started programs. A pidfd names exactly one
// process, so neither a wait nor a signal can hit a recycled pid; kill(2) by
// pid is kept for process groups, which have no pidfd.
//
// Man pages: waitid(2) (P_PIDFD, through pidfd.h), pidfd_send_signal(2)
// (through pidfd.h), pidfd_open(2) (through pidfd.h), kill(2),
// prctl(2) (PR_SET_CHILD_SUBREAPER).

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <climits>

#include "pidfd.h"
#include "util.h"

namespace sidecar {
namespace {

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
  Args args(info, 1, "waitPidfd(pidfd: number): WaitResult | null");
  Napi::Env env = args.Env();
  int pidfd = args.Fd(0);
  siginfo_t status = {};
  int rc = RetryOnEintr(
      [&] { return WaitidPidfd(pidfd, &status, WEXITED | WNOHANG); });
  if (rc != 0) ThrowErrno(env, errno, "waitid");
  // WNOHANG with a live child: success with si_pid left at 0.
  if (status.si_pid == 0) return env.Null();
  return MakeWaitResult(env, status);
}

Napi::Value PidfdSignal(const Napi::CallbackInfo& info) {
  Args args(info, 2, "pidfdSignal(pidfd: number, signal: number): void");
  Napi::Env env = args.Env();
  int pidfd = args.Fd(0);
  int signal = args.Signal(1);
  if (PidfdSendSignal(pidfd, signal) != 0) {
    ThrowErrno(env, errno, "pidfd_send_signal");
  }
  return env.Undefined();
}

// A pidfd for a process the server did not start (a program's descendant):
// once open, signals and waits through it reach that process and no other,
// so the caller checks that the pid still names the process it meant
// (its parent, its cgroup) after opening, not before.
Napi::Value PidfdOpenPid(const Napi::CallbackInfo& info) {
  Args args(info, 1, "pidfdOpen(pid: number): number");
  Napi::Env env = args.Env();
  pid_t pid = static_cast<pid_t>(args.Integer(0, 1, INT_MAX));
  int fd = PidfdOpen(pid);
  if (fd < 0) ThrowErrno(env, errno, "pidfd_open");
  return Napi::Number::New(env, fd);
}

// PR_SET_CHILD_SUBREAPER on this process: orphaned descendants of its
// programs become its children instead of init's.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  Args args(info, 0, "setChildSubreaper(): void");
  Napi::Env env = args.Env();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1UL) != 0) ThrowErrno(env, errno, "prctl");
  return env.Undefined();
}

Napi::Value Kill(const Napi::CallbackInfo& info) {
  Args args(info, 2,
            "kill(pid: number, signal: number): void (pid > 0 or a process "
            "group -pgid < -1)");
  Napi::Env env = args.Env();
  int pid = static_cast<int>(args.Integer(0, INT_MIN + 1, INT_MAX));
  int signal = args.Signal(1);
  // 0 is the server's own process group and -1 every process it may signal:
  // neither can be a program it started, only a bug upstream (e.g. -pgid
  // computed from a missing pgid), so refuse them.
  if (pid == 0 || pid == -1) {
    ThrowRangeError(env, std::string("pid 0 and -1 are refused; usage: ") +
                             args.usage());
  }
  if (::kill(pid, signal) != 0) ThrowErrno(env, errno, "kill");
  return env.Undefined();
}

}  // namespace sidecar
