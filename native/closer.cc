// Closing a descriptor without waiting for it. close(2) of the last reference
// to a file runs the file's release in the closing thread, and a peer can
// make that release wait as long as it likes: a TCP socket with SO_LINGER
// {1, N} and unsent data waits up to N seconds (N = INT_MAX: for ever) for a
// peer that never reads; an AF_UNIX socket releases every fd queued in its
// unread records, and so waits on any of theirs; a FUSE or NFS file flushes;
// a tty drains. Every fd a client sends, and every socket whose queue a
// client can fill, is therefore closed here, on a closer thread, and the
// event loop only queues it.
//
// Design: one queue, drained by up to kMaxThreads detached threads. A fd
// never waits behind a busy thread while another may start (a busy thread
// may be one whose close does not return), so one blocked close does not
// hold up the others; a thread left without work for kIdle ends.
// A close still waiting after kAbortAfter is interrupted: a timer of the
// thread's own sends it a signal (a real-time one nobody else handles, with
// an empty handler), which ends a lingering wait, as it would end any
// interruptible one; the kernel then finishes the socket in the background,
// as after any close without SO_LINGER. So a peer that keeps sending
// lingering sockets holds each thread for about kAbortAfter, not for ever.
// Bounded: once kMaxThreads closes are blocked at once, further fds wait in
// the queue (still open) until a thread is free; the caller never waits.
// What no signal ends (a FUSE flush its daemon never answers) holds its
// thread, and only that one. A thread that cannot be started (out of
// threads or memory) leaves the fd queued for a running thread or the next
// call; without a free real-time signal, closes are not interrupted.
//
// Not done: turning SO_LINGER off before closing. It belongs to the socket,
// which the client and the program share, so it would change their sockets
// too; it races with a client that sets it again through a copy it keeps;
// it cannot reach sockets queued inside another socket; and lingering is
// only one of the ways a close waits.
//
// The threads are named "sidecar-close" (ps -L, /proc/PID/task/TID/comm).
//
// Pipes are the exception: their release never waits, so they are closed at
// once, in the caller.
//
// Man pages: close(2), fcntl(2) (F_GETPIPE_SZ), pipe(7), socket(7) (SO_LINGER), signal(7) (interrupted
// waits), sigaction(2), timer_create(2) (SIGEV_THREAD_ID), timer_settime(2),
// pthread_create(3), pthread_attr_setstacksize(3), pthread_setname_np(3),
// pthread_sigmask(3); for closeConnection: shutdown(2), unix(7) (SCM_RIGHTS,
// MSG_PEEK), socket(7) (SO_TIMESTAMP), recvmsg(2), cmsg(3).

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>

#include "util.h"

namespace sidecar {
namespace {

// Enough for more blocked closes at once than an honest server ever sees,
// few enough to stay far below a container's pids limit.
constexpr int kMaxThreads = 16;
constexpr std::chrono::seconds kIdle(2);
// Long enough for any honest close, short enough that a flood of lingering
// sockets only slows the closes behind it down.
constexpr long kAbortAfterMs = 1000;
// close(2) and a condition variable need little; the default (8 MiB of
// address space each) would be waste. Room is left for glibc's static TLS.
constexpr size_t kStackBytes = 256 * 1024;

struct Closer {
  std::mutex mutex;
  std::condition_variable work;
  std::deque<int> pending;
  int threads = 0;  // alive
  int waiting = 0;  // of those, waiting for work
};

// Never destroyed: detached threads may still use it while the process
// exits and runs static destructors.
Closer& TheCloser() {
  static Closer* closer = new Closer();
  return *closer;
}

void Interrupted(int) {}

// The signal that interrupts a close, chosen with the closer's mutex held
// when the first thread starts: the highest real-time signal whose
// disposition is still the default, given an empty handler. 0: none free.
int AbortSignal() {
  static int chosen = -1;
  if (chosen >= 0) return chosen;
  chosen = 0;
  for (int signal = SIGRTMAX; signal >= SIGRTMIN; signal--) {
    struct sigaction current;
    if (sigaction(signal, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) {
      continue;
    }
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = Interrupted;
    sigemptyset(&action.sa_mask);
    if (sigaction(signal, &action, nullptr) == 0) {
      chosen = signal;
      break;
    }
  }
  return chosen;
}

// A timer that sends `signal` to the calling thread while armed.
class AbortTimer {
 public:
  explicit AbortTimer(int signal) {
    if (signal == 0) return;
    sigevent event;
    std::memset(&event, 0, sizeof(event));
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = signal;
#ifdef sigev_notify_thread_id
    event.sigev_notify_thread_id = static_cast<pid_t>(syscall(SYS_gettid));
#else  // glibc before 2.38 names the field only inside its union
    event._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
#endif
    if (timer_create(CLOCK_MONOTONIC, &event, &timer_) != 0) return;
    valid_ = true;
    // Only this signal reaches the thread (it starts with all blocked).
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal);
    pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  }
  ~AbortTimer() {
    if (valid_) timer_delete(timer_);
  }
  AbortTimer(const AbortTimer&) = delete;
  AbortTimer& operator=(const AbortTimer&) = delete;

  // Fires after kAbortAfterMs, then again at that interval: a signal
  // handled before close(2) began to wait (the thread preempted that long)
  // would otherwise have been its only one. Within close(2), one pending
  // signal ends every wait, nested releases included.
  void Arm() { Set(kAbortAfterMs); }
  void Disarm() { Set(0); }

 private:
  void Set(long ms) {
    if (!valid_) return;
    timespec period = {ms / 1000, (ms % 1000) * 1000000};
    itimerspec setting = {period, period};
    timer_settime(timer_, 0, &setting, nullptr);
  }

  timer_t timer_;
  bool valid_ = false;
};

void* CloserThread(void* argument) {
  pthread_setname_np(pthread_self(), "sidecar-close");
  AbortTimer timer(static_cast<int>(reinterpret_cast<intptr_t>(argument)));
  Closer& closer = TheCloser();
  std::unique_lock<std::mutex> lock(closer.mutex);
  for (;;) {
    if (closer.pending.empty()) {
      closer.waiting++;
      bool woken = closer.work.wait_for(
          lock, kIdle, [&] { return !closer.pending.empty(); });
      closer.waiting--;
      if (!woken) break;
    }
    int fd = closer.pending.front();
    closer.pending.pop_front();
    lock.unlock();
    // EINTR still releases the fd (see Close in fd.cc); other errors have
    // nobody to be reported to, and the fd is gone then too.
    timer.Arm();
    ::close(fd);
    timer.Disarm();
    lock.lock();
  }
  closer.threads--;
  return nullptr;
}

// With closer.mutex held.
void StartThread(Closer& closer) {
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return;
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  size_t stack = kStackBytes;
  long minimum = sysconf(_SC_THREAD_STACK_MIN);
  if (minimum > 0 && stack < static_cast<size_t>(minimum)) stack = minimum;
  pthread_attr_setstacksize(&attributes, stack);
  // The thread starts with every signal blocked (and then lets its abort
  // signal in): the server's signals (SIGCHLD at each program's exit among
  // them) are handled by the server's threads, and when a close is cut
  // short does not depend on which thread the kernel picked for one.
  void* abort_signal =
      reinterpret_cast<void*>(static_cast<intptr_t>(AbortSignal()));
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  int failed = pthread_create(&thread, &attributes, CloserThread, abort_signal);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attributes);
  if (failed == 0) closer.threads++;
}

// Hands fd to a closer thread. Never blocks.
void Enqueue(int fd) {
  Closer& closer = TheCloser();
  std::lock_guard<std::mutex> lock(closer.mutex);
  closer.pending.push_back(fd);
  // Each fd beyond the threads waiting for work gets a thread of its own.
  if (closer.pending.size() > static_cast<size_t>(closer.waiting) &&
      closer.threads < kMaxThreads) {
    StartThread(closer);
  }
  closer.work.notify_one();
}

// True when the receive queue of `fd`, a connected AF_UNIX SOCK_SEQPACKET
// socket, is empty and can never be filled again, so that its close
// releases nothing a peer sent. Shut down first: the kernel refuses the
// peer's sends from then on (EPIPE: the check and the queueing happen under
// the lock that shutdown(2) takes), so the queue can only shrink. Then one
// look at its head: with SO_TIMESTAMP set, every record, even one of 0
// bytes, comes with a timestamp, and only the end of the queue (0, no
// control message) comes without. The look is a MSG_PEEK with room for the
// timestamp alone: a record's fds are not installed here (the kernel drops
// the extra references it took to them, never the last ones); any that were
// are closed, as copies, at once.
bool SealedAndEmpty(int fd) {
  if (::shutdown(fd, SHUT_RDWR) != 0) return false;
  int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on)) != 0) {
    return false;
  }
  char byte;
  iovec data = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timeval))];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t got = RetryOnEintr([&] {
    return ::recvmsg(fd, &message, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  });
  if (got < 0) return false;
  CollectFds(&message);  // copies, closed as the result goes
  return got == 0 && message.msg_controllen == 0 &&
         (message.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) == 0;
}

}  // namespace

Napi::Value CloseConnection(const Napi::CallbackInfo& info) {
  Args args(info, 1, "closeConnection(fd: number): void");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  // The common end of a request: the client read its last reply and left
  // nothing behind, and the close costs no thread's wake-up.
  if (SealedAndEmpty(fd)) {
    ::close(fd);  // EINTR counts as closed on Linux
  } else {
    Enqueue(fd);
  }
  return env.Undefined();
}

Napi::Value CloseOffLoop(const Napi::CallbackInfo& info) {
  Args args(info, 1, "closeOffLoop(fd: number): void");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  // A pipe's release never waits (it only wakes the other end), and pipes
  // are what most requests carry (stdio): those are closed here, without the
  // queue and a thread's wake-up on the way of every spawn. F_GETPIPE_SZ
  // answers for pipes and FIFOs only; fstat would do as well, but glibc
  // exports it only since 2.33 and the prebuilt addon loads on 2.28.
  if (::fcntl(fd, F_GETPIPE_SZ) >= 0) {
    ::close(fd);  // EINTR counts as closed on Linux
    return env.Undefined();
  }
  Enqueue(fd);
  return env.Undefined();
}

}  // namespace sidecar
