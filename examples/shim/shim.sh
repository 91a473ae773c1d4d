#!/bin/sh
# A shim: install this script under the name of a program that lives in the
# sidecar's container (gcc, make, eslint, ...), and calls of that name run
# there, with this process's stdin, stdout, stderr, exit status and signals.
#
# sidecar-client is the native client built with the package
# (node_modules/sidecar-exec/build/Release/sidecar-client): copy it onto PATH,
# or point SIDECAR_CLIENT at it. `sidecar exec` works the same, but pays
# Node.js's start-up on every call.
exec "${SIDECAR_CLIENT:-sidecar-client}" --connect "${SIDECAR_SOCKET:-/var/shared/sidecar.sock}" \
  --workdir "$(pwd)" -- "$(basename "$0")" "$@"
