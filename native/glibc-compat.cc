// The glibc functions that the static libstdc++ (libstdc++.a, compiled
// against the build machine's glibc) asks for at versions newer than 2.28,
// defined here, inside the addon and hidden, so that its references bind to
// these at link time instead of to glibc (see glibc-compat.h, forced into
// this file too, for the why and the version names). Each forwards to the
// oldest version of the same function, except the two that glibc 2.28 does
// not have at all:
// - __libc_single_threaded (2.32): libstdc++ skips atomic reference counts
//   when it is set; left 0, they are always atomic, which is always right
//   (and Node.js is multi-threaded anyway).
// - arc4random (2.36): reached only through std::random_device, which the
//   addon never uses; getrandom(2) gives the same contract.
//
// Man pages: pthread_once(3p), pthread_key_create(3p),
// pthread_getspecific(3p), getrandom(2), random(4).

#include <features.h>

#if defined(SIDECAR_GLIBC_BASE)

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIDECAR_HIDDEN __attribute__((visibility("hidden")))

// The oldest versions, under names of our own; .symver makes each reference
// one to name@version.
extern "C" {
int sidecar_old_pthread_once(pthread_once_t*, void (*)());
int sidecar_old_pthread_key_create(pthread_key_t*, void (*)(void*));
int sidecar_old_pthread_key_delete(pthread_key_t);
void* sidecar_old_pthread_getspecific(pthread_key_t);
int sidecar_old_pthread_setspecific(pthread_key_t, const void*)
#ifdef __attr_access_none  // as <pthread.h> declares it: the value is not read
    __attr_access_none(2)
#endif
    ;
}
__asm__(".symver sidecar_old_pthread_once,pthread_once@" SIDECAR_GLIBC_BASE);
__asm__(".symver sidecar_old_pthread_key_create,pthread_key_create@" SIDECAR_GLIBC_BASE);
__asm__(".symver sidecar_old_pthread_key_delete,pthread_key_delete@" SIDECAR_GLIBC_BASE);
__asm__(".symver sidecar_old_pthread_getspecific,pthread_getspecific@" SIDECAR_GLIBC_BASE);
__asm__(".symver sidecar_old_pthread_setspecific,pthread_setspecific@" SIDECAR_GLIBC_BASE);

extern "C" {

SIDECAR_HIDDEN char __libc_single_threaded = 0;

SIDECAR_HIDDEN int pthread_once(pthread_once_t* once, void (*init)()) {
  return sidecar_old_pthread_once(once, init);
}

SIDECAR_HIDDEN int pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) {
  return sidecar_old_pthread_key_create(key, destructor);
}

SIDECAR_HIDDEN int pthread_key_delete(pthread_key_t key) {
  return sidecar_old_pthread_key_delete(key);
}

SIDECAR_HIDDEN void* pthread_getspecific(pthread_key_t key) {
  return sidecar_old_pthread_getspecific(key);
}

SIDECAR_HIDDEN int pthread_setspecific(pthread_key_t key, const void* value) {
  return sidecar_old_pthread_setspecific(key, value);
}

// Like glibc's: never fails; without any source of entropy it aborts.
SIDECAR_HIDDEN uint32_t arc4random() {
  uint32_t value;
  for (;;) {
    long got = syscall(SYS_getrandom, &value, sizeof(value), 0);
    if (got == static_cast<long>(sizeof(value))) return value;
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno != ENOSYS) abort();
    break;  // a kernel before 3.17
  }
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &value, sizeof(value)) != sizeof(value)) abort();
  close(fd);
  return value;
}

}  // extern "C"

#endif  // SIDECAR_GLIBC_BASE
