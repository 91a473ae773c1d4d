// Module entry point: the export table of the NativeBinding interface
// (src/binding/index.ts) and nothing else. The READABLE/WRITABLE constants
// live in TypeScript.
//
// Man pages: none (Node-API: napi_module_register via NODE_API_MODULE).

#include "util.h"

namespace {

using namespace sidecar;

// Outside namespace sidecar: NODE_API_MODULE pastes this name into an
// identifier, so it must be reachable unqualified.
Napi::Object InitSidecarExec(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*function)(const Napi::CallbackInfo&);
  };
  static const Entry kFunctions[] = {
      // socket.cc
      {"listen", Listen},
      {"accept", Accept},
      {"connect", Connect},
      {"send", Send},
      {"receive", Receive},
      {"peerCredentials", PeerCredentials},
      {"peerHungUp", PeerHungUp},
      // fd.cc
      {"pipe", Pipe},
      {"socketPair", SocketPair},
      {"waitReadable", WaitReadable},
      {"openReadWrite", OpenReadWrite},
      {"readFileAt", ReadFileAt},
      {"close", Close},
      {"dup", Dup},
      // closer.cc
      {"closeOffLoop", CloseOffLoop},
      {"closeConnection", CloseConnection},
      // spawn.cc
      {"spawn", Spawn},
      // pty.cc
      {"openPty", OpenPty},
      {"setTerminalSize", SetTerminalSize},
      // process.cc
      {"waitPidfd", WaitPidfd},
      {"pidfdSignal", PidfdSignal},
      {"pidfdOpen", PidfdOpenPid},
      {"setChildSubreaper", SetChildSubreaper},
      {"kill", Kill},
      // sync.cc
      {"exchangeSync", ExchangeSync},
  };
  for (const Entry& entry : kFunctions) {
    exports.Set(entry.name,
                Napi::Function::New(env, entry.function, entry.name));
  }
  exports.Set("Poller", DefinePoller(env));  // poll.cc
  return exports;
}

}  // namespace

NODE_API_MODULE(sidecar_exec, InitSidecarExec)
