'use strict';
// The `sidecar` CLI (examples/cli, compiled to dist/cli/sidecar.js), run with this Node binary:
// start/stop, exec's exit codes, stdio transparency, signal forwarding, its
// own failures (125/126/127), socket modes, and a shim (a sh script that execs `sidecar exec`, as the README's Shims section shows).

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { getBinding } = require('../../dist/binding');
const {
  runCommand, tempDir, fixture, exited, isAlive, pollUntil, sleep, sha256File, fdCount, fdTable, describeFdDiff, zombieChildren, useFdCheck,
} = require('../helpers');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NODE = process.execPath;

/** Runs the CLI to completion; resolves with { code, signal, stdout, stderr }. */
function cli(args, options) {
  return runCommand(NODE, [CLI, ...args], options);
}

/** Runs a shell command line to completion. */
function shell(script, options) {
  return runCommand('/bin/sh', ['-c', script], options);
}

/** Resolves once something accepts connections on socketPath. */
async function waitConnectable(socketPath, timeout = 10000) {
  const binding = getBinding();
  const ok = await pollUntil(() => {
    try {
      binding.close(binding.connect(socketPath));
      return true;
    } catch {
      return false;
    }
  }, { timeout, interval: 20 });
  if (!ok) throw new Error(`nothing listens on ${socketPath} after ${timeout} ms`);
}

/** `sidecar start [...args] PATH` in the background; resolves once it accepts connections. */
async function startCli(args, socketPath, env = {}) {
  const child = childProcess.spawn(NODE, [CLI, 'start', ...args, socketPath], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const died = exited(child).then((status) => { throw new Error(`sidecar start exited (${JSON.stringify(status)}): ${output}`); });
  await Promise.race([waitConnectable(socketPath), died]);
  died.catch(() => {});
  child.output = () => output;
  return child;
}

function lines(text) {
  return text.split('\n').filter((line) => line.length > 0);
}

describe('sidecar CLI', function () {
  let dir;
  let sock;
  let server;
  let serverFds;
  let serverTable;

  before(async function () {
    this.timeout(20000);
    expect(fs.existsSync(CLI), `${CLI} does not exist`).to.equal(true);
    dir = tempDir();
    sock = path.join(dir, 'sock');
    server = await startCli([], sock, { SIDECAR_TEST_SERVER_ONLY: 'server-value' });
    const warm = await cli(['exec', '--connect', sock, '--', 'true']);
    expect(warm.code, warm.stderr).to.equal(0);
    await sleep(100);
    serverFds = fdCount(server.pid);
    serverTable = fdTable(server.pid);
  });

  after(async function () {
    if (server === undefined) return;
    if (server.exitCode !== null || server.signalCode !== null) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`the CLI server died during the tests (${server.exitCode ?? server.signalCode}):\n${server.output()}`);
    }
    let count = fdCount(server.pid);
    await pollUntil(() => (count = fdCount(server.pid)) === serverFds, { timeout: 2000 });
    const diff = describeFdDiff(serverTable, fdTable(server.pid));
    const zombies = zombieChildren(server.pid);
    server.kill('SIGTERM');
    const status = await exited(server);
    const socketLeft = fs.existsSync(sock);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(count, `server fds: ${diff}`).to.equal(serverFds);
    expect(zombies).to.deep.equal([]);
    expect(status, server.output()).to.deep.equal({ code: 0, signal: null });
    expect(socketLeft, 'socket file left after SIGTERM').to.equal(false);
  });

  // After the hook above: a leak report must not keep the server from being stopped.
  useFdCheck();

  describe('exec', function () {
    it('passes the program\'s exit code through (0, 1, 42, 255)', async function () {
      for (const code of [0, 1, 42, 255]) {
        const result = await cli(['exec', '--connect', sock, '--', fixture('exit-with.sh'), String(code)]);
        expect(result.code, result.stderr).to.equal(code);
        expect(result.stderr).to.equal('');
      }
    });

    it('exits 128+N when signal N killed the program', async function () {
      for (const [signal, code] of [['KILL', 137], ['TERM', 143], ['INT', 130], ['USR1', 138]]) {
        const result = await cli(['exec', '--connect', sock, '--', fixture('signal-self.sh'), signal]);
        expect(result.code, `${signal}: ${result.stderr}`).to.equal(code);
        expect(result.signal).to.equal(null);
      }
    });

    it('stdin and stdout are transparent through a shell pipeline', async function () {
      const result = await shell(`printf 'a\\nb\\n' | "$NODE" "$CLI" exec --connect "$SOCK" -- sort -r`,
        { env: { NODE, CLI, SOCK: sock } });
      expect(result.stderr).to.equal('');
      expect(result.stdout).to.equal('b\na\n');
      expect(result.code).to.equal(0);

      const both = await shell(`printf 'in\\n' | "$NODE" "$CLI" exec --connect "$SOCK" -- sh -c 'cat; echo err >&2; exit 4' | tr a-z A-Z; echo "status $?"`,
        { env: { NODE, CLI, SOCK: sock } });
      expect(both.stdout).to.equal('IN\nstatus 0\n');
      expect(both.stderr).to.equal('err\n');
    });

    it('runs in the caller\'s cwd, or in --workdir', async function () {
      const here = tempDir();
      try {
        const inCwd = await cli(['exec', '--connect', sock, '--', 'pwd'], { cwd: here });
        expect(inCwd.stdout).to.equal(`${fs.realpathSync(here)}\n`);
        const inWorkdir = await cli(['exec', '--connect', sock, '--workdir', dir, '--', 'pwd'], { cwd: here });
        expect(inWorkdir.stdout).to.equal(`${fs.realpathSync(dir)}\n`);
      } finally {
        fs.rmSync(here, { recursive: true, force: true });
      }
    });

    it('uses the server\'s environment plus each --env (NAME=VALUE, or NAME for the caller\'s value)', async function () {
      const script = 'printf "%s|%s|%s|%s\\n" "$SIDECAR_TEST_SERVER_ONLY" "$A" "$FROM_CALLER" "${NOT_PASSED-unset}"';
      const result = await cli(['exec', '--connect', sock, '--env', 'A=x=y', '--env', 'FROM_CALLER', '--', 'sh', '-c', script],
        { env: { SIDECAR_TEST_SERVER_ONLY: 'caller-value', FROM_CALLER: 'c a l l e r', NOT_PASSED: 'leaked' } });
      expect(result.stderr).to.equal('');
      expect(result.stdout).to.equal('server-value|x=y|c a l l e r|unset\n');
      const override = await cli(['exec', '--connect', sock, '--env', 'SIDECAR_TEST_SERVER_ONLY=over', '--', 'sh', '-c', 'echo "$SIDECAR_TEST_SERVER_ONLY"']);
      expect(override.stdout).to.equal('over\n');
    });

    it('arguments that look like options are the program\'s after --', async function () {
      const result = await cli(['exec', '--connect', sock, '--', 'printf', '%s|', '--env', '--connect', '-x', '']);
      expect(result.stdout).to.equal('--env|--connect|-x||');
    });

    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129], ['SIGQUIT', 131], ['SIGUSR1', 138], ['SIGUSR2', 140]]) {
      it(`forwards ${signal}: the remote program dies by it, exit code ${code}`, async function () {
        const child = childProcess.spawn(NODE, [CLI, 'exec', '--connect', sock, '--', fixture('wait-signal.sh')],
          { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        const pid = await new Promise((resolve, reject) => {
          let text = '';
          child.stdout.on('data', (chunk) => {
            text += chunk;
            if (text.includes('\n')) resolve(Number(text.split('\n')[0]));
          });
          child.on('exit', () => reject(new Error(`exited before the program started: ${stderr}`)));
        });
        expect(isAlive(pid)).to.equal(true);
        child.kill(signal);
        const status = await exited(child);
        expect(status, stderr).to.deep.equal({ code, signal: null });
        expect(await pollUntil(() => !isAlive(pid), { timeout: 1000 }), `remote program ${pid} still alive`).to.equal(true);
      });
    }

    it('forwards SIGWINCH (not fatal): the program\'s trap runs and it goes on', async function () {
      const script = 'trap "echo got-winch" WINCH; echo ready; i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo timeout; exit 3';
      const child = childProcess.spawn(NODE, [CLI, 'exec', '--connect', sock, '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => { stdout += chunk; });
      child.stderr.on('data', (chunk) => { stderr += chunk; });
      const seen = (text) => pollUntil(() => stdout.includes(text) || child.exitCode !== null, { timeout: 5000, interval: 10 });
      await seen('ready\n');
      child.kill('SIGWINCH');
      await seen('got-winch\n');
      expect(stdout, stderr).to.include('got-winch\n');
      expect(child.exitCode, 'the CLI exited on SIGWINCH').to.equal(null);
      child.kill('SIGTERM');
      const status = await exited(child);
      expect(status, stderr).to.deep.equal({ code: 143, signal: null });
    });

    it('takes the socket from SIDECAR_SOCKET when --connect is not given', async function () {
      const result = await cli(['exec', '--', 'echo', 'via-env'], { env: { SIDECAR_SOCKET: sock } });
      expect(result.stderr).to.equal('');
      expect(result.stdout).to.equal('via-env\n');
    });

    it('cat BIGFILE | slow reader: complete output, no EAGAIN', async function () {
      this.timeout(30000);
      const work = tempDir();
      try {
        const big = path.join(work, 'big');
        fs.writeFileSync(big, crypto.randomBytes(8 * 1024 * 1024));
        const result = await shell(
          '{ "$NODE" "$CLI" exec --connect "$SOCK" -- cat "$BIG"; echo $? > "$WORK/status"; } | { sleep 0.5; cat > "$WORK/out"; }',
          { env: { NODE, CLI, SOCK: sock, BIG: big, WORK: work } });
        expect(result.stderr).to.equal('');
        expect(fs.readFileSync(path.join(work, 'status'), 'utf8')).to.equal('0\n');
        expect(sha256File(path.join(work, 'out'))).to.equal(sha256File(big));
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  });

  describe('exec failures (coreutils\' 125/126/127, one line on stderr)', function () {
    it('125 when it cannot connect, naming the socket', async function () {
      const missing = path.join(dir, 'no-such.sock');
      const result = await cli(['exec', '--connect', missing, '--', 'true']);
      expect(result.code).to.equal(125);
      expect(lines(result.stderr)).to.have.lengthOf(1);
      expect(result.stderr).to.include(missing);
      expect(result.stdout).to.equal('');
    });

    it('125 for a socket file nobody listens on, naming it', async function () {
      const stale = path.join(dir, 'stale.sock');
      const staleServer = await startCli([], stale);
      staleServer.kill('SIGKILL');
      await exited(staleServer);
      expect(fs.lstatSync(stale).isSocket()).to.equal(true);
      const result = await cli(['exec', '--connect', stale, '--', 'true']);
      expect(result.code).to.equal(125);
      expect(lines(result.stderr)).to.have.lengthOf(1);
      expect(result.stderr).to.include(stale);
      fs.rmSync(stale);
    });

    it('125 for bad usage', async function () {
      for (const args of [['exec', '--connect', sock], ['exec', '--connect', sock, '--'], ['exec', '--bogus', '--', 'true'],
        ['exec', '--connect'], ['exec', '--connect', sock, '--expect-uid', 'root', '--', 'true'], ['no-such-subcommand'], []]) {
        const result = await cli(args, { env: { SIDECAR_SOCKET: '' } });
        expect(result.code, `${JSON.stringify(args)}: ${result.stderr}`).to.equal(125);
        expect(result.stderr).to.not.equal('');
      }
    });

    it('--expect-uid of the server\'s own uid runs the program', async function () {
      const result = await cli(['exec', '--connect', sock, '--expect-uid', String(process.geteuid()), '--', 'echo', 'expected']);
      expect(result.stdout, result.stderr).to.equal('expected\n');
      expect(result.code).to.equal(0);
    });

    it('126 for a program found but not executable, naming it', async function () {
      const program = fixture('not-executable.sh');
      const result = await cli(['exec', '--connect', sock, '--', program]);
      expect(result.code).to.equal(126);
      expect(lines(result.stderr)).to.have.lengthOf(1);
      expect(result.stderr).to.include(program);
    });

    it('127 for a program not found, naming it', async function () {
      const result = await cli(['exec', '--connect', sock, '--', 'sidecar-test-no-such-command', 'arg']);
      expect(result.code).to.equal(127);
      expect(lines(result.stderr)).to.have.lengthOf(1);
      expect(result.stderr).to.include('sidecar-test-no-such-command');
    });

    it('a --workdir missing on the server is not "command not found"', async function () {
      const result = await cli(['exec', '--connect', sock, '--workdir', path.join(dir, 'missing'), '--', 'true']);
      expect(result.code).to.not.equal(0);
      expect(result.code).to.not.equal(127);
      expect(result.stderr).to.include(path.join(dir, 'missing'));
    });
  });

  describe('start and stop', function () {
    let work;
    beforeEach(function () {
      work = tempDir();
    });
    afterEach(function () {
      fs.rmSync(work, { recursive: true, force: true });
    });

    it('the socket file has mode 0600 by default, --mode 0660 gives 0660', async function () {
      const plain = await startCli([], path.join(work, 'plain.sock'));
      const shared = await startCli(['--mode', '0660'], path.join(work, 'shared.sock'));
      try {
        expect(fs.statSync(path.join(work, 'plain.sock')).mode & 0o777).to.equal(0o600);
        expect(fs.statSync(path.join(work, 'shared.sock')).mode & 0o777).to.equal(0o660);
      } finally {
        plain.kill('SIGTERM');
        shared.kill('SIGTERM');
        await exited(plain);
        await exited(shared);
      }
    });

    it('--parents creates missing parent directories; without it, start fails', async function () {
      const nested = path.join(work, 'a', 'b', 'sock');
      const failed = await cli(['start', nested]);
      expect(failed.code).to.not.equal(0);
      expect(failed.stderr).to.include(nested);
      const child = await startCli(['--parents'], nested);
      const result = await cli(['exec', '--connect', nested, '--', 'echo', 'nested']);
      expect(result.stdout).to.equal('nested\n');
      child.kill('SIGTERM');
      expect(await exited(child)).to.deep.equal({ code: 0, signal: null });
    });

    it('--parents makes each missing directory 0700, or 0750 in the group of --group; never writable by others', async function () {
      const plain = path.join(work, 'p', 'q', 'sock');
      const grouped = path.join(work, 'g', 'h', 'sock');
      const gid = process.getgid() === 0 ? 65534 : process.getgid();
      const children = [await startCli(['--parents'], plain), await startCli(['--parents', '--group', String(gid), '--mode', '0660'], grouped)];
      try {
        for (const dir of ['p', 'p/q']) expect(fs.statSync(path.join(work, dir)).mode & 0o7777, dir).to.equal(0o700);
        for (const dir of ['g', 'g/h']) {
          const stat = fs.statSync(path.join(work, dir));
          expect(stat.mode & 0o7777, dir).to.equal(0o750);
          expect(stat.gid, dir).to.equal(gid);
        }
      } finally {
        for (const child of children) child.kill('SIGTERM');
        for (const child of children) expect(await exited(child)).to.deep.equal({ code: 0, signal: null });
      }
    });

    it('refuses a directory others can write (exit 1, the directory and --trust-directory named); --trust-directory starts there', async function () {
      const shared = path.join(work, 'shared');
      fs.mkdirSync(shared);
      fs.chmodSync(shared, 0o777);
      const socketPath = path.join(shared, 'sock');
      for (const args of [[], ['--parents']]) {
        const refused = await cli(['start', ...args, socketPath]);
        expect(refused.code, args.join(' ')).to.equal(1);
        expect(refused.stderr).to.include(`sidecar: cannot listen on ${socketPath}: listen ${socketPath}: the directory ${shared} is writable by its group and others (mode 0777, not sticky)`);
        expect(refused.stderr).to.include('--trust-directory');
        expect(fs.readdirSync(shared)).to.deep.equal([]);
      }
      const child = await startCli(['--trust-directory'], socketPath);
      const result = await cli(['exec', '--connect', socketPath, '--', 'echo', 'trusted']);
      expect(result.stdout).to.equal('trusted\n');
      child.kill('SIGTERM');
      expect(await exited(child)).to.deep.equal({ code: 0, signal: null });
    });

    it('--parents refuses an existing directory of another uid', async function () {
      if (process.getuid() !== 0) {
        console.log('      (not running as root: cannot chown; skipping)');
        this.skip();
      }
      const theirs = path.join(work, 'theirs');
      fs.mkdirSync(theirs);
      fs.chownSync(theirs, 65534, 65534);
      const refused = await cli(['start', '--parents', path.join(theirs, 'more', 'sock')]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include(`the directory ${theirs} is owned by uid 65534`);
    });

    it('`stop PATH` stops it: exit 0, socket file removed', async function () {
      const socketPath = path.join(work, 'sock');
      const child = await startCli([], socketPath);
      const stopped = await cli(['stop', socketPath]);
      expect(stopped.code, stopped.stderr).to.equal(0);
      expect(await exited(child)).to.deep.equal({ code: 0, signal: null });
      expect(fs.existsSync(socketPath)).to.equal(false);
      const again = await cli(['stop', socketPath]);
      expect(again.code).to.not.equal(0);
      expect(again.stderr).to.include(socketPath);
    });

    it('exits 0 on SIGINT and on SIGTERM, removing the socket file', async function () {
      for (const signal of ['SIGINT', 'SIGTERM']) {
        const socketPath = path.join(work, `${signal}.sock`);
        const child = await startCli([], socketPath);
        child.kill(signal);
        expect(await exited(child), signal).to.deep.equal({ code: 0, signal: null });
        expect(fs.existsSync(socketPath)).to.equal(false);
      }
    });

    it('refuses a socket somebody listens on', async function () {
      const result = await cli(['start', sock]);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.include(sock);
      const still = await cli(['exec', '--connect', sock, '--', 'echo', 'alive']);
      expect(still.stdout).to.equal('alive\n');
    });
  });

  describe('a shim script, as in the README', function () {
    let bin;
    const SHIM = '#!/bin/sh\nexec "$NODE" "$SIDECAR_JS" exec --connect "$SOCK" --workdir "$(pwd)" -- "$(basename "$0")" "$@"\n';

    before(function () {
      bin = tempDir('sidecar-shim-');
      for (const name of ['wc', 'sh', 'pwd']) {
        fs.writeFileSync(path.join(bin, name), SHIM, { mode: 0o755 });
      }
    });

    after(function () {
      fs.rmSync(bin, { recursive: true, force: true });
    });

    const env = () => ({ NODE, SIDECAR_JS: CLI, SOCK: sock });

    it('printf \'x\\ny\\n\' | ./wc -l prints 2', async function () {
      const result = await shell('printf \'x\\ny\\n\' | ./wc -l', { cwd: bin, env: env() });
      expect(result.stderr).to.equal('');
      expect(result.stdout.trim()).to.equal('2');
      expect(result.code).to.equal(0);
    });

    it('exit codes pass through the shim', async function () {
      for (const code of [0, 3, 255]) {
        const result = await shell(`./sh -c 'exit ${code}'; echo "status $?"`, { cwd: bin, env: env() });
        expect(result.stdout).to.equal(`status ${code}\n`);
      }
    });

    it('the working directory passes through the shim', async function () {
      const result = await shell(`cd "${dir}" && "${bin}/pwd"`, { env: env() });
      expect(result.stdout).to.equal(`${fs.realpathSync(dir)}\n`);
    });
  });

  describe('Ctrl-C through a real terminal (tmux)', function () {
    let tmuxDir;
    const tmux = (...args) => childProcess.execFileSync('tmux', ['-S', path.join(tmuxDir, 'tmux.sock'), '-f', '/dev/null', ...args],
      { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
    const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

    before(function () {
      for (const [tool, args] of [['tmux', ['-V']], ['bash', ['--version']]]) {
        const found = childProcess.spawnSync(tool, args);
        if (found.error || found.status !== 0) {
          console.log(`      (${tool} is not installed: skipping the terminal test)`);
          this.skip();
        }
      }
      tmuxDir = tempDir('sidecar-tmux-');
    });

    after(function () {
      if (tmuxDir === undefined) return;
      try { tmux('kill-server'); } catch { /* not running */ }
      fs.rmSync(tmuxDir, { recursive: true, force: true });
    });

    it('Ctrl-C in the terminal reaches the remote program; exit status 130', async function () {
      // The pane runs bash, which runs the CLI in the foreground and then writes
      // its exit status to a file. Ctrl-C sends SIGINT to the terminal's
      // foreground process group (bash and the CLI, not the remote program,
      // which runs under the server). bash waits for the CLI and, because the
      // CLI exits normally (130) instead of dying by SIGINT, goes on to write
      // the status ("wait and cooperative exit"). If the CLI died by SIGINT
      // itself, bash would die too and no status would be written.
      const status = path.join(tmuxDir, 'status');
      const script = path.join(tmuxDir, 'run.sh');
      fs.writeFileSync(script, [
        `${quote(NODE)} ${quote(CLI)} exec --connect ${quote(sock)} -- ${quote(fixture('wait-signal.sh'))}`,
        `echo "status $?" > ${quote(status)}`,
        'sleep 30',
        '',
      ].join('\n'));
      tmux('new-session', '-d', '-s', 'ctrlc', '-x', '100', '-y', '20', `exec bash ${quote(script)}`);
      let screen = '';
      const ready = await pollUntil(() => /^\d+$/m.test(screen = tmux('capture-pane', '-p', '-t', 'ctrlc')), { timeout: 10000, interval: 50 });
      expect(ready, `the program did not start in the terminal:\n${screen}`).to.equal(true);
      const pid = Number(/^(\d+)$/m.exec(screen)[1]);
      expect(isAlive(pid)).to.equal(true);
      tmux('send-keys', '-t', 'ctrlc', 'C-c');
      const written = await pollUntil(() => fs.existsSync(status) && fs.readFileSync(status, 'utf8').endsWith('\n'), { timeout: 5000, interval: 50 });
      expect(written, `no exit status written after Ctrl-C; terminal shows:\n${tmux('capture-pane', '-p', '-t', 'ctrlc')}`).to.equal(true);
      expect(fs.readFileSync(status, 'utf8')).to.equal('status 130\n');
      expect(await pollUntil(() => !isAlive(pid), { timeout: 1000 })).to.equal(true);
    });
  });
});
