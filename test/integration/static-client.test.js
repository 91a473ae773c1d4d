'use strict';
// The static native client as the package ships it: `npm run build:client`
// (scripts/build-client.js) links sidecar-client statically per
// architecture; the x64 build and the arm64 build (under
// qemu-aarch64-static) run a program through a real server; bin/sidecar-client
// runs the right one through npm's .bin link; `sidecar install-shims` puts
// the client and shims into a directory, and a shim run from there passes
// the caller's stdio, arguments, status and the environment its --env lines name.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useServer, tempDir, runCommand, fixture, firstLine, isAlive, exited, pollUntil,
} = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const BUILD_SCRIPT = path.join(ROOT, 'scripts', 'build-client.js');
const LAUNCHER = path.join(ROOT, 'bin', 'sidecar-client');
const CLI = path.join(ROOT, 'dist', 'cli', 'sidecar.js');

function onPath(command) {
  return childProcess.spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** What `file` says of `binary`, or undefined without `file`. */
function fileSays(binary) {
  if (!onPath('file')) return undefined;
  return childProcess.execFileSync('file', ['-b', binary], { encoding: 'utf8' });
}

describe('static sidecar-client (npm run build:client, bin, install-shims)', function () {
  this.timeout(60000);
  const ctx = useServer();
  let out;
  const built = {};

  before(async function () {
    out = tempDir('sidecar-client-build-');
    for (const arch of ['x64', 'arm64']) {
      const result = await runCommand(process.execPath, [BUILD_SCRIPT, '--arch', arch, '--out', out]);
      if (result.code === 0) built[arch] = path.join(out, `linux-${arch}`, 'sidecar-client');
      else built[`${arch}Error`] = result.stderr;
    }
  });

  after(function () {
    if (out !== undefined) fs.rmSync(out, { recursive: true, force: true });
  });

  function needs(arch) {
    return function () {
      if (built[arch] === undefined) {
        // A missing compiler is the one reason to skip; the script says which package to install.
        expect(built[`${arch}Error`]).to.match(/no compiler for a static linux-/);
        this.skip();
      }
    };
  }

  describe('x64', function () {
    before(function () {
      if (process.arch !== 'x64') this.skip();
    });
    before(needs('x64'));

    it('is statically linked, for x86-64', function () {
      const said = fileSays(built.x64);
      if (said === undefined) this.skip();
      expect(said).to.match(/x86-64/).and.to.match(/statically linked/);
    });

    it('runs a program through a real server: arguments, output, status', async function () {
      const result = await runCommand(built.x64, ['--connect', ctx.server.path, '--', 'sh', '-c', 'echo "$1"; exit 3', 'sh', 'static']);
      expect(result).to.include({ code: 3, stdout: 'static\n' });
    });

    it('forwards SIGTERM (signalfd in the static libc too): the remote program dies by it, exit 143', async function () {
      const child = childProcess.spawn(built.x64, ['--connect', ctx.server.path, '--', fixture('wait-signal.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = Number(await firstLine(child.stdout));
      expect(isAlive(pid)).to.equal(true);
      child.kill('SIGTERM');
      expect(await exited(child)).to.deep.equal({ code: 143, signal: null });
      expect(await pollUntil(() => !isAlive(pid), { timeout: 5000 })).to.equal(true);
    });
  });

  describe('arm64 under qemu-aarch64-static', function () {
    before(needs('arm64'));
    before(function () {
      if (!onPath('qemu-aarch64-static')) this.skip();
    });

    it('is statically linked, for aarch64', function () {
      const said = fileSays(built.arm64);
      if (said === undefined) this.skip();
      expect(said).to.match(/aarch64/).and.to.match(/statically linked/);
    });

    it('prints its usage and runs a program through a real server, passing its fds and the caller\'s environment', async function () {
      const help = await runCommand('qemu-aarch64-static', [built.arm64, '--help']);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(/^usage: sidecar-client --connect PATH /);
      const result = await runCommand('qemu-aarch64-static',
        [built.arm64, '--connect', ctx.server.path, '--env', 'FROM_ARM', '--', 'sh', '-c', 'cat; echo "$FROM_ARM"; exit 5'],
        { input: 'stdin\n', env: { FROM_ARM: 'arm64' } });
      expect(result).to.include({ code: 5, stdout: 'stdin\narm64\n' });
    });
  });

  describe('bin/sidecar-client (node_modules/.bin/sidecar-client)', function () {
    before(needs(process.arch));

    it('runs the client of this architecture through npm\'s symbolic link; names what is missing otherwise (125)', async function () {
      const dir = tempDir();
      try {
        // A package as npm lays it out: the launcher in bin/, the client in prebuilds/, a link in .bin.
        const pkg = path.join(dir, 'node_modules', 'sidecar-exec');
        fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
        fs.mkdirSync(path.join(pkg, 'prebuilds', `linux-${process.arch}`), { recursive: true });
        fs.copyFileSync(LAUNCHER, path.join(pkg, 'bin', 'sidecar-client'));
        fs.chmodSync(path.join(pkg, 'bin', 'sidecar-client'), 0o755);
        fs.copyFileSync(built[process.arch], path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'sidecar-client'));
        fs.mkdirSync(path.join(dir, 'node_modules', '.bin'));
        const link = path.join(dir, 'node_modules', '.bin', 'sidecar-client');
        fs.symlinkSync('../sidecar-exec/bin/sidecar-client', link);

        const result = await runCommand(link, ['--connect', ctx.server.path, '--', 'echo', 'through the link']);
        expect(result).to.include({ code: 0, stdout: 'through the link\n' });

        fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true });
        const missing = await runCommand(link, ['--help']);
        expect(missing.code).to.equal(125);
        expect(missing.stderr).to.equal(`sidecar: no sidecar-client for linux-${process.arch} in this package (npm run build:client builds it)\n`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('sidecar install-shims', function () {
    before(needs(process.arch));

    it('copies the client and writes shims that run their program on the server with the --env names, default and given', async function () {
      const dir = tempDir();
      try {
        const shims = path.join(dir, 'shared', 'bin');
        const install = await runCommand(process.execPath,
          [CLI, 'install-shims', '--connect', ctx.server.path, '--env', 'MY_*', '--client', built[process.arch], shims, 'printenv', 'sh']);
        expect(install.code, install.stderr).to.equal(0);
        expect(fs.readdirSync(shims).sort()).to.deep.equal(['printenv', 'sh', 'sidecar-client']);
        expect(fs.readFileSync(path.join(shims, 'sidecar-client'))).to.deep.equal(fs.readFileSync(built[process.arch]));
        for (const name of fs.readdirSync(shims)) expect(fs.statSync(path.join(shims, name)).mode & 0o777, name).to.equal(0o755);
        const text = fs.readFileSync(path.join(shims, 'printenv'), 'utf8');
        for (const name of ['SOURCE_DATE_EPOCH', 'CCACHE_*', 'MY_*']) expect(text).to.include(`--env '${name}'`);

        // Run from the shim directory on PATH, as a tool container would, with no SIDECAR_SOCKET.
        const env = {
          PATH: `${shims}:/usr/bin:/bin`, SIDECAR_SOCKET: '', SOURCE_DATE_EPOCH: '1700000000', CCACHE_DIR: '/cache', MY_FLAG: 'on', NOT_PASSED: 'x',
        };
        const result = await runCommand('printenv', ['SOURCE_DATE_EPOCH', 'CCACHE_DIR', 'MY_FLAG', 'NOT_PASSED'], { env, cwd: dir });
        // printenv exits 1 as one name is not set on the server: the status crossed too.
        expect(result).to.include({ code: 1, stdout: '1700000000\n/cache\non\n' });
        const shell = await runCommand('sh', ['-c', 'pwd; exit 7'], { env: { ...env, PATH: `${shims}:/usr/bin:/bin` }, cwd: dir });
        expect(shell).to.include({ code: 7, stdout: `${fs.realpathSync(dir)}\n` });
        // Installed again over itself: the files are replaced, not appended to.
        const again = await runCommand(process.execPath, [CLI, 'install-shims', '--no-default-env', '--client', built[process.arch], shims, 'printenv']);
        expect(again.code, again.stderr).to.equal(0);
        expect(fs.readFileSync(path.join(shims, 'printenv'), 'utf8')).to.not.include('--env');
        expect(fs.readdirSync(shims).sort()).to.deep.equal(['printenv', 'sh', 'sidecar-client']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses names that are not one program name or variable name (125, nothing written)', async function () {
      const dir = tempDir();
      try {
        for (const args of [['../gcc'], ['sidecar-client'], ['--env', 'A B', 'gcc'], ['--env', 'X=1', 'gcc']]) {
          const shims = path.join(dir, 'bin');
          const result = await runCommand(process.execPath, [CLI, 'install-shims', '--client', built[process.arch], ...args.slice(0, -1), shims, args[args.length - 1]]);
          expect(result.code, args.join(' ')).to.equal(125);
          expect(result.stderr).to.match(/^sidecar: (not a program name for a shim|--env takes a variable name)/);
          expect(fs.existsSync(shims)).to.equal(false);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
