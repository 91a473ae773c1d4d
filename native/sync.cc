// The blocking exchange of a synchronous remote spawn (remoteSpawnSync): on
// an already connected seqpacket socket, send the request's records (the
// first with the stdio fds), write the input pipes, read the output pipes
// and the server's reply records, until the server has hung up and every
// output pipe has ended. A deadline and a byte budget stop it early, as
// child_process.spawnSync's timeout and maxBuffer do: the signal record the
// caller encoded is sent and the output pipes are let go. No protocol
// knowledge: the replies come back raw for the TypeScript codec, and the
// caller's memory is never forked (nothing here creates a process).
//
// Man pages: ppoll(2), sendmsg(2), recvmsg(2), read(2), write(2), fcntl(2)
// (O_NONBLOCK), pipe(7) (EPIPE), clock_gettime(2), unix(7) (SCM_RIGHTS).

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <memory>

#include "util.h"

namespace sidecar {
namespace {

// Read size for output pipes: libuv's, so that a maxBuffer overflow keeps
// about as much as child_process keeps.
constexpr size_t kReadChunk = 64 * 1024;
// The largest reply record the exchange accepts (the protocol's record limit).
constexpr size_t kMaxRecord = 64 * 1024;
// A server answers with two records (STARTED and EXIT, or one FAILED); past
// this many the rest is not read, so that a hostile server cannot make the
// caller hold an endless stream of them. The codec refuses the extra ones.
constexpr size_t kMaxReplies = 8;
// After the deadline, how long a server that has not answered at all may
// take before the exchange gives up on it (the caller then hangs up).
constexpr int64_t kUnansweredGraceMs = 2000;
// How long the output pipes stay open (unread) after the stop record went
// out: the program is to die of killSignal, as child_process's child does,
// not of SIGPIPE first; one that survives it then meets closed pipes.
constexpr int64_t kReleaseGraceMs = 1000;

int64_t NowMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct Input {
  UniqueFd fd;
  std::vector<uint8_t> data;
  size_t written = 0;
};

struct Output {
  UniqueFd fd;  // invalid once ended or let go
  std::vector<uint8_t> data;
};

struct Exchange {
  int socket;
  std::vector<std::vector<uint8_t>> records;
  size_t sent = 0;
  std::vector<UniqueFd> travelling;  // closed once the first record is sent
  std::vector<uint8_t> stop_record;
  std::vector<Input> inputs;
  std::vector<Output> outputs;
  std::vector<std::vector<uint8_t>> replies;
  bool socket_open = true;
  bool timed_out = false;
  bool overflowed = false;
  bool stopped = false;
  int64_t release_at = -1;  // when the let-go output pipes are closed
  double max_buffer = 0;
  double buffered = 0;
  int send_errno = 0;
  int input_errno = 0;
  int receive_errno = 0;
};

std::vector<uint8_t> CopyBytes(const Napi::Uint8Array& bytes) {
  return std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ElementLength());
}

// One sendmsg of the next request record; false on EAGAIN. The fds travel
// with the first record and are closed here once the kernel has them.
bool SendNext(Exchange* x) {
  std::vector<uint8_t>& record = x->records[x->sent];
  iovec vector = {record.data(), record.size()};
  msghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  std::vector<unsigned char> control;
  if (x->sent == 0 && !x->travelling.empty()) {
    size_t bytes = x->travelling.size() * sizeof(int);
    control.assign(CMSG_SPACE(bytes), 0);
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(bytes);
    for (size_t i = 0; i < x->travelling.size(); i++) {
      int fd = x->travelling[i].get();
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
    }
  }
  ssize_t n = RetryOnEintr([&] {
    return ::sendmsg(x->socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  });
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    // The server is gone or refused: what it said (if anything) is read on.
    x->send_errno = errno;
    x->records.clear();
    x->sent = 0;
    x->travelling.clear();
    return false;
  }
  if (x->sent == 0) x->travelling.clear();
  x->sent++;
  return true;
}

// Reads every reply record that is there; marks the socket ended on EOF.
void ReceiveReplies(Exchange* x) {
  std::vector<uint8_t> buffer(kMaxRecord);
  for (;;) {
    iovec vector = {buffer.data(), buffer.size()};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(16 * sizeof(int))];
    msghdr message;
    std::memset(&message, 0, sizeof(message));
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t n = RetryOnEintr([&] {
      return ::recvmsg(x->socket, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    });
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      x->receive_errno = errno;
      x->socket_open = false;
      return;
    }
    // A server sends no fds; any that came are closed at once.
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        UniqueFd closing(fd);
      }
    }
    if (n == 0) {
      x->socket_open = false;
      return;
    }
    // A truncated record stays truncated: the codec refuses it.
    x->replies.emplace_back(buffer.begin(), buffer.begin() + n);
    if (x->replies.size() >= kMaxReplies) {
      x->socket_open = false;
      return;
    }
  }
}

// Sends the stop record (once) and lets the output pipes go, as
// child_process's spawnSync closes its pipes when it kills.
void ReleaseOutputs(Exchange* x) {
  for (Output& output : x->outputs) output.fd.reset();
  x->release_at = -1;
}

void Stop(Exchange* x) {
  if (x->stopped) return;
  x->stopped = true;
  x->release_at = NowMs() + kReleaseGraceMs;
  if (!x->socket_open || x->send_errno != 0) {
    ReleaseOutputs(x);
    return;
  }
  // Behind any request record still unsent: queued in front of the rest.
  x->records.push_back(x->stop_record);
}

void ReadOutput(Exchange* x, Output* output) {
  uint8_t chunk[kReadChunk];
  ssize_t n = RetryOnEintr([&] { return ::read(output->fd.get(), chunk, sizeof(chunk)); });
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    output->fd.reset();
    return;
  }
  output->data.insert(output->data.end(), chunk, chunk + n);
  x->buffered += static_cast<double>(n);
  if (x->max_buffer > 0 && x->buffered > x->max_buffer && !x->stopped) {
    x->overflowed = true;
    Stop(x);
  }
}

void WriteInput(Exchange* x, Input* input) {
  size_t left = input->data.size() - input->written;
  ssize_t n = RetryOnEintr([&] {
    return ::write(input->fd.get(), input->data.data() + input->written, left);
  });
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  // EPIPE: the program closed its end before it read everything, which
  // child_process reports as the result's error too.
  if (n < 0) {
    if (x->input_errno == 0) x->input_errno = errno;
    input->fd.reset();
    return;
  }
  input->written += static_cast<size_t>(n);
  if (input->written == input->data.size()) input->fd.reset();
}

// Output pipes still read (let-go ones do not keep the exchange going).
bool OutputsOpen(const Exchange& x) {
  if (x.stopped) return false;
  for (const Output& output : x.outputs) {
    if (output.fd.valid()) return true;
  }
  return false;
}

void Run(Exchange* x, int64_t timeout_ms) {
  int64_t deadline = timeout_ms > 0 ? NowMs() + timeout_ms : -1;
  int64_t give_up = -1;
  while (x->socket_open || OutputsOpen(*x)) {
    std::vector<pollfd> entries;
    std::vector<void*> owners;  // Input*, Output* or nullptr for the socket
    std::vector<char> kinds;
    if (x->socket_open) {
      short events = POLLIN;
      if (x->sent < x->records.size()) events |= POLLOUT;
      entries.push_back({x->socket, events, 0});
      owners.push_back(nullptr);
      kinds.push_back('s');
    }
    for (Input& input : x->inputs) {
      if (!input.fd.valid()) continue;
      entries.push_back({input.fd.get(), POLLOUT, 0});
      owners.push_back(&input);
      kinds.push_back('i');
    }
    for (Output& output : x->outputs) {
      if (!output.fd.valid() || x->stopped) continue;
      entries.push_back({output.fd.get(), POLLIN, 0});
      owners.push_back(&output);
      kinds.push_back('o');
    }
    int64_t now = NowMs();
    int64_t until = x->stopped ? -1 : deadline;
    for (int64_t at : {give_up, x->release_at}) {
      if (at >= 0 && (until < 0 || at < until)) until = at;
    }
    timespec wait = {0, 0};
    timespec* wait_for = nullptr;
    if (until >= 0) {
      int64_t left = until > now ? until - now : 0;
      wait = {static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000};
      wait_for = &wait;
    }
    int ready = ::ppoll(entries.data(), entries.size(), wait_for, nullptr);
    if (ready < 0 && errno != EINTR) {
      x->receive_errno = errno;
      return;
    }
    if (ready > 0) {
      for (size_t i = 0; i < entries.size(); i++) {
        short revents = entries[i].revents;
        if (revents == 0) continue;
        if (kinds[i] == 's') {
          if ((revents & POLLOUT) != 0) {
            while (x->sent < x->records.size() && SendNext(x)) {
            }
          }
          if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) ReceiveReplies(x);
        } else if (kinds[i] == 'i') {
          WriteInput(x, static_cast<Input*>(owners[i]));
        } else if (static_cast<Output*>(owners[i])->fd.valid()) {
          ReadOutput(x, static_cast<Output*>(owners[i]));
        }
      }
    }
    now = NowMs();
    if (deadline >= 0 && now >= deadline && !x->timed_out && !x->overflowed) {
      x->timed_out = true;
      Stop(x);
      // A server that answered is followed to the program's end, as
      // spawnSync waits for its killed child; one that has said nothing yet
      // gets a grace period, then the caller hangs up on it.
      if (x->replies.empty()) give_up = now + kUnansweredGraceMs;
    }
    if (x->release_at >= 0 && (now >= x->release_at || !x->socket_open)) ReleaseOutputs(x);
    if (give_up >= 0) {
      if (!x->replies.empty()) give_up = -1;
      else if (now >= give_up) return;
    }
  }
}

Napi::Value MakeResult(Napi::Env env, Exchange* x) {
  Napi::Object result = Napi::Object::New(env);
  Napi::Array replies = Napi::Array::New(env, x->replies.size());
  for (size_t i = 0; i < x->replies.size(); i++) {
    replies.Set(static_cast<uint32_t>(i),
                Napi::Buffer<uint8_t>::Copy(env, x->replies[i].data(), x->replies[i].size()));
  }
  Napi::Array outputs = Napi::Array::New(env, x->outputs.size());
  for (size_t i = 0; i < x->outputs.size(); i++) {
    outputs.Set(static_cast<uint32_t>(i),
                Napi::Buffer<uint8_t>::Copy(env, x->outputs[i].data.data(), x->outputs[i].data.size()));
  }
  result.Set("replies", replies);
  result.Set("outputs", outputs);
  result.Set("ended", Napi::Boolean::New(env, !x->socket_open));
  result.Set("timedOut", Napi::Boolean::New(env, x->timed_out));
  result.Set("overflowed", Napi::Boolean::New(env, x->overflowed));
  result.Set("sendErrno", Napi::Number::New(env, x->send_errno));
  result.Set("receiveErrno", Napi::Number::New(env, x->receive_errno));
  result.Set("inputErrno", Napi::Number::New(env, x->input_errno));
  return result;
}

}  // namespace

Napi::Value ExchangeSync(const Napi::CallbackInfo& info) {
  Args args(info, 8,
            "exchangeSync(socket: number, records: Uint8Array[], fds: number[], "
            "inputs: number[], inputData: Uint8Array[], outputs: number[], "
            "stopRecord: Uint8Array, limits: { timeoutMs: number, maxBuffer: number }): "
            "SyncExchange");
  Napi::Env env = args.Env();
  auto x = std::make_unique<Exchange>();
  x->socket = args.Fd(0);
  if (!info[1].IsArray() || !info[4].IsArray() || !info[7].IsObject()) {
    ThrowTypeError(env, args.usage());
  }
  Napi::Array records = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < records.Length(); i++) {
    x->records.push_back(CopyBytes(BytesArg(env, records.Get(i), args.usage())));
  }
  std::vector<int> travelling = args.FdArray(2, 0);
  std::vector<int> inputs = args.FdArray(3, 0);
  Napi::Array input_data = info[4].As<Napi::Array>();
  std::vector<int> outputs = args.FdArray(5, 0);
  x->stop_record = CopyBytes(args.Bytes(6));
  Napi::Object limits = info[7].As<Napi::Object>();
  int64_t timeout_ms = IntegerArg(env, limits.Get("timeoutMs"), 0, INT32_MAX, args.usage());
  Napi::Value max_buffer = limits.Get("maxBuffer");
  if (!max_buffer.IsNumber() || input_data.Length() != inputs.size()) {
    ThrowTypeError(env, args.usage());
  }
  // Infinity (or 0, as for child_process) means no budget.
  double budget = max_buffer.As<Napi::Number>().DoubleValue();
  x->max_buffer = std::isfinite(budget) && budget > 0 ? budget : 0;
  std::vector<std::vector<uint8_t>> data;
  for (uint32_t i = 0; i < input_data.Length(); i++) {
    data.push_back(CopyBytes(BytesArg(env, input_data.Get(i), args.usage())));
  }
  // Every argument is checked: from here on the fds are this call's.
  for (int fd : travelling) x->travelling.emplace_back(fd);
  for (size_t i = 0; i < inputs.size(); i++) {
    Input input;
    input.fd = UniqueFd(inputs[i]);
    input.data = std::move(data[i]);
    if (input.data.empty()) {
      input.fd.reset();
    } else {
      SetNonBlocking(input.fd.get());
    }
    x->inputs.push_back(std::move(input));
  }
  for (int fd : outputs) {
    Output output;
    output.fd = UniqueFd(fd);
    SetNonBlocking(fd);
    x->outputs.push_back(std::move(output));
  }
  // The input first, while the pipe's read end is still here to be sent: what
  // fits the pipe waits for the program as it waits for a local child, so a
  // program that exits without reading a small input is no EPIPE.
  for (Input& input : x->inputs) {
    if (input.fd.valid()) WriteInput(x.get(), &input);
  }
  while (x->sent < x->records.size() && SendNext(x.get())) {
  }
  Run(x.get(), timeout_ms);
  return MakeResult(env, x.get());
}

}  // namespace sidecar
