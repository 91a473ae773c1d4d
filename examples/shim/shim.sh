#!/bin/sh
# A shim: install this script under the name of a program that lives in the
# sidecar's container (gcc, make, eslint, ...), and calls of that name run
# there, with this process's stdin, stdout, stderr, exit status and signals.
#
# sidecar-client is the package's static native client
# (node_modules/.bin/sidecar-client; `sidecar install-shims DIR NAME...`
# copies it and writes shims like this one): put it on PATH, or point
# SIDECAR_CLIENT at it. `sidecar exec` works the same, but pays Node.js's
# start-up on every call.
exec "${SIDECAR_CLIENT:-sidecar-client}" --connect "${SIDECAR_SOCKET:-/var/shared/sidecar.sock}" \
  --workdir "$(pwd)" -- "$(basename "$0")" "$@"
