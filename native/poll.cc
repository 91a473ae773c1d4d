// Poller: a uv_poll_t on the calling environment's own loop (the main
// thread's or a worker's), so readiness of the server's descriptors is
// dispatched like any other Node I/O, with the callback run through
// napi_make_callback (async hooks, nextTick/microtask draining, and uncaught
// exceptions reported to the process like any other callback's).
//
// Lifetime: the uv_poll_t lives in its own heap block that only libuv's close
// callback frees, so neither order of "JS object collected" and "handle
// closed" can leave a dangling pointer. The JS object is kept alive (a strong
// reference) while the handle is active, because libuv would otherwise call
// back into a collected object. An async cleanup hook closes the handle when
// the environment is torn down (a worker exiting), which Node requires before
// it closes the loop.
//
// Man pages: none (libuv makes the system calls). libuv docs: uv_poll_t,
// uv_handle_t; Node-API docs: napi_get_uv_event_loop, napi_make_callback,
// napi_add_async_cleanup_hook, napi_remove_async_cleanup_hook,
// napi_fatal_exception.

#include <uv.h>

#include <memory>

#include "util.h"

namespace sidecar {
namespace {

// Readiness bits of the contract (src/binding/index.ts).
constexpr int kReadable = 1;
constexpr int kWritable = 2;

class Poller;

// The libuv side, owned by libuv from uv_poll_init until OnClosed.
struct PollHandle {
  uv_poll_t poll;
  Poller* owner = nullptr;  // nullptr once the JS side let go
  napi_async_cleanup_hook_handle cleanup = nullptr;
  bool closing = false;
};

PollHandle* FromUv(uv_handle_t* handle) {
  return static_cast<PollHandle*>(handle->data);
}

void OnClosed(uv_handle_t* handle) {
  PollHandle* poll = FromUv(handle);
  if (poll->cleanup != nullptr) napi_remove_async_cleanup_hook(poll->cleanup);
  delete poll;
}

// Starts closing; the block is freed by OnClosed, later, on the loop.
void BeginClose(PollHandle* poll) {
  if (poll->closing) return;
  poll->closing = true;
  poll->owner = nullptr;
  uv_poll_stop(&poll->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll->poll), OnClosed);
}

int ToUvEvents(int events) {
  return ((events & kReadable) != 0 ? UV_READABLE : 0) |
         ((events & kWritable) != 0 ? UV_WRITABLE : 0);
}

int FromUvEvents(int events) {
  return ((events & UV_READABLE) != 0 ? kReadable : 0) |
         ((events & UV_WRITABLE) != 0 ? kWritable : 0);
}

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {
                           InstanceMethod<&Poller::Start>("start"),
                           InstanceMethod<&Poller::Stop>("stop"),
                           InstanceMethod<&Poller::Close>("close"),
                           InstanceMethod<&Poller::Ref>("ref"),
                           InstanceMethod<&Poller::Unref>("unref"),
                       });
  }

  explicit Poller(const Napi::CallbackInfo& info);
  ~Poller() override;

  void Detach() { poll_ = nullptr; }
  void Dispatch(PollHandle* poll, int status, int events);

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  uv_handle_t* UvHandle() {
    return reinterpret_cast<uv_handle_t*>(&poll_->poll);
  }
  // Holds the JS object exactly while libuv may call back into it.
  void SyncPin();
  // Drops the references to the callback and its async context once the
  // poller is closed: the callback's closure usually reaches this poller's
  // JS object, and a strong reference from here would keep that cycle (and
  // everything the closure holds) alive for ever.
  void ReleaseCallback();

  PollHandle* poll_ = nullptr;  // nullptr once closed
  bool pinned_ = false;
  bool dispatching_ = false;
  bool release_after_dispatch_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

void OnPoll(uv_poll_t* handle, int status, int events) {
  PollHandle* poll = FromUv(reinterpret_cast<uv_handle_t*>(handle));
  if (poll->owner != nullptr) poll->owner->Dispatch(poll, status, events);
}

// Environment teardown: close what JS did not. The hook stays registered
// until OnClosed removes it, which makes Node run the loop until then.
void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
  PollHandle* poll = static_cast<PollHandle*>(arg);
  if (poll->owner != nullptr) poll->owner->Detach();
  BeginClose(poll);  // no-op when already closing: OnClosed is pending
}

// The handle block, initialized and registered for teardown; throws (and
// leaves nothing behind) on failure.
PollHandle* OpenHandle(Napi::Env env, int fd) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "cannot get the environment's event loop");
  }
  std::unique_ptr<PollHandle> poll(new PollHandle());
  int rc = uv_poll_init(loop, &poll->poll, fd);
  if (rc != 0) ThrowErrno(env, -rc, "uv_poll_init");
  poll->poll.data = poll.get();
  PollHandle* raw = poll.release();  // libuv holds it until OnClosed
  if (napi_add_async_cleanup_hook(env, OnEnvTeardown, raw, &raw->cleanup) !=
      napi_ok) {
    raw->cleanup = nullptr;
    BeginClose(raw);
    throw Napi::Error::New(env, "cannot register the environment cleanup hook");
  }
  return raw;
}

Poller::Poller(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Poller>(info) {
  Args args(info, 2,
            "new Poller(fd: number, callback: (status: number, events: "
            "number) => void)");
  Napi::Env env = args.Env();
  int fd = args.Fd(0);
  if (!info[1].IsFunction()) {
    ThrowTypeError(env,
                   std::string("expected a function; usage: ") + args.usage());
  }
  callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "SidecarPoller",
                                                        info.This().As<Napi::Object>());
  // Last: nothing may throw once the handle exists, since ~Poller does not
  // run for a constructor that throws.
  poll_ = OpenHandle(env, fd);
  poll_->owner = this;
}

Poller::~Poller() {
  // A backstop: an active poller is pinned, so this only meets handles that
  // were never started, were stopped, or outlive their environment.
  if (poll_ != nullptr) BeginClose(poll_);
}

void Poller::SyncPin() {
  bool active = poll_ != nullptr && uv_is_active(UvHandle()) != 0;
  if (active && !pinned_) {
    Napi::ObjectWrap<Poller>::Ref();
    pinned_ = true;
  } else if (!active && pinned_) {
    Napi::ObjectWrap<Poller>::Unref();
    pinned_ = false;
  }
}

void Poller::Dispatch(PollHandle* poll, int status, int events) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  dispatching_ = true;
  try {
    callback_.MakeCallback(
        Value(),
        {Napi::Number::New(env, status),
         Napi::Number::New(env, FromUvEvents(events))},
        *async_context_);
  } catch (const Napi::Error& error) {
    // An exception must not unwind into libuv: hand it to the process as an
    // uncaught exception, as Node does for its own callbacks.
    napi_fatal_exception(env, error.Value());
  }
  dispatching_ = false;
  if (release_after_dispatch_) ReleaseCallback();
  // libuv stops a handle itself after an error; the callback may also have
  // closed it (then `poll` is still allocated: OnClosed runs later).
  if (poll->owner == this) {
    try {
      SyncPin();
    } catch (const Napi::Error& error) {
      napi_fatal_exception(env, error.Value());
    }
  }
}

Napi::Value Poller::Start(const Napi::CallbackInfo& info) {
  Args args(info, 1, "poller.start(events: number): void");
  Napi::Env env = args.Env();
  int events = static_cast<int>(args.Integer(0, 0, kReadable | kWritable));
  if (poll_ == nullptr) ThrowErrno(env, EBADF, "uv_poll_start");
  int rc = uv_poll_start(&poll_->poll, ToUvEvents(events), OnPoll);
  SyncPin();
  if (rc != 0) ThrowErrno(env, -rc, "uv_poll_start");
  return env.Undefined();
}

Napi::Value Poller::Stop(const Napi::CallbackInfo& info) {
  Args args(info, 0, "poller.stop(): void");
  Napi::Env env = args.Env();
  if (poll_ != nullptr) {
    uv_poll_stop(&poll_->poll);
    SyncPin();
  }
  return env.Undefined();
}

Napi::Value Poller::Close(const Napi::CallbackInfo& info) {
  Args args(info, 0, "poller.close(): void");
  Napi::Env env = args.Env();
  if (poll_ != nullptr) {
    BeginClose(poll_);
    poll_ = nullptr;
    SyncPin();
  }
  ReleaseCallback();
  return env.Undefined();
}

void Poller::ReleaseCallback() {
  if (dispatching_) {
    // Closed from inside its own callback: the async context is in use
    // until MakeCallback returns.
    release_after_dispatch_ = true;
    return;
  }
  release_after_dispatch_ = false;
  callback_.Reset();
  async_context_.reset();
}

Napi::Value Poller::Ref(const Napi::CallbackInfo& info) {
  Args args(info, 0, "poller.ref(): void");
  if (poll_ != nullptr) uv_ref(UvHandle());
  return args.Env().Undefined();
}

Napi::Value Poller::Unref(const Napi::CallbackInfo& info) {
  Args args(info, 0, "poller.unref(): void");
  if (poll_ != nullptr) uv_unref(UvHandle());
  return args.Env().Undefined();
}

}  // namespace

Napi::Function DefinePoller(Napi::Env env) { return Poller::Define(env); }

}  // namespace sidecar
