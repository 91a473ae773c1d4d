#!/usr/bin/env node
// `npm start`: a client and a server in two processes, as in two containers.
// The server is this directory's service (server.js); when this runs as root
// with unshare(1), it gets a mount namespace of its own, where its tool
// directory holds a program that the client cannot see. The client (this
// process) runs that program through the socket, in a workspace both see at
// the same path, then shows what crossed, stops the server, removes
// everything it made, and prints the two commands to try by hand.
// Exit status: 0 when everything crossed as it should, 1 otherwise.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { remoteSpawn } = require('sidecar-exec');

const SERVICE = path.join(__dirname, 'server.js');
const TOOL = 'greet';
const ARGS = ['hello world', '--level=3'];
const TOOL_EXIT = 3;
const REPORT = `${TOOL}-report.txt`;

// The program on the server's side: it reports where it ran, writes that
// into its working directory, and ends with a status of its own.
const TOOL_SCRIPT = `#!/bin/sh
{
  echo "pid=$$"
  echo "mnt=$(readlink /proc/$$/ns/mnt)"
  echo "cwd=$(pwd -P)"
  for arg in "$@"; do echo "arg=$arg"; done
} > ${REPORT}
echo "${TOOL}: hello from pid $$ on the server's side, with $# arguments"
exit ${TOOL_EXIT}
`;

// Run by sh in the server's process before it execs the service: in a
// namespace, a tmpfs over the tool directory, so that what is written there
// exists only on the server's side.
const SERVER_SETUP = `set -e
if [ "$SIDECAR_DEMO_ISOLATE" = 1 ]; then mount -t tmpfs -o mode=0755,size=1m sidecar-demo-tools "$SIDECAR_DEMO_TOOLS"; fi
printf '%s' "$SIDECAR_DEMO_TOOL" > "$SIDECAR_DEMO_TOOLS/${TOOL}"
chmod 755 "$SIDECAR_DEMO_TOOLS/${TOOL}"
unset SIDECAR_DEMO_ISOLATE SIDECAR_DEMO_TOOLS SIDECAR_DEMO_TOOL
exec "$@"`;

const say = (line = '') => process.stdout.write(`${line}\n`);
/** One line of a table: the label in a column of its own. */
const row = (label, text) => say(`  ${label.padEnd(11)}${text}`);
const quoted = (word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`);

const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-demo-')));
const tools = path.join(root, 'tools');
const workspace = path.join(root, 'workspace');
const socketPath = path.join(root, 'sidecar.sock');
fs.mkdirSync(tools, { mode: 0o755 });
fs.mkdirSync(workspace, { mode: 0o755 });

/** Whether a mount namespace can be made here: root, unshare(1) present and allowed (not in every container). */
function canIsolate() {
  if (process.getuid() !== 0) return false;
  return childProcess.spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' }).status === 0;
}

const isolated = canIsolate();
let server;
let problems = 0;

/** Removes what the demo made; the server is gone by then, or ends now. */
function cleanUp() {
  if (server !== undefined && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

function check(ok, problem) {
  if (ok) return;
  problems += 1;
  say(`  unexpected: ${problem}`);
}

/** Starts the service; resolves with its log (a live array of lines) and HTTP URL once it is ready. */
function startServer() {
  const command = [process.execPath, SERVICE, '--socket', socketPath];
  const argv = isolated
    ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', SERVER_SETUP, 'sh', ...command]
    : ['sh', '-c', SERVER_SETUP, 'sh', ...command];
  server = childProcess.spawn(argv[0], argv.slice(1), {
    env: {
      ...process.env,
      PATH: `${tools}${path.delimiter}${process.env.PATH ?? ''}`,
      SIDECAR_DEMO_ISOLATE: isolated ? '1' : '0',
      SIDECAR_DEMO_TOOLS: tools,
      SIDECAR_DEMO_TOOL: TOOL_SCRIPT,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log = [];
  let partial = '';
  server.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server was not ready in 30 s')), 30000);
    server.stdout.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      log.push(...lines);
      const ready = lines.find((line) => / event=ready /.test(line));
      if (ready === undefined) return;
      clearTimeout(timer);
      resolve({ log, url: / http=(\S+)/.exec(ready)[1] });
    });
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before it was ready`));
    });
  });
}

/** Runs the tool through the server; resolves with its exit code (its output goes straight to this terminal). */
function runTool() {
  return new Promise((resolve, reject) => {
    const child = remoteSpawn(TOOL, ARGS, { connect: socketPath, cwd: workspace, serverEnv: true, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

/** The report the tool wrote in the workspace: { pid, mnt, cwd, args }. */
function readReport() {
  const report = { args: [] };
  for (const line of fs.readFileSync(path.join(workspace, REPORT), 'utf8').split('\n')) {
    const [key, ...rest] = line.split('=');
    if (key === 'arg') report.args.push(rest.join('='));
    else if (key !== '') report[key] = rest.join('=');
  }
  return report;
}

async function main() {
  const ownMnt = fs.readlinkSync('/proc/self/ns/mnt');
  say('sidecar-exec demo: a client and a server in two processes');
  const { log, url } = await startServer();
  if (isolated) {
    row('server', `pid ${server.pid}, in a mount namespace of its own; its ${TOOL} is in ${tools}`);
    const seen = fs.readdirSync(tools);
    row('client', `pid ${process.pid} (this one), where ${tools} is ${seen.length === 0 ? 'empty' : `not empty: ${seen.join(' ')}`}`);
    check(seen.length === 0, `the client cannot see the server's tools`);
  } else {
    row('server', `pid ${server.pid}; its ${TOOL} is in ${tools}`);
    row('client', `pid ${process.pid} (this one), a second process (as root with unshare(1), the server would get a mount namespace of its own)`);
  }
  row('socket', socketPath);
  row('workspace', `${workspace} (both sides see it, at the same path)`);
  say();
  say(`client: run ${[TOOL, ...ARGS].map(quoted).join(' ')} in the workspace; the output is the program's own, on this terminal:`);
  const { code, signal } = await runTool();
  const report = readReport();
  say();
  say('what crossed:');
  row('argv', `${TOOL} got ${report.args.map(quoted).join(' ')}`);
  check(JSON.stringify(report.args) === JSON.stringify(ARGS), `the arguments sent were ${ARGS.map(quoted).join(' ')}`);
  row('cwd', `it ran in ${report.cwd}`);
  check(report.cwd === workspace, `the working directory asked for was ${workspace}`);
  row('exit code', `${code ?? signal}, the program's own, back in the client`);
  check(code === TOOL_EXIT, `${TOOL} exits ${TOOL_EXIT}`);
  row('file', `${REPORT}, written by ${TOOL} in the workspace, read here (pid ${report.pid}, ${report.mnt})`);
  if (isolated) {
    row('namespace', `${TOOL} ran in ${report.mnt}; this client is in ${ownMnt}`);
    check(report.mnt !== ownMnt, 'the server has a mount namespace of its own');
  }
  // The service's log line comes on another pipe than the client's answer: wait for it a little.
  for (let i = 0; i < 100 && !log.some((line) => / event=exit /.test(line)); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  row('server log', log.find((line) => / event=exit /.test(line)) ?? '(no line)');
  const spawned = /^sidecar_programs_spawned_total (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text());
  row('metrics', `${url}/metrics says sidecar_programs_spawned_total ${spawned?.[1]}`);
  check(spawned?.[1] === '1', 'one program spawned');

  server.kill('SIGTERM');
  const [exitCode] = await new Promise((resolve) => server.once('close', (...end) => resolve(end)));
  const socketGone = !fs.existsSync(socketPath);
  cleanUp();
  say();
  say(`cleaned up: the server exited ${exitCode} on SIGTERM, ${socketGone ? 'removing its socket' : 'LEAVING its socket'}; ${root} is removed`);
  check(exitCode === 0 && socketGone, 'the server exits 0 and removes its socket');

  const handSocket = path.join(os.tmpdir(), 'sidecar.sock');
  say();
  say('next, by hand, in two terminals:');
  say(`  npx sidecar start -v --print-ready ${quoted(handSocket)}`);
  say(`  npx sidecar exec --connect ${quoted(handSocket)} -- uname -a`);
  if (problems > 0) {
    say();
    say(`${problems} thing${problems === 1 ? '' : 's'} did not cross as expected (above)`);
  }
  return problems === 0 ? 0 : 1;
}

main().then((status) => {
  process.exitCode = status;
}, (error) => {
  process.stderr.write(`demo failed: ${error.message}\n`);
  process.exitCode = 1;
});
