'use strict';
// remoteSpawn against a real server in another process, scenario by scenario
// compared with child_process.spawn running the same thing locally.

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const {
  useServer, run, fixture, tempDir, sha256, sha256File, readReport, spawnErrorFields, isAlive, pollUntil, exited, callTracker,
  procStat,
} = require('../helpers');

const NO_SUCH = 'sidecar-test-no-such-command';

describe('remoteSpawn through a real server', function () {
  const ctx = useServer({ env: { SIDECAR_TEST_SERVER_ONLY: 'from-the-server' } });
  const connect = () => ctx.server.path;

  /** Runs the same spawn locally and remotely. */
  async function both(command, args, options = {}, runOptions = {}) {
    const local = await run(childProcess.spawn(command, args, options), runOptions);
    const remote = await run(remoteSpawn(command, args, { ...options, connect: connect() }), runOptions);
    return { local, remote };
  }

  describe('exit status', function () {
    for (const code of [0, 1, 42, 255]) {
      it(`exit code ${code}: events, arguments and state as child_process`, async function () {
        const child = remoteSpawn(fixture('exit-with.sh'), [String(code)], { connect: connect() });
        const remote = await run(child);
        const local = await run(childProcess.spawn(fixture('exit-with.sh'), [String(code)]));
        expect(remote.events).to.deep.equal(local.events);
        expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
        expect(remote.exitArgs).to.deep.equal([code, null]);
        expect(remote.closeArgs).to.deep.equal([code, null]);
        expect(child.exitCode).to.equal(code);
        expect(child.signalCode).to.equal(null);
        expect(child.killed).to.equal(false);
        expect(remote.pid).to.be.a('number').above(0);
        expect(child.pid).to.equal(remote.pid);
        expect(child.spawnfile).to.equal(fixture('exit-with.sh'));
        expect(child.spawnargs).to.deep.equal([fixture('exit-with.sh'), String(code)]);
      });
    }

    it('\'spawn\' (and child.pid) come before the first stdout \'data\', as with child_process', async function () {
      const orders = [];
      for (let i = 0; i < 30; i++) {
        const child = remoteSpawn('echo', ['x'], { connect: connect() });
        const order = [];
        child.on('spawn', () => order.push('spawn'));
        child.stdout.once('data', () => order.push(child.pid === undefined ? 'data(pid undefined)' : 'data'));
        await run(child);
        orders.push(order.join(','));
      }
      expect(orders.filter((order) => order !== 'spawn,data')).to.deep.equal([]);
    });

    it('death by signal: \'exit\' with (null, \'SIGTERM\'), as child_process', async function () {
      const { local, remote } = await both(fixture('signal-self.sh'), ['TERM']);
      expect(local.exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(remote.exitArgs).to.deep.equal(local.exitArgs);
      expect(remote.closeArgs).to.deep.equal(local.closeArgs);
    });

    it('death by other signals (SIGKILL, SIGUSR1) is named as Node names it', async function () {
      for (const signal of ['KILL', 'USR1']) {
        const { local, remote } = await both(fixture('signal-self.sh'), [signal]);
        expect(remote.exitArgs).to.deep.equal(local.exitArgs);
        expect(remote.exitArgs).to.deep.equal([null, `SIG${signal}`]);
      }
    });
  });

  describe('spawn failures are shaped like Node\'s', function () {
    async function compareFailure(command, args, options = {}) {
      const { local, remote } = await both(command, args, options);
      expect(local.error, 'child_process did not fail: the comparison is meaningless').to.be.an('error');
      expect(remote.error, `remoteSpawn did not fail: ${JSON.stringify(remote.events)}`).to.be.an('error');
      expect(spawnErrorFields(remote.error)).to.deep.equal(spawnErrorFields(local.error));
      expect(remote.error.constructor).to.equal(local.error.constructor);
      expect(remote.events).to.deep.equal(local.events);
      expect(remote.events).to.deep.equal(['error', 'close']);
      expect(remote.closeArgs).to.deep.equal(local.closeArgs);
      expect(remote.errors).to.have.lengthOf(1);
      expect(remote.pid).to.equal(undefined);
      return { local, remote };
    }

    it('ENOENT for a name not found in PATH', async function () {
      const { remote } = await compareFailure(NO_SUCH, ['a', 'b c']);
      expect(remote.error.code).to.equal('ENOENT');
      expect(remote.error.errno).to.equal(-2);
      expect(remote.error.syscall).to.equal(`spawn ${NO_SUCH}`);
      expect(remote.error.path).to.equal(NO_SUCH);
      expect(remote.error.spawnargs).to.deep.equal(['a', 'b c']);
      expect(remote.closeArgs).to.deep.equal([-2, null]);
    });

    it('a failed spawn always ends with \'close\': 20 concurrent ENOENTs', async function () {
      const results = await Promise.all(Array.from({ length: 20 },
        () => run(remoteSpawn(NO_SUCH, [], { connect: connect() }), { timeout: 3000 })));
      const wrong = results.map((r) => r.events.join(',')).filter((events) => events !== 'error,close');
      expect(wrong, 'event sequences other than error,close').to.deep.equal([]);
    });

    it('ENOENT for a path that does not exist', async function () {
      const { remote } = await compareFailure('/nonexistent/sidecar/prog', []);
      expect(remote.error.message).to.equal('spawn /nonexistent/sidecar/prog ENOENT');
    });

    it('EACCES for a file that is not executable', async function () {
      const file = fixture('not-executable.sh');
      expect(fs.statSync(file).mode & 0o111, 'fixture must have no execute bit').to.equal(0);
      const { remote } = await compareFailure(file, ['x']);
      expect(remote.error.code).to.equal('EACCES');
      expect(remote.error.errno).to.equal(-13);
      expect(remote.error.syscall).to.equal(`spawn ${file}`);
      expect(remote.closeArgs).to.deep.equal([-13, null]);
    });

    it('EACCES for a non-executable file found through the program\'s PATH', async function () {
      const env = { PATH: `${path.dirname(fixture('not-executable.sh'))}:/usr/bin:/bin` };
      const { remote } = await compareFailure('not-executable.sh', [], { env });
      expect(remote.error.code).to.equal('EACCES');
    });

    it('a cwd that does not exist on the server: ENOENT that says which directory', async function () {
      const cwd = path.join(os.tmpdir(), 'sidecar-test-no-such-dir', 'sub');
      const local = await run(childProcess.spawn('true', [], { cwd }));
      const remote = await run(remoteSpawn('true', [], { cwd, connect: connect() }));
      expect(remote.events).to.deep.equal(local.events);
      expect(remote.events).to.deep.equal(['error', 'close']);
      expect(remote.closeArgs).to.deep.equal(local.closeArgs);
      for (const field of ['code', 'errno', 'syscall', 'path', 'spawnargs']) {
        expect(remote.error[field], field).to.deep.equal(local.error[field]);
      }
      expect(remote.error.code).to.equal('ENOENT');
      expect(remote.error.message).to.include(cwd);
    });
  });

  describe('stdio', function () {
    it('stdin -> stdout through \'pipe\'', async function () {
      const input = Buffer.from('hello\nwörld\n\0binary\xff\n', 'latin1');
      const { local, remote } = await both('cat', [], {}, { input });
      expect(remote.stdout.equals(input)).to.equal(true);
      expect(remote.stdout.equals(local.stdout)).to.equal(true);
      expect(remote.exitArgs).to.deep.equal([0, null]);
    });

    it('1 MiB each way through \'pipe\' while the program also writes stderr', async function () {
      const input = crypto.randomBytes(1024 * 1024);
      const child = remoteSpawn('sh', ['-c', 'cat; echo done >&2'], { connect: connect() });
      const remote = await run(child, { input });
      expect(remote.stdout.length).to.equal(input.length);
      expect(sha256(remote.stdout)).to.equal(sha256(input));
      expect(remote.stderr.toString()).to.equal('done\n');
      expect(remote.exitArgs).to.deep.equal([0, null]);
    });

    it('20 MB through stdout intact', async function () {
      this.timeout(30000);
      const dir = tempDir();
      try {
        const file = path.join(dir, 'big');
        fs.writeFileSync(file, crypto.randomBytes(20 * 1000 * 1000));
        const remote = await run(remoteSpawn('cat', [file], { connect: connect() }), { timeout: 25000 });
        expect(remote.exitArgs).to.deep.equal([0, null]);
        expect(remote.stdout.length).to.equal(20 * 1000 * 1000);
        expect(sha256(remote.stdout)).to.equal(sha256File(file));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('\'exit\' comes when the program exits, \'close\' once a background child closed stdout too', async function () {
      const script = 'echo a; (sleep 0.3; echo b) & exit 5';
      const { local, remote } = await both('sh', ['-c', script]);
      expect(remote.events).to.deep.equal(local.events);
      expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(remote.exitArgs).to.deep.equal([5, null]);
      expect(remote.closeArgs).to.deep.equal([5, null]);
      expect(remote.stdout.toString()).to.equal(local.stdout.toString());
      expect(remote.stdout.toString()).to.equal('a\nb\n');
    });

    it('\'ignore\' gives /dev/null; an integer passes that fd', async function () {
      const dir = tempDir();
      try {
        const out = path.join(dir, 'out');
        const fd = fs.openSync(out, 'w');
        let remote;
        try {
          remote = await run(remoteSpawn('sh', ['-c', 'cat; echo "read $?"; readlink /proc/self/fd/0'],
            { connect: connect(), stdio: ['ignore', fd, 'ignore'] }));
        } finally {
          fs.closeSync(fd);
        }
        expect(remote.exitArgs).to.deep.equal([0, null]);
        expect(fs.readFileSync(out, 'utf8')).to.equal('read 0\n/dev/null\n');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('\'inherit\' into a file: a client process whose stdout is a file', async function () {
      const dir = tempDir();
      try {
        const out = path.join(dir, 'out');
        const err = path.join(dir, 'err');
        const report = path.join(dir, 'report');
        const outFd = fs.openSync(out, 'w');
        const errFd = fs.openSync(err, 'w');
        let client;
        try {
          client = childProcess.spawn(process.execPath, [fixture('client.js'), JSON.stringify({
            connect: connect(), report, command: 'sh', args: ['-c', 'echo to-stdout; echo to-stderr >&2; exit 3'],
          })], { stdio: ['ignore', outFd, errFd] });
        } finally {
          fs.closeSync(outFd);
          fs.closeSync(errFd);
        }
        const status = await exited(client);
        const events = readReport(report).map((line) => line.event);
        expect(events, fs.readFileSync(err, 'utf8')).to.deep.equal(['start', 'spawn', 'exit', 'close', 'process-exit']);
        expect(status).to.deep.equal({ code: 3, signal: null });
        expect(fs.readFileSync(out, 'utf8')).to.equal('to-stdout\n');
        expect(fs.readFileSync(err, 'utf8')).to.equal('to-stderr\n');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('cwd and env', function () {
    it('cwd and env (values containing "=", empty values) as child_process passes them', async function () {
      const dir = tempDir();
      try {
        const env = { A: 'x=y', B: '=lead=', EMPTY: '', SPACES: ' a  b ', PATH: process.env.PATH };
        const args = ['-c', 'pwd; printf "[%s]\\n" "$A" "$B" "$EMPTY" "$SPACES" "${SIDECAR_TEST_SERVER_ONLY-unset}"'];
        const { local, remote } = await both('sh', args, { cwd: dir, env });
        expect(remote.exitArgs).to.deep.equal([0, null]);
        expect(remote.stdout.toString()).to.equal(local.stdout.toString());
        expect(remote.stdout.toString()).to.equal(`${fs.realpathSync(dir)}\n[x=y]\n[=lead=]\n[]\n[ a  b ]\n[unset]\n`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('argv0 is what the program sees as argv[0]', async function () {
      const { local, remote } = await both('sh', ['-c', 'tr "\\0" "|" < /proc/$$/cmdline', 'x y'], { argv0: 'custom name' });
      expect(remote.stdout.toString()).to.equal(local.stdout.toString());
      expect(remote.stdout.toString()).to.equal('custom name|-c|tr "\\0" "|" < /proc/$$/cmdline|x y|');
    });

    it('the whole environment is exactly options.env (with callerEnv, PATH as given too)', async function () {
      const env = { ONLY: '1', PATH: '/usr/bin:/bin' };
      const { local, remote } = await both('env', [], { env, callerEnv: ['PATH'] });
      const lines = (result) => result.stdout.toString().split('\n').filter(Boolean).sort();
      expect(lines(remote)).to.deep.equal(lines(local));
      expect(lines(remote)).to.deep.equal(['ONLY=1', 'PATH=/usr/bin:/bin']);
      // Without it, the same names, PATH made on the server: the caller's entries, then the server's own.
      const made = lines(await run(remoteSpawn('env', [], { env, connect: connect() })));
      expect(made.map((line) => line.split('=')[0])).to.deep.equal(['ONLY', 'PATH']);
      expect(made[1].startsWith('PATH=/usr/bin:/bin:'), made[1]).to.equal(true);
    });

    it('defaults: the caller\'s process.cwd() and process.env, not the server\'s', async function () {
      const mark = crypto.randomBytes(8).toString('hex');
      process.env.SIDECAR_TEST_CLIENT_MARK = mark;
      try {
        const remote = await run(remoteSpawn('sh', ['-c', 'pwd; echo "$SIDECAR_TEST_CLIENT_MARK ${SIDECAR_TEST_SERVER_ONLY-unset}"'],
          { connect: connect() }));
        expect(remote.stdout.toString()).to.equal(`${fs.realpathSync(process.cwd())}\n${mark} unset\n`);
      } finally {
        delete process.env.SIDECAR_TEST_CLIENT_MARK;
      }
    });

    it('serverEnv: the server\'s environment with options.env on top', async function () {
      const remote = await run(remoteSpawn('sh', ['-c', 'echo "$SIDECAR_TEST_SERVER_ONLY $EXTRA"'],
        { connect: connect(), serverEnv: true, env: { EXTRA: 'e=1' } }));
      expect(remote.stdout.toString()).to.equal('from-the-server e=1\n');
      const overridden = await run(remoteSpawn('sh', ['-c', 'echo "$SIDECAR_TEST_SERVER_ONLY"'],
        { connect: connect(), serverEnv: true, env: { SIDECAR_TEST_SERVER_ONLY: 'client' } }));
      expect(overridden.stdout.toString()).to.equal('client\n');
    });
  });

  describe('kill()', function () {
    /** Starts wait-signal.sh (prints its pid, then sleeps) and resolves once it printed. */
    async function startWaiting(spawn) {
      const child = spawn(fixture('wait-signal.sh'), []);
      const done = run(child);
      const spawned = new Promise((resolve) => child.once('spawn', resolve));
      const line = await new Promise((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk) => {
          text += chunk;
          if (text.includes('\n')) resolve(text.split('\n')[0]);
        });
        child.on('close', () => reject(new Error(`ended before printing its pid: ${text}`)));
      });
      await spawned;
      return { child, done, pid: Number(line) };
    }

    for (const signal of ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP']) {
      it(`kill('${signal}') reaches the program: 'exit' (null, '${signal}'), killed is true`, async function () {
        const tracker = callTracker();
        const { child, done, pid } = await startWaiting((file, args) => remoteSpawn(file, args, { connect: connect() }));
        expect(pid).to.equal(child.pid);
        expect(isAlive(pid)).to.equal(true);
        child.on('exit', tracker.mustCall());
        expect(child.kill(signal)).to.equal(true);
        expect(child.killed).to.equal(true);
        const remote = await done;
        expect(remote.exitArgs).to.deep.equal([null, signal]);
        expect(remote.closeArgs).to.deep.equal([null, signal]);
        expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
        expect(child.signalCode).to.equal(signal);
        expect(child.exitCode).to.equal(null);
        expect(await pollUntil(() => !isAlive(pid))).to.equal(true);
        tracker.verify();

        const local = await startWaiting((file, args) => childProcess.spawn(file, args));
        local.child.kill(signal);
        expect((await local.done).exitArgs).to.deep.equal(remote.exitArgs);
      });
    }

    it('kill() without argument sends SIGTERM; kill() after the end returns false; unknown signals throw like Node', async function () {
      const { child, done } = await startWaiting((file, args) => remoteSpawn(file, args, { connect: connect() }));
      expect(() => child.kill('SIGNOPE')).to.throw(TypeError).with.property('code', 'ERR_UNKNOWN_SIGNAL');
      const local = childProcess.spawn('true');
      let nodeError;
      try {
        local.kill('SIGNOPE');
      } catch (error) {
        nodeError = error;
      }
      await run(local);
      expect(nodeError.code).to.equal('ERR_UNKNOWN_SIGNAL');
      expect(child.kill()).to.equal(true);
      expect((await done).exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(child.kill()).to.equal(false);
      expect(local.kill()).to.equal(false);
    });

    it('kill() right after remoteSpawn(), before \'spawn\', still reaches the program', async function () {
      const child = remoteSpawn('sleep', ['30'], { connect: connect(), stdio: 'ignore' });
      expect(child.kill('SIGTERM')).to.equal(true);
      const remote = await run(child);
      const local = childProcess.spawn('sleep', ['30'], { stdio: 'ignore' });
      local.kill('SIGTERM');
      expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(remote.exitArgs).to.deep.equal((await run(local)).exitArgs);
      expect(remote.exitArgs).to.deep.equal([null, 'SIGTERM']);
    });

    it('kill() reaches the whole process group: a grandchild dies too', async function () {
      const child = remoteSpawn(fixture('grandchild.sh'), [], { connect: connect() });
      const done = run(child);
      const spawned = new Promise((resolve) => child.once('spawn', resolve));
      const pids = await new Promise((resolve) => {
        let text = '';
        child.stdout.on('data', (chunk) => {
          text += chunk;
          if (text.includes('\n')) resolve(text.split('\n')[0].split(' ').map(Number));
        });
      });
      await spawned;
      const [shell, grandchild] = pids;
      expect(shell).to.equal(child.pid);
      expect(isAlive(grandchild)).to.equal(true);
      child.kill('SIGTERM');
      const remote = await done;
      expect(remote.exitArgs).to.deep.equal([null, 'SIGTERM']);
      expect(await pollUntil(() => !isAlive(grandchild), { timeout: 1000 }), `grandchild ${grandchild} still alive`).to.equal(true);
    });
  });

  describe('the program\'s process state', function () {
    it('has only the fds it was given (0, 1, 2): nothing of the server leaks into it', async function () {
      // (Not compared with child_process: that passes on whatever non-CLOEXEC
      // fds the test runner itself inherited.)
      const remote = await run(remoteSpawn('sh', ['-c', 'ls /proc/$$/fd'], { connect: connect() }));
      expect(remote.exitArgs).to.deep.equal([0, null]);
      expect(remote.stdout.toString().split('\n').filter(Boolean)).to.deep.equal(['0', '1', '2']);
      const ignored = await run(remoteSpawn('sh', ['-c', 'ls /proc/$$/fd'], { connect: connect(), stdio: ['ignore', 'pipe', 'ignore'] }));
      expect(ignored.stdout.toString().split('\n').filter(Boolean)).to.deep.equal(['0', '1', '2']);
    });

    it('gets an fd 3 when stdio has a fourth entry', async function () {
      const child = remoteSpawn('sh', ['-c', 'echo via-3 >&3; ls /proc/$$/fd'],
        { connect: connect(), stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      expect(child.stdio).to.have.lengthOf(4);
      const extra = [];
      child.stdio[3].on('data', (chunk) => extra.push(chunk));
      const remote = await run(child);
      expect(remote.exitArgs).to.deep.equal([0, null]);
      expect(remote.events).to.deep.equal(['spawn', 'exit', 'close']);
      expect(Buffer.concat(extra).toString()).to.equal('via-3\n');
      expect(remote.stdout.toString().split('\n').filter(Boolean)).to.deep.equal(['0', '1', '2', '3']);
    });

    it('starts with default signal dispositions and an empty signal mask, as child_process gives', async function () {
      const args = ['-E', '^Sig(Blk|Ign)', '/proc/self/status'];
      const { local, remote } = await both('grep', args);
      expect(remote.stdout.toString()).to.equal(local.stdout.toString());
      expect(remote.stdout.toString()).to.match(/SigBlk:\s+0+\n/);
      expect(remote.stdout.toString()).to.match(/SigIgn:\s+0+\n/);
    });

    it('runs in a session (and process group) of its own, detached or not: none shares the server\'s terminal', async function () {
      for (const detached of [false, true]) {
        const child = remoteSpawn(fixture('wait-signal.sh'), [], { connect: connect(), detached, stdio: ['ignore', 'pipe', 'ignore'] });
        const done = run(child);
        try {
          await Promise.all([
            new Promise((resolve) => child.once('spawn', resolve)),
            new Promise((resolve) => child.stdout.once('data', resolve)),
          ]);
          const stat = procStat(child.pid);
          const serverStat = procStat(ctx.server.pid);
          expect(stat.pgid, 'process group').to.equal(child.pid);
          expect(stat.ppid, 'parent').to.equal(ctx.server.pid);
          expect(stat.sid, 'session').to.equal(child.pid);
          expect(stat.sid, 'session').to.not.equal(serverStat.sid);
        } finally {
          child.kill('SIGKILL');
          await done;
        }
      }
    });
  });

  describe('argument sizes', function () {
    it('argv+env of about 2 MiB (ARG_MAX) works, chunked over many records', async function () {
      this.timeout(30000);
      const arg = 'a'.repeat(999);
      const args = Array.from({ length: 1850 }, (_, i) => `${String(i).padStart(4, '0')}${arg}`);
      const env = { PATH: process.env.PATH };
      for (let i = 0; i < 150; i++) env[`BIG_${i}`] = 'e'.repeat(1000);
      const bytes = args.reduce((sum, a) => sum + a.length + 1, 0)
        + Object.entries(env).reduce((sum, [k, v]) => sum + k.length + v.length + 2, 0);
      expect(bytes).to.be.within(1.9 * 1024 * 1024, 2 * 1024 * 1024);
      const script = 'echo "$# ${#BIG_0} ${#BIG_149}"; for last; do :; done; echo "${last%%a*}"';
      const { local, remote } = await both('sh', ['-c', script, 'sh', ...args], { env }, { timeout: 20000 });
      expect(local.exitArgs, `locally: ${local.error && local.error.code}`).to.deep.equal([0, null]);
      expect(remote.error, remote.error && remote.error.stack).to.equal(null);
      expect(remote.exitArgs).to.deep.equal([0, null]);
      expect(remote.stdout.toString()).to.equal('1850 1000 1000\n1849\n');
      expect(remote.stdout.toString()).to.equal(local.stdout.toString());
    });

    it('one argument of 128 KiB - 1 bytes works, as it does locally', async function () {
      const big = 'b'.repeat(128 * 1024 - 1);
      const { local, remote } = await both('sh', ['-c', 'echo ${#1}', 'sh', big]);
      expect(local.stdout.toString()).to.equal(`${big.length}\n`);
      expect(remote.stdout.toString()).to.equal(local.stdout.toString());
    });

    it('one argument over 128 KiB fails with E2BIG, as it does locally', async function () {
      const big = 'b'.repeat(128 * 1024 + 1);
      // child_process.spawn throws E2BIG synchronously (libuv reports it from
      // uv_spawn, and Node defers only ENOENT-like errors to 'error').
      // remoteSpawn learns it from the server's execve: it throws the same
      // error when the reply comes while it waits briefly for the start, and
      // otherwise emits it as 'error' followed by 'close' (-7, null). Either
      // way the error is Node's: code, errno, syscall and message.
      let localError;
      try {
        childProcess.spawn('echo', [big]).on('error', () => {});
      } catch (error) {
        localError = error;
      }
      expect(localError, 'child_process did not fail with E2BIG').to.be.an('error');
      expect(localError.code).to.equal('E2BIG');
      let thrown;
      let child;
      try {
        child = remoteSpawn('echo', [big], { connect: connect() });
      } catch (error) {
        thrown = error;
      }
      let remoteError = thrown;
      if (thrown === undefined) {
        const remote = await run(child);
        expect(remote.events).to.deep.equal(['error', 'close']);
        expect(remote.closeArgs).to.deep.equal([-7, null]);
        remoteError = remote.error;
      }
      for (const field of ['code', 'errno', 'syscall', 'message']) {
        expect(remoteError[field], field).to.equal(localError[field]);
      }
    });
  });

  describe('concurrency', function () {
    it('200 concurrent remoteSpawn calls of true/echo all succeed', async function () {
      this.timeout(60000);
      const runs = [];
      for (let i = 0; i < 200; i++) {
        if (i % 2 === 0) runs.push(run(remoteSpawn('true', [], { connect: connect(), stdio: 'ignore' })));
        else runs.push(run(remoteSpawn('echo', [`n${i}`], { connect: connect() })));
      }
      const results = await Promise.all(runs);
      const failures = results.map((r, i) => [i, r]).filter(([, r]) => r.error !== null || !r.exitArgs || r.exitArgs[0] !== 0);
      expect(failures.map(([i, r]) => `${i}: ${r.events} ${r.error && r.error.message}`)).to.deep.equal([]);
      for (const [i, result] of results.entries()) {
        expect(result.events).to.deep.equal(['spawn', 'exit', 'close']);
        if (i % 2 === 1) expect(result.stdout.toString()).to.equal(`n${i}\n`);
      }
      expect(new Set(results.map((r) => r.pid)).size).to.equal(200);
    });
  });
});
