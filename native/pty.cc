// Pseudo-terminals: open a pair for a program's terminal, and set a
// terminal's window size. The server opens the pair and hands the master to
// its client; the client, holding the master, resizes it itself, so no
// window size ever travels through the server after the start.
//
// Man pages: pty(7), posix_openpt(3), unlockpt(3) (TIOCSPTLCK), ioctl_tty(2)
// (TIOCGPTPEER, TIOCGPTN, TIOCSWINSZ, TIOCGWINSZ), open(2), fchown(2),
// fchmod(2).

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>

#include "util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace sidecar {
namespace {

void SetWindowSize(Napi::Env env, int fd, int64_t columns, int64_t rows) {
  winsize size = {};
  size.ws_col = static_cast<unsigned short>(columns);
  size.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(fd, TIOCSWINSZ, &size) != 0) ThrowErrno(env, errno, "ioctl");
}

// The terminal side of `master`. TIOCGPTPEER (Linux 4.13) opens it through
// the master itself, so it is the right devpts instance whatever the
// mounts; older kernels fall back to its path under /dev/pts.
int OpenPeer(int master) {
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave >= 0 || (errno != EINVAL && errno != ENOTTY)) return slave;
  unsigned int number = 0;
  if (ioctl(master, TIOCGPTN, &number) != 0) return -1;
  char path[32];
  std::snprintf(path, sizeof(path), "/dev/pts/%u", number);
  return open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

}  // namespace

// O_NOCTTY everywhere: the terminal must never become this process's own
// controlling terminal (only the program's, through TIOCSCTTY in its child).
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Args args(info, 3,
            "openPty(columns: number, rows: number, owner: number): "
            "[master, terminal]");
  Napi::Env env = args.Env();
  int64_t columns = args.Integer(0, 0, 65535);
  int64_t rows = args.Integer(1, 0, 65535);
  int64_t owner = args.Integer(2, -1, INT32_MAX);
  UniqueFd master(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) ThrowErrno(env, errno, "open");
  int unlock = 0;
  if (ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) {
    ThrowErrno(env, errno, "ioctl");
  }
  UniqueFd slave(OpenPeer(master.get()));
  if (!slave.valid()) ThrowErrno(env, errno, "open");
  // A program run as another user owns its terminal, as a login's does
  // (mode 0620: others may not read it).
  if (owner >= 0 && fchown(slave.get(), static_cast<uid_t>(owner),
                           static_cast<gid_t>(-1)) != 0) {
    ThrowErrno(env, errno, "fchown");
  }
  if (fchmod(slave.get(), 0620) != 0) ThrowErrno(env, errno, "fchmod");
  SetWindowSize(env, master.get(), columns, rows);
  return FdPair(env, master, slave);
}

Napi::Value SetTerminalSize(const Napi::CallbackInfo& info) {
  Args args(info, 3,
            "setTerminalSize(fd: number, columns: number, rows: number): "
            "void");
  Napi::Env env = args.Env();
  SetWindowSize(env, args.Fd(0), args.Integer(1, 0, 65535),
                args.Integer(2, 0, 65535));
  return env.Undefined();
}

}  // namespace sidecar
