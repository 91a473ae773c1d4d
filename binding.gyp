# Build of the native addon (build/Release/sidecar_exec.node), loaded by
# src/binding/index.ts through node-gyp-build, and of the shim client
# executable (build/Release/sidecar-client). Linux only (package.json "os").
# C++ exceptions are on so that argument and errno errors can be thrown as
# Napi::Error from any depth; node's common.gypi turns them off by default.
# -z now: the spawn child (sharing our memory, see native/spawn.cc) must not
# run the dynamic linker's lazy symbol resolution on its first libc calls.
# Portable to glibc 2.28 (the prebuilds, docs/install.md): every source gets
# native/glibc-compat.h forced in, and with glibc libstdc++ is linked in
# statically (its symbols kept private: --exclude-libs), so the addon needs
# no GLIBCXX version (libgcc_s, the unwinder, stays shared: its static copy
# would need glibc 2.35's _dl_find_object); musl builds from source link
# libstdc++ as usual.
{
  "variables": {
    "sidecar_glibc%": "<!(node -p \"process.report.getReport().header.glibcVersionRuntime ? 1 : 0\")"
  },
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
        "native/sync.cc",
        "native/util.cc",
        "native/errno-names.cc",
        "native/glibc-compat.cc"
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
      "cflags": ["-O2", "-Wall", "-Wextra",
                 "-include", "<(module_root_dir)/native/glibc-compat.h"],
      "cflags_cc": ["-fexceptions", "-std=c++17"],
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"],
      # timer_create (native/closer.cc) lives in librt before glibc 2.34.
      "libraries": ["-lrt"],
      "conditions": [
        ["sidecar_glibc==1", {
          "ldflags": ["-static-libstdc++", "-Wl,--exclude-libs,ALL"],
          # The pinned timer_* and pthread_* (native/glibc-compat.h) are in
          # librt.so.1 and libpthread.so.0 before glibc 2.34, so the addon
          # names both even when built where they are empty (-lrt then links
          # nothing).
          "libraries": ["-Wl,--push-state,--no-as-needed", "-l:librt.so.1",
                        "-l:libpthread.so.0", "-Wl,--pop-state"]
        }]
      ]
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
