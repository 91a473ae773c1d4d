// The symbolic name of an errno value ("ENOENT"), for the `code` of the
// errors the addon throws. A table of our own rather than glibc's
// strerrorname_np: that exists only since glibc 2.32 and not in musl, and
// the prebuilt addon must load on glibc 2.28 (docs/install.md). Kept free of
// Node's headers so that a test can build it alone and compare it with the
// C library's own names.
//
// Man pages: errno(3).

#ifndef SIDECAR_EXEC_ERRNO_NAMES_H_
#define SIDECAR_EXEC_ERRNO_NAMES_H_

namespace sidecar {

// The name of `err`, or nullptr when this platform defines no name for it.
// Of two names for one value (EAGAIN and EWOULDBLOCK, EDEADLK and
// EDEADLOCK, EOPNOTSUPP and ENOTSUP), the first, as glibc and libuv name it.
const char* ErrnoNameOf(int err);

}  // namespace sidecar

#endif  // SIDECAR_EXEC_ERRNO_NAMES_H_
