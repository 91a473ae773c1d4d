// The only module that touches the compiled addon. It declares the native
// surface as a typed interface so that the rest of the code depends on the
// interface, not on the .node file, and unit tests can hand the classes a fake
// (test/support/fake-binding.js) in its place.
//
// Every native call is one atomic OS operation (or a sequence that must not be
// split across the JS boundary, such as recvmsg with its cmsg parsing, or the
// child side of a spawn). None holds state, timers or protocol knowledge.
//
// Errors: a failing call throws an Error carrying `errno` (a positive Linux
// errno number), `code` (its name, e.g. 'ENOENT') and `syscall`. The errors
// module turns them into Node-shaped errors.

import * as path from 'node:path';
import type { PeerCredentials } from '../../types/index';
import { loadAddon } from './load';

/** Result of one recvmsg(2). */
export interface ReceivedMessage {
  /** Bytes of the record copied into the caller's buffer (0 means end of stream). */
  bytes: number;
  /** Descriptors attached with SCM_RIGHTS, already close-on-exec. The caller owns them. */
  fds: number[];
  /** MSG_TRUNC: the record was larger than the buffer and its tail was dropped. */
  truncated: boolean;
  /** MSG_CTRUNC: some attached descriptors were dropped by the kernel. */
  fdsTruncated: boolean;
}

/** Peer credentials of a connected AF_UNIX socket (SO_PEERCRED), as types/ declares them. */
export type { PeerCredentials };

/** How a waited-for process ended: exactly one of the two is non-null. */
export interface WaitResult {
  exitCode: number | null;
  /** Signal number that killed it. */
  signal: number | null;
}

/** Options of one spawn. Everything is already resolved and validated by TypeScript. */
export interface NativeSpawnOptions {
  /**
   * Paths to try with execve(2), in order, with execvp(3)'s rules: ENOENT,
   * ENOTDIR, ENODEV, ESTALE and ETIMEDOUT try the next one; EACCES is
   * remembered and reported if nothing else succeeds; any other error stops.
   */
  candidates: string[];
  /** argv of the program, argv[0] included. */
  argv: string[];
  /** The whole environment, as 'NAME=value' strings. */
  env: string[];
  /** Directory to chdir(2) into before exec, or null to keep the server's. */
  cwd: string | null;
  /**
   * Child fd i is made a copy of fdMap[i]; -1 leaves fd i closed. Every mapped
   * fd has O_NONBLOCK cleared (as libuv does for a child's stdio), and every
   * other fd of the child is close-on-exec (close_range(CLOSE_RANGE_CLOEXEC)).
   */
  fdMap: number[];
  /** setsid(2) (new session, which is also a new process group) instead of setpgid(0, 0). */
  newSession: boolean;
  /**
   * A terminal fd (of this process) that becomes the program's controlling
   * terminal (ioctl TIOCSCTTY right after setsid; needs newSession), or -1.
   */
  terminal: number;
  /**
   * prctl(PR_SET_PDEATHSIG) signal number, 0 for none. Set after the
   * credentials change (which clears it), then getppid() is checked.
   */
  deathSignal: number;
  /** setuid(2) to this id after setgroups(0), or -1 to keep the server's. */
  uid: number;
  /** setgid(2) to this id, or -1 to keep the server's. */
  gid: number;
  /**
   * A cgroup v2 directory fd: the child starts in that cgroup
   * (clone3 CLONE_INTO_CGROUP; where that is missing, the child writes
   * itself into cgroup.procs before anything else). Absent or -1: the
   * server's cgroup.
   */
  cgroupFd?: number;
  /** prctl(PR_SET_CHILD_SUBREAPER) in the child before execve (it survives execve). */
  subreaper?: boolean;
}

/** A started program. */
export interface SpawnedProcess {
  pid: number;
  /** A pidfd (CLOEXEC, non-blocking) that becomes readable when the program exits. */
  pidfd: number;
}

/** What one blocking exchange of a sync spawn gathered (exchangeSync). */
export interface SyncExchange {
  /** The server's records, raw, in order (for the protocol codec). */
  replies: Buffer[];
  /** The bytes read from each output pipe, in the order the pipes were given. */
  outputs: Buffer[];
  /** The server hung up (or the connection failed). */
  ended: boolean;
  /** The deadline passed: the stop record was sent and the output pipes let go. */
  timedOut: boolean;
  /** The outputs together passed maxBuffer: the stop record was sent and the output pipes let go. */
  overflowed: boolean;
  /** errno of a failed sendmsg (the server went away while the request went out), else 0. */
  sendErrno: number;
  /** errno of a failed recvmsg or ppoll, else 0. */
  receiveErrno: number;
  /** errno of the first failed write of input (EPIPE: the program did not read it all), else 0. */
  inputErrno: number;
}

/** Poll readiness mask bits, as libuv's uv_poll_event. */
export const READABLE = 1;
export const WRITABLE = 2;

/** A uv_poll_t on the current environment's loop, watching one fd. */
export interface NativePoller {
  /**
   * Start (or change) watching for the given events (READABLE | WRITABLE).
   * The callback gets (status, events); status is 0 or a negative libuv error.
   */
  start(events: number): void;
  /** Stop watching; the handle stays usable. */
  stop(): void;
  /** Stop and close the handle; the fd is not closed. Idempotent. */
  close(): void;
  /** uv_ref / uv_unref: whether this handle keeps the event loop alive. */
  ref(): void;
  unref(): void;
}

export interface NativeBinding {
  /**
   * socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK), bind(path),
   * chmod(path, mode), listen(backlog). Returns the listening fd. On failure
   * nothing is left behind but a file bind(2) created, which it removes.
   */
  listen(path: string, mode: number, backlog: number): number;
  /** accept4(SOCK_CLOEXEC | SOCK_NONBLOCK). Returns the fd, or -1 on EAGAIN. */
  accept(fd: number): number;
  /**
   * A non-blocking, close-on-exec SOCK_SEQPACKET socket connected to path.
   * Throws with EAGAIN when the listener's backlog is full (retry later),
   * ECONNREFUSED when nothing listens, ENOENT when there is no such file.
   */
  connect(path: string): number;
  /**
   * sendmsg(MSG_NOSIGNAL) of data[offset, offset+length) as one record, with
   * fds attached (SCM_RIGHTS) when the array is not empty. Returns the bytes
   * sent, or -1 on EAGAIN. The fds stay open in this process.
   */
  send(fd: number, data: Uint8Array, offset: number, length: number, fds: number[]): number;
  /**
   * recvmsg(MSG_CMSG_CLOEXEC) of one record into buffer. Returns null on
   * EAGAIN. Descriptors attached to a truncated record are returned too; the
   * caller decides and closes them.
   */
  receive(fd: number, buffer: Uint8Array): ReceivedMessage | null;
  /** getsockopt(SO_PEERCRED). */
  peerCredentials(fd: number): PeerCredentials;
  /**
   * poll(POLLRDHUP) with a zero timeout: true when the peer has hung up or
   * shut down its writing side (POLLHUP, POLLRDHUP), or the connection
   * failed (POLLERR), even with its records still unread. Reads nothing.
   */
  peerHungUp(fd: number): boolean;
  /** pipe2(O_CLOEXEC): [readEnd, writeEnd], both blocking. */
  pipe(): [number, number];
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected, blocking ends. */
  socketPair(): [number, number];
  /**
   * ppoll(2) for POLLIN on fd, blocking this thread up to timeoutMs. True if
   * readable (or hung up), false on timeout.
   */
  waitReadable(fd: number, timeoutMs: number): boolean;
  /** open(path, O_RDWR | O_CLOEXEC | O_NOCTTY); used for /dev/null. */
  openReadWrite(path: string): number;
  /**
   * The first 4 KiB of the file `name` (a file name, not a path) in the open
   * directory `dirFd`: openat(O_NOFOLLOW), read, close. For a cgroup's
   * control files, read through the cgroup's directory fd.
   */
  readFileAt(dirFd: number, name: string): string;
  /** close(2). EINTR counts as closed. */
  close(fd: number): void;
  /**
   * Takes fd and closes it on a closer thread, so that the calling thread
   * never waits for its release: for fds a peer sent, and sockets whose
   * queues a peer filled (a TCP socket with SO_LINGER and unsent data can
   * hold close(2) for as long as it likes). Never blocks and never fails;
   * the fd may stay open a while (longer if a peer blocks every closer
   * thread), and must not be used again.
   */
  closeOffLoop(fd: number): void;
  /**
   * Closes a connected AF_UNIX SOCK_SEQPACKET socket whose peer is untrusted:
   * shuts it down both ways (the peer can queue nothing more), then closes it
   * at once when no record is left unread in it, so that the close releases
   * nothing the peer sent; otherwise as closeOffLoop. Never blocks and never
   * fails; fd must not be used again.
   */
  closeConnection(fd: number): void;
  /** fcntl(F_DUPFD_CLOEXEC, 3): a close-on-exec copy of fd at 3 or above. */
  dup(fd: number): number;
  /**
   * A pseudo-terminal pair, [master, terminal], both O_NOCTTY and
   * close-on-exec, unlocked, with the window size set; the terminal side is
   * owned by `owner` (a uid, or -1 to keep this process's) with mode 0620.
   */
  openPty(columns: number, rows: number, owner: number): [number, number];
  /** ioctl(TIOCSWINSZ) on a terminal or pseudo-terminal master. */
  setTerminalSize(fd: number, columns: number, rows: number): void;
  /** Start a program without fork(2) of this process (clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) + execve). */
  spawn(options: NativeSpawnOptions): SpawnedProcess;
  /**
   * waitid(P_PIDFD, pidfd, WEXITED | WNOHANG): reaps the program. Returns null
   * if it has not exited yet.
   */
  waitPidfd(pidfd: number): WaitResult | null;
  /** pidfd_send_signal(2); throws ESRCH once the program has been reaped. */
  pidfdSignal(pidfd: number, signal: number): void;
  /** pidfd_open(2): a pidfd for a process this one did not start (close-on-exec). */
  pidfdOpen(pid: number): number;
  /** prctl(PR_SET_CHILD_SUBREAPER, 1) on this process. */
  setChildSubreaper(): void;
  /** kill(2); a negative pid names a process group. */
  kill(pid: number, signal: number): void;
  /**
   * Blocks this thread for one sync spawn on a connected socket: sends
   * `records` (the first with `fds` attached), writes inputData[i] to
   * inputs[i] and closes it, reads every output pipe, and collects the
   * server's records, until the server has hung up and every output pipe has
   * ended. After timeoutMs (0: none), or once the outputs together pass
   * maxBuffer (0 or Infinity: no limit), `stopRecord` is sent and the output
   * pipes are let go; a server that has not answered at all by the deadline
   * gets two more seconds. Takes every fd but the socket (closed once sent,
   * written or read to its end, and in any case before it returns).
   */
  exchangeSync(socket: number, records: Uint8Array[], fds: number[], inputs: number[], inputData: Uint8Array[],
    outputs: number[], stopRecord: Uint8Array, limits: { timeoutMs: number; maxBuffer: number }): SyncExchange;
  /** A poller for fd; callback(status, events) runs on this environment's loop. */
  Poller: new (fd: number, callback: (status: number, events: number) => void) => NativePoller;
}

let loaded: NativeBinding | undefined;

/** Loads the addon once (build/Release or a prebuild; load.ts). */
export function getBinding(): NativeBinding {
  if (loaded === undefined) loaded = loadAddon<NativeBinding>(path.join(__dirname, '..', '..'));
  return loaded;
}
