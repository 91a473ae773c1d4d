'use strict';
// The native shim client (build/Release/sidecar-client) against a real
// server: each scenario runs through it and through `sidecar exec`, and the
// two must agree on exit status and output, byte for byte.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useServer, fixture, tempDir, isAlive, pollUntil, exited, runCommand,
} = require('../helpers');

const CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');
const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');

describe('native shim client (sidecar-client)', function () {
  const ctx = useServer();

  before(function () {
    if (!fs.existsSync(CLIENT)) this.skip();
  });

  /** The same exec through both clients. */
  async function both(args, options) {
    const native = await runCommand(CLIENT, ['--connect', ctx.server.path, ...args], options);
    const node = await runCommand(process.execPath, [CLI, 'exec', '--connect', ctx.server.path, ...args], options);
    return { native, node };
  }

  for (const code of [0, 1, 42, 255]) {
    it(`exit code ${code} passes through, as with sidecar exec`, async function () {
      const { native, node } = await both(['--', fixture('exit-with.sh'), String(code)]);
      expect(native.code).to.equal(code);
      expect(native.code).to.equal(node.code);
    });
  }

  it('stdin and stdout are the caller\'s own: a pipeline through sort', async function () {
    const { native, node } = await both(['--', 'sort', '-r'], { input: 'a\nc\nb\n' });
    expect(native.stdout).to.equal('c\nb\na\n');
    expect(native.stdout).to.equal(node.stdout);
  });

  it('--workdir, --env NAME=VALUE and --env NAME (the caller\'s value) on top of the server\'s environment', async function () {
    const dir = tempDir();
    try {
      const script = 'printf "%s|%s|%s|%s" "$(pwd)" "$A" "$B" "$SIDECAR_TEST_SERVER_ONLY"';
      const args = ['--workdir', dir, '--env', 'A=x=y', '--env', 'B', '--', 'sh', '-c', script];
      const { native, node } = await both(args, { env: { B: 'from-caller' } });
      expect(native.code).to.equal(0);
      expect(native.stdout.split('|').slice(0, 3)).to.deep.equal([fs.realpathSync(dir), 'x=y', 'from-caller']);
      expect(native.stdout).to.equal(node.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a relative --workdir is the caller\'s, as child_process takes a relative cwd: never a directory of that name on the server', async function () {
    const dir = fs.realpathSync(tempDir());
    try {
      fs.mkdirSync(path.join(dir, 'sub'));
      const { native, node } = await both(['--workdir', 'sub', '--', 'pwd'], { cwd: dir });
      expect(native.code, native.stderr).to.equal(0);
      expect(native.stdout).to.equal(`${dir}/sub\n`);
      expect(native.stdout).to.equal(node.stdout);
      // And one the caller does not have fails as a missing workdir does (125), even if the server's own cwd had it.
      const missing = await both(['--workdir', 'no-such-sub', '--', 'pwd'], { cwd: dir });
      expect([missing.native.code, missing.node.code]).to.deep.equal([125, 125]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--expect-uid: the server\'s own uid runs the program; a bad value is usage (125), as with sidecar exec', async function () {
    const own = await both(['--expect-uid', String(process.geteuid()), '--', 'echo', 'expected']);
    expect(own.native.stdout).to.equal('expected\n');
    expect(own.native.stdout).to.equal(own.node.stdout);
    for (const bad of ['root', '-1', '4294967295']) {
      const { native, node } = await both(['--expect-uid', bad, '--', 'true']);
      expect(native.code, bad).to.equal(125);
      expect(native.code, bad).to.equal(node.code);
    }
  });

  it('128+N when signal N kills the program, including real-time signals', async function () {
    for (const signal of ['TERM', '40']) {
      const { native, node } = await both(['--', 'sh', '-c', `kill -s ${signal} $$`]);
      expect(native.code).to.equal(signal === 'TERM' ? 143 : 168);
      expect(native.code).to.equal(node.code);
    }
  });

  it('127 for a program not found, 126 for one that cannot run, 125 without a server or a workdir, each with one line', async function () {
    const cases = [
      { args: ['--', 'sidecar-no-such-program'], code: 127 },
      { args: ['--', fixture('not-executable.sh')], code: 126 },
      { args: ['--workdir', '/sidecar/no/such/dir', '--', 'true'], code: 125 },
    ];
    for (const { args, code } of cases) {
      const { native, node } = await both(args);
      expect(native.code, native.stderr).to.equal(code);
      expect(node.code).to.equal(code);
      expect(native.stderr.trim().split('\n')).to.have.lengthOf(1);
      expect(native.stderr).to.match(/^sidecar: /);
    }
    const empty = tempDir();
    const noServer = await runCommand(CLIENT, ['--connect', path.join(empty, 'none.sock'), '--', 'true']);
    fs.rmSync(empty, { recursive: true, force: true });
    expect(noServer.code).to.equal(125);
    expect(noServer.stderr).to.include('none.sock');
    const usage = await runCommand(CLIENT, ['--connect', ctx.server.path]);
    expect(usage.code).to.equal(125);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129], ['SIGUSR1', 138]]) {
    it(`forwards ${signal}: the remote program dies by it, exit ${code}`, async function () {
      const child = childProcess.spawn(CLIENT, ['--connect', ctx.server.path, '--', fixture('wait-signal.sh')],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      const pid = await new Promise((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk) => {
          text += chunk;
          if (text.includes('\n')) resolve(Number(text.split('\n')[0]));
        });
        child.on('exit', () => reject(new Error('exited before the program started')));
      });
      expect(isAlive(pid)).to.equal(true);
      child.kill(signal);
      const status = await exited(child);
      expect(status).to.deep.equal({ code, signal: null });
      expect(await pollUntil(() => !isAlive(pid), { timeout: 1000 })).to.equal(true);
    });
  }

  describe('the same words as sidecar exec', function () {
    /** The first stderr line and status of both clients, given the same words (no --connect added). */
    async function said(args, options) {
      const native = await runCommand(CLIENT, args, options);
      const node = await runCommand(process.execPath, [CLI, 'exec', ...args], options);
      const first = (result) => result.stderr.split('\n')[0];
      return { native: { code: native.code, line: first(native) }, node: { code: node.code, line: first(node) } };
    }

    it('--help prints the usage on stdout and exits 0, under each client\'s own name', async function () {
      const native = await runCommand(CLIENT, ['--help']);
      const node = await runCommand(process.execPath, [CLI, 'exec', '--help']);
      expect([native.code, node.code]).to.deep.equal([0, 0]);
      expect(native.stderr).to.equal('');
      expect(native.stdout).to.match(/^usage: sidecar-client --connect PATH /);
      expect(native.stdout.replace('sidecar-client', 'sidecar exec')).to.equal(node.stdout);
    });

    it('usage mistakes: each line word for word, exit 125, the usage after it', async function () {
      const socket = ctx.server.path;
      const cases = [
        ['--bogus', 'x', 'true'],
        ['--bogus=1', 'true'],
        ['--help=yes'],
        ['--connect'],
        ['--connect', socket, '--workdir'],
        ['--connect', socket, '--connect', socket, 'true'],
        ['--connect=', 'true'],
        ['--connect', socket],
        ['--connect', socket, '--expect-uid', 'root', 'true'],
        ['--connect', socket, '--expect-uid', '4294967295', 'true'],
        ['--connect', socket, '--expect-uid', '0', '--expect-uid', '0', 'true'],
        ['--connect', socket, '--workdir', '/', '--workdir', '/', 'true'],
        ['--connect', socket, '--env', '=x', 'true'],
      ];
      for (const args of cases) {
        const { native, node } = await said(args, { env: { SIDECAR_SOCKET: '' } });
        expect(native, args.join(' ')).to.deep.equal(node);
        expect(native.code).to.equal(125);
        expect(native.line).to.match(/^sidecar: /);
      }
      const unknown = await runCommand(CLIENT, ['--bogus=1', 'true']);
      expect(unknown.stderr).to.equal(`sidecar: unknown option --bogus\n${(await runCommand(CLIENT, ['--help'])).stdout}`);
    });

    it('a socket path that is a regular file, a directory, a stream socket or missing: the cause named, word for word', async function () {
      const dir = tempDir();
      const stream = childProcess.spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path.join(dir, 'stream.sock'))}, () => console.log('up'))`],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        fs.writeFileSync(path.join(dir, 'file'), '');
        fs.mkdirSync(path.join(dir, 'dir'));
        await new Promise((resolve) => stream.stdout.once('data', resolve));
        const expected = {
          file: `ENOTSOCK (${path.join(dir, 'file')} is not a socket: it is a regular file)`,
          dir: `ENOTSOCK (${path.join(dir, 'dir')} is not a socket: it is a directory)`,
          'stream.sock': `EPROTOTYPE (${path.join(dir, 'stream.sock')} is a stream socket, not a sidecar server)`,
          missing: 'ENOENT (no such socket file)',
        };
        for (const [name, why] of Object.entries(expected)) {
          const socket = path.join(dir, name);
          const { native, node } = await said(['--connect', socket, '--', 'true']);
          expect(native).to.deep.equal(node);
          expect(native).to.deep.equal({ code: 125, line: `sidecar: cannot connect to the sidecar server at ${socket}: ${why}` });
        }
      } finally {
        stream.kill();
        await exited(stream);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a working directory that is a file, or missing, on the server: the directory named, exit 125 (as env -C)', async function () {
      const dir = tempDir();
      try {
        const file = path.join(dir, 'file');
        fs.writeFileSync(file, '');
        const notDir = await said(['--connect', ctx.server.path, '--workdir', file, '--', 'true']);
        expect(notDir.native).to.deep.equal(notDir.node);
        expect(notDir.native).to.deep.equal({ code: 125, line: `sidecar: spawn ENOTDIR: working directory ${JSON.stringify(file)} on the server is not a directory` });
        const gone = path.join(dir, 'gone');
        const missing = await said(['--connect', ctx.server.path, '--workdir', gone, '--', 'true']);
        expect(missing.native).to.deep.equal(missing.node);
        expect(missing.native.line).to.equal(`sidecar: spawn true ENOENT: cannot change to the working directory ${JSON.stringify(gone)} on the server: ENOENT`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a #! line naming a missing interpreter: the interpreter named, not "command not found" (127)', async function () {
      const script = fixture('missing-interpreter.sh');
      const { native, node } = await said(['--connect', ctx.server.path, '--', script]);
      expect(native).to.deep.equal(node);
      expect(native).to.deep.equal({ code: 127, line: `sidecar: spawn ${script} ENOENT: interpreter /nonexistent/sidecar-interpreter named by #! not found` });
    });
  });

  it('--env PREFIX* passes each of the caller\'s variables whose name starts with PREFIX, as sidecar exec does', async function () {
    const env = { SIDECAR_T_A: '1', SIDECAR_T_B: 'two=2', SIDECAR_U: 'not asked' };
    const { native, node } = await both(['--env', 'SIDECAR_T_*', '--', 'sh', '-c', 'env | grep ^SIDECAR_ | grep -v ^SIDECAR_TEST | sort'], { env });
    expect(native.code, native.stderr).to.equal(0);
    expect(native.stdout).to.equal('SIDECAR_T_A=1\nSIDECAR_T_B=two=2\n');
    expect(native.stdout).to.equal(node.stdout);
  });

  it('a request over one record (many arguments) is chunked like the Node client\'s', async function () {
    const args = Array.from({ length: 3000 }, (_, i) => `argument-${i}-${'x'.repeat(40)}`);
    const { native, node } = await both(['--', 'sh', '-c', 'echo $#', 'sh', ...args]);
    expect(native.stdout).to.equal('3000\n');
    expect(native.stdout).to.equal(node.stdout);
  });
});
