# Build of the native addon (build/Release/sidecar_exec.node), loaded by
# src/binding/index.ts through node-gyp-build, and of the shim client
# executable (build/Release/sidecar-client). Linux only (package.json "os").
# C++ exceptions are on so that argument and errno errors can be thrown as
# Napi::Error from any depth; node's common.gypi turns them off by default.
# -z now: the spawn child (sharing our memory, see native/spawn.cc) must not
# run the dynamic linker's lazy symbol resolution on its first libc calls.
{
  "targets": [
    {
      "target_name": "sidecar_exec",
      "sources": [
        "native/addon.cc",
        "native/closer.cc",
        "native/fd.cc",
        "native/poll.cc",
        "native/process.cc",
        "native/pty.cc",
        "native/socket.cc",
        "native/spawn.cc",
        "native/util.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions", "-O3", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-fexceptions", "-std=c++17"],
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"],
      # timer_create (native/closer.cc) lives in librt before glibc 2.34.
      "libraries": ["-lrt"]
    },
    {
      # build/Release/sidecar-client: `sidecar exec` without Node.js's
      # start-up, for shims (native/client/sidecar-client.c).
      "target_name": "sidecar-client",
      "type": "executable",
      "sources": ["native/client/sidecar-client.c"],
      "cflags!": ["-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
