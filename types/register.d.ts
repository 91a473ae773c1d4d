// sidecar-exec/register: a preload with no exports. Loaded with
// `node -r sidecar-exec/register`, `node --import sidecar-exec/register` or
// NODE_OPTIONS, it routes the child_process calls of the commands named in
// SIDECAR_COMMANDS to the server at SIDECAR_SOCKET (docs/api.md, "register").
export {};
