// pidfd names that older C library headers lack (the kernel has had them
// since Linux 5.1-5.4), and the two calls that use them, in one place for
// spawn.cc (which gets a pidfd from clone) and process.cc (which waits for
// and signals a program through it).
//
// Man pages: clone(2) (CLONE_PIDFD), waitid(2) (P_PIDFD),
// pidfd_send_signal(2), pidfd_open(2), syscall(2).

#ifndef SIDECAR_EXEC_PIDFD_H_
#define SIDECAR_EXEC_PIDFD_H_

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // same number on every architecture
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424  // same number on every architecture
#endif

namespace sidecar {

// idtype_t value of P_PIDFD (Linux 5.4); older C libraries have no
// enumerator for it.
constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);

// waitid(2) on the one process a pidfd names. Not retried on EINTR here:
// callers wrap it in RetryOnEintr.
inline int WaitidPidfd(int pidfd, siginfo_t* status, int options) {
  return ::waitid(kPidfdIdType, static_cast<id_t>(pidfd), status, options);
}

// pidfd_send_signal(2) through syscall(2): glibc only wraps it since 2.36.
inline int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(
      ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// pidfd_open(2) through syscall(2), for a process the server did not start
// itself (a program's descendant); glibc only wraps it since 2.36. The fd is
// close-on-exec (the kernel always sets it).
inline int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

}  // namespace sidecar

#endif  // SIDECAR_EXEC_PIDFD_H_
