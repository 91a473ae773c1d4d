#!/usr/bin/env node
// `npm run prebuild`: the prebuilt addons the package ships,
// prebuilds/linux-x64/node.napi.glibc.node and
// prebuilds/linux-arm64/node.napi.glibc.node, made with prebuildify (N-API,
// so one file serves every Node.js version; stripped; tagged glibc so that
// node-gyp-build passes them over on musl). The other architecture is built
// with Debian's cross compiler (x64 -> arm64: g++-aarch64-linux-gnu). See
// docs/install.md for why they load on glibc 2.28 and how they are tested.
//
//   node scripts/prebuild.js [ARCH...]   ARCH: x64, arm64 (default: both)
//
// Each architecture is built in a copy of the sources in a temporary
// directory, so that build/ (the developer's own addon, which node-gyp-build
// prefers to any prebuild) is left alone. Afterwards, `npm run build:client`
// runs if package.json has it: it places prebuilds/linux-<arch>/sidecar-client.

'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ARCHES = ['x64', 'arm64'];
/** The GNU triplet of each architecture: its cross compiler is <triplet>-g++. */
const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
/** The Debian package that has each cross compiler. */
const CROSS_PACKAGES = { x64: 'g++-x86-64-linux-gnu', arm64: 'g++-aarch64-linux-gnu' };
/** What a build of the addon needs from the package: node-gyp's input. */
const SOURCES = ['binding.gyp', 'package.json', 'native'];

function onPath(command) {
  return childProcess.spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

/** node-gyp as npm bundles it (npm run names it in npm_config_node_gyp), else from PATH. */
function nodeGypCommand() {
  const candidates = [process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  const script = candidates.find((file) => file && fs.existsSync(file));
  if (script !== undefined) return script;
  if (onPath('node-gyp')) return 'node-gyp';
  throw new Error('prebuild: node-gyp not found (it comes with npm; run this as `npm run prebuild`)');
}

/** The running Node.js's own headers, when installed beside it: no download needed. */
function localNodeDir() {
  const dir = path.join(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi')) ? path.resolve(dir) : undefined;
}

/** The compilers for `arch`: the host's own, or the cross compiler; throws naming its package if missing. */
function toolchain(arch) {
  if (arch === process.arch) return {};
  const prefix = `${TRIPLETS[arch]}-`;
  if (!onPath(`${prefix}g++`)) {
    throw new Error(`prebuild: ${prefix}g++ not found: building linux-${arch} on ${process.arch} needs Debian's cross compiler`
      + ` (apt-get install ${CROSS_PACKAGES[arch]})`);
  }
  return { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar`, PREBUILD_STRIP_BIN: `${prefix}strip` };
}

function buildArch(arch) {
  const env = { ...process.env, ...toolchain(arch) };
  const nodeDir = localNodeDir();
  if (nodeDir !== undefined) env.npm_config_nodedir = nodeDir;
  const out = path.join(ROOT, 'prebuilds', `linux-${arch}`);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `sidecar-prebuild-${arch}-`));
  try {
    for (const entry of SOURCES) fs.cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
    // A rebuild replaces the addon: the old one of this architecture goes first (only .node files; the client stays).
    for (const name of fs.existsSync(out) ? fs.readdirSync(out) : []) {
      if (name.endsWith('.node')) fs.rmSync(path.join(out, name));
    }
    const prebuildify = require.resolve('prebuildify/bin.js', { paths: [ROOT] });
    // --target: this Node.js (whose headers are at hand); with N-API the file serves the others too.
    const args = [prebuildify, '--napi', '--strip', '--tag-libc', '--name', 'node.napi', '--arch', arch,
      '--target', process.versions.node,
      '--platform', 'linux', '--out', ROOT, '--cache', path.join(stage, 'cache'), '--node-gyp', nodeGypCommand(), stage];
    console.log(`prebuild: linux-${arch}${env.CXX ? ` with ${env.CXX}` : ''}`);
    const result = childProcess.spawnSync(process.execPath, args, { cwd: stage, env, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`prebuild: building linux-${arch} failed (status ${result.status})`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  for (const name of fs.readdirSync(out)) if (name.endsWith('.node')) console.log(`prebuild: ${path.relative(ROOT, path.join(out, name))}`);
}

function main(argv) {
  const wanted = argv.length === 0 ? ARCHES : argv;
  const unknown = wanted.filter((arch) => !ARCHES.includes(arch));
  if (unknown.length > 0) throw new Error(`prebuild: unknown architecture ${unknown.join(', ')} (known: ${ARCHES.join(', ')})`);
  for (const arch of wanted) buildArch(arch);
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (manifest.scripts && manifest.scripts['build:client']) {
    const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
    const result = childProcess.spawnSync(npm[0], [...npm.slice(1), 'run', 'build:client'], { cwd: ROOT, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`prebuild: npm run build:client failed (status ${result.status})`);
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
