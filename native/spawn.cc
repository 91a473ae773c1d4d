// spawn(): starts a program without fork(2). fork would copy the page tables
// of a large multi-threaded Node process (slow, and unsafe for anything but
// async-signal-safe calls anyway); clone(CLONE_VM | CLONE_VFORK) runs the
// child on a private stack in the parent's memory while the calling thread
// waits, until the child calls execve or exits. CLONE_PIDFD hands back a
// pidfd at the same time, so the process can never be confused with a
// recycled pid.
//
// Because the child shares our memory, it only runs async-signal-safe calls
// on data prepared before clone, and reports a failure by writing
// { err, stage } into the parent's memory before _exit(127). The addon is
// linked with -z now (binding.gyp) so that the child's first calls into libc
// do not run the dynamic linker's lazy binding on that shared memory.
//
// Man pages: clone(2) (CLONE_VM, CLONE_VFORK, CLONE_PIDFD), execve(2),
// cgroups(7) (cgroup.procs), prctl(2) (PR_SET_CHILD_SUBREAPER), write(2),
// _exit(2), signal-safety(7), sigaction(2), sigprocmask(2),
// pthread_sigmask(3), setsid(2), setpgid(2), syscall(2) (setgroups(2),
// setgid(2), setuid(2), close_range(2)), prctl(2) (PR_SET_PDEATHSIG),
// getppid(2), dup2(2), fcntl(2), close(2), chdir(2), mmap(2), mprotect(2),
// waitid(2) (P_PIDFD), waitpid(2), kill(2), pidfd_send_signal(2),
// ioctl_tty(2) (TIOCSCTTY).

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "pidfd.h"
#include "util.h"

namespace sidecar {
namespace {

constexpr size_t kStackSize = 256 * 1024;

// What the child was doing when it failed; named after the system call so
// the error's `syscall` says it.
enum Stage : int {
  kStageNone = 0,
  kStageSetsid,
  kStageSetpgid,
  kStagePrctl,
  kStageFcntl,
  kStageDup2,
  kStageCloseRange,
  kStageChdir,
  kStageSigprocmask,
  kStageExecve,
  kStageSetgid,
  kStageSetuid,
  kStageIoctl,
  kStageCgroup,
};

const char* StageName(int stage) {
  switch (stage) {
    case kStageSetsid: return "setsid";
    case kStageSetpgid: return "setpgid";
    case kStagePrctl: return "prctl";
    case kStageFcntl: return "fcntl";
    case kStageDup2: return "dup2";
    case kStageCloseRange: return "close_range";
    case kStageChdir: return "chdir";
    case kStageSigprocmask: return "sigprocmask";
    case kStageExecve: return "execve";
    case kStageSetgid: return "setgid";
    case kStageSetuid: return "setuid";
    case kStageIoctl: return "ioctl";
    case kStageCgroup: return "cgroup";
    default: return "spawn";
  }
}

// Everything the child needs, built before clone. The child only reads it,
// except `fd_map` (rewritten as sources move out of the way) and the report.
struct ChildPlan {
  char* const* candidates;
  size_t candidate_count;
  char* const* argv;
  // "/bin/sh", <slot for the script>, argv[1..], nullptr: execvp(3)'s
  // fallback for an executable without a #! line, which child_process has.
  char** shell_argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep the server's
  int* fd_map;
  int fd_count;
  bool new_session;
  // A terminal (this process's fd) to make the program's controlling
  // terminal, or -1.
  int terminal;
  int death_signal;
  int uid;  // -1: keep the server's
  int gid;  // -1: keep the server's
  int cgroup_fd;  // the cgroup's directory; -1: stay in the server's cgroup
  // Set when clone3 put the child in its cgroup already (CLONE_INTO_CGROUP).
  bool in_cgroup;
  bool subreaper;
  pid_t parent_pid;
  sigset_t empty_mask;
  // Written by the child into our memory (CLONE_VM), read after it is gone.
  volatile int err;
  volatile int stage;
};

// ---- Child side: async-signal-safe calls only, no allocation, no throw ----

[[noreturn]] void ChildFail(ChildPlan* plan, int stage, int err) noexcept {
  plan->err = err;
  plan->stage = stage;
  _exit(127);
}

// Handlers are addresses in the parent's code and data: one run by the child
// between unblocking signals and execve would act on the parent's state.
// Ignored signals would also stay ignored across execve. libc-internal
// signals (32, 33) are refused with EINVAL and only ever sent by tid to the
// parent's threads, so that failure is expected and harmless.
void ChildResetSignals() noexcept {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &action, nullptr);
  }
}

void ChildSession(ChildPlan* plan) noexcept {
  if (plan->new_session) {
    if (setsid() < 0) ChildFail(plan, kStageSetsid, errno);
  } else if (setpgid(0, 0) != 0) {
    ChildFail(plan, kStageSetpgid, errno);
  }
  // Right after setsid, before the fd map may move the terminal's fd: the
  // new session has no controlling terminal, and this gives it one.
  if (plan->terminal >= 0 && ioctl(plan->terminal, TIOCSCTTY, 0) != 0) {
    ChildFail(plan, kStageIoctl, errno);
  }
}

// Raw system calls on purpose: glibc's setuid/setgid broadcast the change to
// every thread of the process, and with CLONE_VM "the process" as glibc sees
// it is the parent's: its threads would change credentials too. The raw
// calls change this task only. setgroups(0) drops the server's supplementary
// groups (allowed only to a privileged server, and only needed by one: an
// unprivileged one cannot switch ids anyway, so its failure is ignored, as
// libuv does).
void ChildCredentials(ChildPlan* plan) noexcept {
  if (plan->gid < 0 && plan->uid < 0) return;
  syscall(SYS_setgroups, 0, nullptr);
  if (plan->gid >= 0 && syscall(SYS_setgid, plan->gid) != 0) {
    ChildFail(plan, kStageSetgid, errno);
  }
  if (plan->uid >= 0 && syscall(SYS_setuid, plan->uid) != 0) {
    ChildFail(plan, kStageSetuid, errno);
  }
}

// Where clone3 could not place the child in its cgroup (CLONE_INTO_CGROUP,
// Linux 5.7, or an architecture without the clone3 entry below), the child
// moves itself there (writing "0" to cgroup.procs names the writer) before
// anything else. The parent is held by CLONE_VFORK until execve, so no
// process of the program can exist outside the cgroup either way: the
// program cannot fork before it runs. Done while the child still has the
// server's credentials, which the move needs.
void ChildCgroup(ChildPlan* plan) noexcept {
  if (plan->cgroup_fd < 0 || plan->in_cgroup) return;
  int procs = openat(plan->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  if (procs < 0) ChildFail(plan, kStageCgroup, errno);
  if (write(procs, "0", 1) != 1) ChildFail(plan, kStageCgroup, errno);
  close(procs);
}

// A subreaper keeps its orphaned descendants as its own children instead of
// handing them to init, so that the server can find the whole tree by
// parent pid while the program runs. The flag survives execve.
void ChildSubreaper(ChildPlan* plan) noexcept {
  if (!plan->subreaper) return;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1UL) != 0) {
    ChildFail(plan, kStagePrctl, errno);
  }
}

// After ChildCredentials: the kernel clears the parent-death signal when the
// credentials change.
void ChildDeathSignal(ChildPlan* plan) noexcept {
  if (plan->death_signal == 0) return;
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(plan->death_signal)) !=
      0) {
    ChildFail(plan, kStagePrctl, errno);
  }
  // The parent died before prctl took effect: the signal will never come.
  if (getppid() != plan->parent_pid) ChildFail(plan, kStagePrctl, ESRCH);
}

// Child fd i becomes a copy of fd_map[i]. A source below fd_count that is
// not its own target is first moved above the map, so no dup2 can overwrite
// a source that a later target still needs (e.g. the swap [1, 0]).
void ChildMapFds(ChildPlan* plan) noexcept {
  int* map = plan->fd_map;
  const int count = plan->fd_count;
  for (int i = 0; i < count; i++) {
    int source = map[i];
    if (source < 0 || source >= count || source == i) continue;
    int moved = fcntl(source, F_DUPFD_CLOEXEC, count);
    if (moved < 0) ChildFail(plan, kStageFcntl, errno);
    for (int j = i; j < count; j++) {
      if (map[j] == source) map[j] = moved;
    }
  }
  for (int i = 0; i < count; i++) {
    int source = map[i];
    if (source < 0) {
      close(i);  // EBADF: it was not open, which is what we want
    } else if (source == i) {
      // dup2(i, i) would keep close-on-exec: clear it explicitly.
      if (fcntl(i, F_SETFD, 0) != 0) ChildFail(plan, kStageFcntl, errno);
    } else if (dup2(source, i) < 0) {
      ChildFail(plan, kStageDup2, errno);
    }
  }
  // Programs expect blocking stdio. O_NONBLOCK lives in the open file
  // description, so this is also seen by every other holder of it.
  for (int i = 0; i < count; i++) {
    if (map[i] < 0) continue;
    int flags = fcntl(i, F_GETFL);
    if (flags < 0) ChildFail(plan, kStageFcntl, errno);
    if ((flags & O_NONBLOCK) != 0 &&
        fcntl(i, F_SETFL, flags & ~O_NONBLOCK) != 0) {
      ChildFail(plan, kStageFcntl, errno);
    }
  }
  // Nothing but the map may reach the program. Without close_range (Linux
  // < 5.11: ENOSYS, or EINVAL for the flag) we rely on every descriptor of
  // the server being close-on-exec already, as all of ours are.
  if (syscall(SYS_close_range, static_cast<unsigned>(count), ~0U,
              CLOSE_RANGE_CLOEXEC) != 0 &&
      errno != ENOSYS && errno != EINVAL) {
    ChildFail(plan, kStageCloseRange, errno);
  }
}

// execvp(3)'s rules over the candidate paths, including its /bin/sh fallback
// for an executable file the kernel cannot run (ENOEXEC: no #! line).
[[noreturn]] void ChildExec(ChildPlan* plan) noexcept {
  bool saw_eacces = false;
  int last = ENOENT;  // no candidate at all: nothing was found
  for (size_t k = 0; k < plan->candidate_count; k++) {
    execve(plan->candidates[k], plan->argv, plan->envp);
    last = errno;
    if (last == ENOEXEC) {
      plan->shell_argv[1] = plan->candidates[k];
      execve(plan->shell_argv[0], plan->shell_argv, plan->envp);
      last = errno;
    }
    switch (last) {
      case ENOENT:
      case ENOTDIR:
      case ENODEV:
      case ESTALE:
      case ETIMEDOUT:
        continue;
      case EACCES:
        saw_eacces = true;
        continue;
      default:
        ChildFail(plan, kStageExecve, last);
    }
  }
  ChildFail(plan, kStageExecve, saw_eacces ? EACCES : last);
}

int ChildMain(void* arg) noexcept {
  ChildPlan* plan = static_cast<ChildPlan*>(arg);
  ChildResetSignals();
  ChildCgroup(plan);
  ChildSubreaper(plan);
  ChildSession(plan);
  ChildMapFds(plan);
  if (plan->cwd != nullptr && chdir(plan->cwd) != 0) {
    ChildFail(plan, kStageChdir, errno);
  }
  ChildCredentials(plan);
  ChildDeathSignal(plan);
  // Last, so that no signal is handled before the dispositions were reset.
  if (sigprocmask(SIG_SETMASK, &plan->empty_mask, nullptr) != 0) {
    ChildFail(plan, kStageSigprocmask, errno);
  }
  ChildExec(plan);
}

// ---- Parent side ----

// The child's stack, with a guard page below it so an overflow faults
// instead of writing into whatever mapping lies there.
class ChildStack {
 public:
  ChildStack() {
    base_ = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return;
    }
    mprotect(base_, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE);
  }
  ~ChildStack() {
    if (base_ != nullptr) munmap(base_, kStackSize);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;

  bool valid() const { return base_ != nullptr; }
  // Stacks grow down on every architecture Linux/Node runs on.
  void* top() const { return static_cast<char*>(base_) + kStackSize; }
  void* base() const { return base_; }
  size_t size() const { return kStackSize; }

 private:
  void* base_ = nullptr;
};

// Waits for a child that failed before execve. It has called _exit already
// (CLONE_VFORK released us), so this only blocks for the last steps of exit.
void Reap(int pidfd, pid_t pid) {
  siginfo_t status = {};
  if (pidfd >= 0 &&
      RetryOnEintr([&] { return WaitidPidfd(pidfd, &status, WEXITED); }) ==
          0) {
    return;
  }
  int ignored;
  RetryOnEintr([&] { return waitpid(pid, &ignored, __WALL); });
}

// clone3(2) as clone(2) is used above: a raw system call cannot start the
// child on a fresh stack (it would return into a frame the parent is still
// in), so this entry puts the child on its stack, calls ChildMain(plan) and
// exits with its result. Returns the child's pid, or -errno, to the parent.
// The child's registers are the parent's at the system call, which is how
// it finds the function and its argument.
extern "C" long SidecarClone3(void* args, size_t size, int (*fn)(void*),
                              void* arg);

#if defined(__x86_64__)
#define SIDECAR_HAVE_CLONE3 1
// rdi: args, rsi: size, rdx: fn, rcx: arg. syscall clobbers rcx and r11.
asm(R"(
  .text
  .p2align 4
  .type SidecarClone3, @function
SidecarClone3:
  mov %rcx, %r8
  mov $435, %eax
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  xor %ebp, %ebp
  and $-16, %rsp
  mov %r8, %rdi
  call *%rdx
  mov %eax, %edi
  mov $60, %eax
  syscall
  hlt
  .size SidecarClone3, .-SidecarClone3
)");
#elif defined(__aarch64__)
#define SIDECAR_HAVE_CLONE3 1
// x0: args, x1: size, x2: fn, x3: arg. svc preserves every other register.
asm(R"(
  .text
  .p2align 2
  .type SidecarClone3, %function
SidecarClone3:
  mov x8, #435
  svc #0
  cbz x0, 1f
  ret
1:
  mov x29, #0
  mov x30, #0
  mov x0, x3
  blr x2
  mov x8, #93
  svc #0
  brk #0
  .size SidecarClone3, .-SidecarClone3
)");
#else
#define SIDECAR_HAVE_CLONE3 0
#endif

// struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2), spelled out so
// that older kernel headers do not matter.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

// The child in its cgroup from its first instruction: clone3 with
// CLONE_INTO_CGROUP, which also spares the cgroup migration (a write to
// cgroup.procs takes a lock every fork in the system waits on, and costs
// far more than the clone). -1 with *err = ENOSYS where that is not
// available (Linux < 5.7, or no entry above): the caller falls back.
pid_t Clone3IntoCgroup(ChildPlan* plan, void* stack_base, size_t stack_size,
                       int* pidfd, int* err) {
#if SIDECAR_HAVE_CLONE3
  CloneArgs args;
  std::memset(&args, 0, sizeof(args));
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | kCloneIntoCgroup;
  args.pidfd = reinterpret_cast<uintptr_t>(pidfd);
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<uintptr_t>(stack_base);
  args.stack_size = stack_size;
  args.cgroup = static_cast<uint64_t>(plan->cgroup_fd);
  long rc = SidecarClone3(&args, sizeof(args), ChildMain, plan);
  if (rc >= 0) return static_cast<pid_t>(rc);
  // E2BIG: a kernel whose clone_args ends before `cgroup`.
  *err = (rc == -E2BIG || rc == -ENOSYS) ? ENOSYS : static_cast<int>(-rc);
  return -1;
#else
  (void)plan;
  (void)stack_base;
  (void)stack_size;
  (void)pidfd;
  *err = ENOSYS;
  return -1;
#endif
}

// Blocks every signal in this thread around clone: the child starts with
// our handlers, and one run on the shared memory before the child has reset
// them would corrupt the parent.
pid_t CloneChild(ChildPlan* plan, const ChildStack& stack, int* pidfd,
                 int* err) {
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = -1;
  if (plan->cgroup_fd >= 0) {
    // Read by the child, which runs before clone3 returns here.
    plan->in_cgroup = true;
    pid = Clone3IntoCgroup(plan, stack.base(), stack.size(), pidfd, err);
    plan->in_cgroup = false;
  }
  bool open_pidfd = false;
  if (pid < 0 && (plan->cgroup_fd < 0 || *err == ENOSYS)) {
    pid = clone(ChildMain, stack.top(),
                CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, plan, pidfd);
    // The child's failing calls wrote errno too (same thread-local storage,
    // shared memory): only clone's own failure is meaningful here.
    *err = errno;
    if (pid < 0 && *err == EINVAL) {
      // A clone that knows the other flags but not CLONE_PIDFD (user-mode
      // emulators such as qemu-user 7): clone without it, then open the
      // pidfd. Nothing can reap the child in between: this thread does not
      // wait for it, and the server's orphan sweep runs on this same thread.
      pid = clone(ChildMain, stack.top(), CLONE_VM | CLONE_VFORK | SIGCHLD,
                  plan);
      *err = errno;
      open_pidfd = pid > 0;
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (open_pidfd) *pidfd = PidfdOpen(pid);
  return pid;
}

// Null-terminated char* array over strings that outlive the spawn call.
std::vector<char*> PointerArray(std::vector<std::string>* strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings->size() + 1);
  for (std::string& s : *strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

char kShell[] = "/bin/sh";

// The argv of `sh SCRIPT ARGS...`, with the script's slot filled by the child.
std::vector<char*> ShellArgv(std::vector<std::string>* argv) {
  std::vector<char*> pointers;
  pointers.reserve(argv->size() + 2);
  pointers.push_back(kShell);
  pointers.push_back(nullptr);
  for (size_t i = 1; i < argv->size(); i++) pointers.push_back((*argv)[i].data());
  pointers.push_back(nullptr);
  return pointers;
}

struct SpawnInput {
  std::vector<std::string> candidates;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  bool has_cwd = false;
  std::string cwd;
  std::vector<int> fd_map;
  bool new_session = false;
  int terminal = -1;
  int death_signal = 0;
  int uid = -1;
  int gid = -1;
  int cgroup_fd = -1;
  bool subreaper = false;
};

constexpr char kUsage[] =
    "spawn({ candidates: string[], argv: string[], env: string[], "
    "cwd: string | null, fdMap: number[], newSession: boolean, "
    "terminal: number, deathSignal: number, uid: number, gid: number, cgroupFd?: number, "
    "subreaper?: boolean }): { pid, pidfd }";

SpawnInput ReadOptions(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject() || value.IsArray()) {
    ThrowTypeError(env, std::string("expected an options object; usage: ") +
                            kUsage);
  }
  Napi::Object options = value.As<Napi::Object>();
  SpawnInput input;
  input.candidates = CStringArrayArg(env, options.Get("candidates"), kUsage);
  input.argv = CStringArrayArg(env, options.Get("argv"), kUsage);
  input.env = CStringArrayArg(env, options.Get("env"), kUsage);
  Napi::Value cwd = options.Get("cwd");
  if (!cwd.IsNull()) {
    input.has_cwd = true;
    input.cwd = CStringArg(env, cwd, kUsage);
  }
  input.fd_map = FdArrayArg(env, options.Get("fdMap"), -1, kUsage);
  Napi::Value new_session = options.Get("newSession");
  if (!new_session.IsBoolean()) {
    ThrowTypeError(env,
                   std::string("newSession must be a boolean; usage: ") +
                       kUsage);
  }
  input.new_session = new_session.As<Napi::Boolean>().Value();
  input.terminal = static_cast<int>(
      IntegerArg(env, options.Get("terminal"), -1, INT32_MAX, kUsage));
  if (input.terminal >= 0 && !input.new_session) {
    ThrowTypeError(env, std::string("a terminal needs newSession; usage: ") +
                            kUsage);
  }
  input.death_signal = SignalArg(env, options.Get("deathSignal"), kUsage);
  input.uid = static_cast<int>(
      IntegerArg(env, options.Get("uid"), -1, INT32_MAX, kUsage));
  input.gid = static_cast<int>(
      IntegerArg(env, options.Get("gid"), -1, INT32_MAX, kUsage));
  // Optional: absent means no containment of the tree.
  Napi::Value cgroup = options.Get("cgroupFd");
  if (!cgroup.IsUndefined()) {
    input.cgroup_fd = static_cast<int>(
        IntegerArg(env, cgroup, -1, INT32_MAX, kUsage));
  }
  Napi::Value subreaper = options.Get("subreaper");
  if (!subreaper.IsUndefined()) {
    if (!subreaper.IsBoolean()) {
      ThrowTypeError(env,
                     std::string("subreaper must be a boolean; usage: ") +
                         kUsage);
    }
    input.subreaper = subreaper.As<Napi::Boolean>().Value();
  }
  return input;
}

Napi::Object MakeSpawned(Napi::Env env, pid_t pid, UniqueFd* pidfd) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("pidfd", Napi::Number::New(env, pidfd->get()));
  pidfd->release();
  return result;
}

// Makes the pidfd non-blocking; on failure the program must not run on
// without anybody able to wait for it, so it is killed and reaped.
void MakePidfdNonBlocking(Napi::Env env, int pidfd, pid_t pid) {
  int flags = fcntl(pidfd, F_GETFL);
  if (flags >= 0 && fcntl(pidfd, F_SETFL, flags | O_NONBLOCK) == 0) return;
  int err = errno;
  PidfdSendSignal(pidfd, SIGKILL);
  Reap(pidfd, pid);
  ThrowErrno(env, err, "fcntl");
}

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Args args(info, 1, kUsage);
  Napi::Env env = args.Env();
  SpawnInput input = ReadOptions(env, info[0]);

  std::vector<char*> candidates = PointerArray(&input.candidates);
  std::vector<char*> argv = PointerArray(&input.argv);
  std::vector<char*> envp = PointerArray(&input.env);
  std::vector<char*> shell_argv = ShellArgv(&input.argv);
  ChildPlan plan;
  std::memset(static_cast<void*>(&plan), 0, sizeof(plan));
  plan.candidates = candidates.data();
  plan.candidate_count = input.candidates.size();
  plan.argv = argv.data();
  plan.shell_argv = shell_argv.data();
  plan.envp = envp.data();
  plan.cwd = input.has_cwd ? input.cwd.c_str() : nullptr;
  plan.fd_map = input.fd_map.data();
  plan.fd_count = static_cast<int>(input.fd_map.size());
  plan.new_session = input.new_session;
  plan.terminal = input.terminal;
  plan.death_signal = input.death_signal;
  plan.uid = input.uid;
  plan.gid = input.gid;
  plan.cgroup_fd = input.cgroup_fd;
  plan.subreaper = input.subreaper;
  plan.parent_pid = getpid();
  sigemptyset(&plan.empty_mask);

  ChildStack stack;
  if (!stack.valid()) ThrowErrno(env, errno, "mmap");
  int pidfd_number = -1;
  int clone_err = 0;
  pid_t pid = CloneChild(&plan, stack, &pidfd_number, &clone_err);
  if (pid < 0) ThrowErrno(env, clone_err, "clone");
  UniqueFd pidfd(pidfd_number);
  if (!pidfd.valid()) {
    // A kernel older than 5.2 ignores CLONE_PIDFD (or has no pidfd_open, for
    // the fallback above): the program runs, but we cannot give it a pidfd,
    // so stop it rather than leak it.
    kill(pid, SIGKILL);
    Reap(-1, pid);
    ThrowErrno(env, ENOSYS, "clone");
  }
  if (plan.err != 0) {
    int err = plan.err;
    int stage = plan.stage;
    Reap(pidfd.get(), pid);
    ThrowErrno(env, err, StageName(stage));
  }
  MakePidfdNonBlocking(env, pidfd.get(), pid);
  return MakeSpawned(env, pid, &pidfd);
}

}  // namespace sidecar
