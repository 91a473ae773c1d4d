'use strict';
// Two "containers" for the register preload and the real-tool tests: a
// server in a mount namespace of its own (unshare), where a tool directory
// holds programs that exist nowhere else, and clients in Node processes of
// their own (the preload patches the whole process).
//
//   useToolServers()  useServers() (inside describe), whose servers' pipes
//       are also closed before the next test starts, so that no fd of this
//       process closes during a later test's leak check.
//   startToolServer(servers, options)  a server (useServers()'s start) whose
//       namespace mounts a tmpfs on `toolDir` and copies the tools into it;
//       toolDir is an empty directory for every other process. Resolves with
//       { server, toolDir, dir }. The staging copy is removed once copied.
//   runNode(args, options)  node with `args` from the package root (where
//       `sidecar-exec` resolves to this package), or `cwd`; resolves with
//       { code, signal, stdout, stderr }; killed after `timeout` ms.
//   clientEnv(extra)  this process's environment without the preload's
//       variables and NODE_OPTIONS, with `extra` over it.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('./tmp');
const { useServers } = require('./server');

const ROOT = path.join(__dirname, '..', '..');

/** The tools only the server has (sh scripts). napper says "napping", writes its pid to $NAP_PIDFILE, then becomes `sleep 60`. */
const SERVER_TOOLS = {
  greet: 'echo "greet $*"',
  'fail-with': 'echo "failing with $1" >&2\nexit "$1"',
  // "napping" first: once the pid file is there, it has been written, so a
  // caller that kills the napper then always reads it.
  napper: 'echo napping\n'
    + 'if [ -n "$NAP_PIDFILE" ]; then echo $$ > "$NAP_PIDFILE.new" && mv "$NAP_PIDFILE.new" "$NAP_PIDFILE"; fi\n'
    + 'exec sleep 60',
};

async function startToolServer(servers, { tools = SERVER_TOOLS, copy = [], serverOptions = {} } = {}) {
  const dir = tempDir('sidecar-containers-');
  const toolDir = path.join(dir, 'bin');
  const staging = path.join(dir, 'staging');
  fs.mkdirSync(toolDir);
  fs.mkdirSync(staging);
  for (const [name, body] of Object.entries(tools)) {
    fs.writeFileSync(path.join(staging, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  for (const file of copy) fs.copyFileSync(file, path.join(staging, path.basename(file)));
  for (const file of copy) fs.chmodSync(path.join(staging, path.basename(file)), 0o755);
  // The mount is private to the server's namespace; the staging copy goes
  // before the server starts, so that no other process can find the tools.
  const script = 'mount -t tmpfs -o mode=0755 tools "$1" && cp -a "$2"/. "$1"/ && rm -rf "$2" && shift 2 && exec "$@"';
  const server = await servers.start({
    serverOptions,
    socketPath: path.join(dir, 'sock'),
    wrap: ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', toolDir, staging],
  });
  return { server, toolDir, dir };
}

function useToolServers() {
  const servers = useServers();
  const processes = [];
  const start = servers.start;
  servers.start = async (options) => {
    const server = await start(options);
    processes.push(server.process);
    return server;
  };
  afterEach(async function () {
    const closing = processes.splice(0).filter((child) => !(child.stdout.closed && child.stderr.closed));
    await Promise.all(closing.map((child) => new Promise((resolve) => child.once('close', resolve))));
  });
  return servers;
}

function clientEnv(extra = {}) {
  const env = { ...process.env };
  for (const name of ['NODE_OPTIONS', 'NODE_DEBUG', 'SIDECAR_SOCKET', 'SIDECAR_COMMANDS']) delete env[name];
  return { ...env, ...extra };
}

function runNode(args, { env = clientEnv(), cwd = ROOT, timeout = 30000, wrap = [] } = {}) {
  const argv = [...wrap, process.execPath, ...args];
  const child = childProcess.spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The last line of `stdout` that is JSON, parsed (a client's report). */
function report(result) {
  const line = result.stdout.trim().split('\n').reverse().find((text) => text.startsWith('{'));
  if (line === undefined) throw new Error(`no report (${result.code ?? result.signal}):\n${result.stdout}${result.stderr}`);
  return JSON.parse(line);
}

/** Resolves once the server reaped the program with that pid (its 'exit' event), with the event. */
function reaped(server, pid, timeout = 10000) {
  return server.waitEvent((event) => event.event === 'exit' && event.pid === pid, timeout);
}

module.exports = {
  useToolServers, startToolServer, clientEnv, runNode, report, reaped, SERVER_TOOLS, PACKAGE_ROOT: ROOT,
};
