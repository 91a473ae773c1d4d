// Forced into every source file of the addon (binding.gyp: -include) so that
// an addon built against a recent glibc loads on glibc 2.28 too (RHEL and
// Alma 8, Debian 10, Ubuntu 20.04): the oldest glibc that Node.js 20's own
// Linux builds run on, so nothing is lost by going lower.
//
// A program linked against glibc asks for each function at the version the
// build-time glibc declares as its default, e.g. pthread_sigmask@GLIBC_2.32
// (libpthread was merged into libc in 2.34, which gave its functions new
// versions). glibc keeps the old versions of every function for older
// programs, so `.symver` below binds our references to those instead: the
// same code, found both in old glibcs and in new ones.
// Tested by test/integration/prebuilds.test.js (objdump -T of every
// prebuilt addon: no version above GLIBC_2.28).
//
// What cannot be pinned is avoided instead: strerrorname_np (2.32; our own
// table, errno-names.cc), fstat (exported only since 2.33; closer.cc uses
// fcntl), pthread_cond_clockwait (2.30; see the end of this file). libstdc++
// and libgcc are linked statically (binding.gyp), so no GLIBCXX version is
// needed either.
//
// Base versions: GLIBC_2.2.5 is the first glibc of x86_64, GLIBC_2.17 the
// first of aarch64. Other architectures and musl (which has no symbol
// versions) build from source against their own libc, and nothing is pinned.

#ifndef SIDECAR_EXEC_GLIBC_COMPAT_H_
#define SIDECAR_EXEC_GLIBC_COMPAT_H_

#include <features.h>  // __GLIBC__, which musl does not define

#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))

#if defined(__x86_64__)
#define SIDECAR_GLIBC_BASE "GLIBC_2.2.5"
// librt's POSIX timers: the 2.2.5 ones are an older, different ABI.
#define SIDECAR_GLIBC_TIMER "GLIBC_2.3.3"
#define SIDECAR_GLIBC_SETNAME "GLIBC_2.12"
#else
#define SIDECAR_GLIBC_BASE "GLIBC_2.17"
#define SIDECAR_GLIBC_TIMER "GLIBC_2.17"
#define SIDECAR_GLIBC_SETNAME "GLIBC_2.17"
#endif

#define SIDECAR_GLIBC_PIN(name, version) \
  __asm__(".symver " #name "," #name "@" version)

// Before 2.34 these live in libpthread.so.0 and librt.so.1, which binding.gyp
// therefore links (they are empty stubs in newer glibcs).
SIDECAR_GLIBC_PIN(pthread_sigmask, SIDECAR_GLIBC_BASE);
SIDECAR_GLIBC_PIN(pthread_create, SIDECAR_GLIBC_BASE);
SIDECAR_GLIBC_PIN(pthread_attr_setstacksize, SIDECAR_GLIBC_BASE);
SIDECAR_GLIBC_PIN(pthread_setname_np, SIDECAR_GLIBC_SETNAME);
SIDECAR_GLIBC_PIN(timer_create, SIDECAR_GLIBC_TIMER);
SIDECAR_GLIBC_PIN(timer_settime, SIDECAR_GLIBC_TIMER);
SIDECAR_GLIBC_PIN(timer_delete, SIDECAR_GLIBC_TIMER);

#if defined(__cplusplus) && __has_include(<bits/c++config.h>)
// libstdc++'s condition_variable waits on the steady clock with
// pthread_cond_clockwait (glibc 2.30) when the build-time glibc has it;
// without, it waits with pthread_cond_timedwait on the system clock. The
// closer's only timed wait is an idle thread's 2 s before it ends, which a
// wall-clock step may lengthen or shorten harmlessly.
#include <bits/c++config.h>
#undef _GLIBCXX_USE_PTHREAD_COND_CLOCKWAIT
#endif

#endif  // __GLIBC__ on x86_64 or aarch64

#endif  // SIDECAR_EXEC_GLIBC_COMPAT_H_
