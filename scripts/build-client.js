#!/usr/bin/env node
// npm run build:client: the native client, native/client/sidecar-client.c,
// linked statically for each architecture, into
// prebuilds/linux-<arch>/sidecar-client (beside the addon's prebuilds,
// which node-gyp-build finds by their .node suffix). A static file runs in
// any Linux image of its architecture, glibc, musl or distroless, which is
// how `sidecar install-shims` puts it into another container.
//
//   node scripts/build-client.js [--arch x64,arm64] [--out DIR]
//
// Compilers, the first found on PATH per architecture (CC_LINUX_X64 or
// CC_LINUX_ARM64 overrides): musl-gcc where it targets this machine (Debian:
// musl-tools), a musl cross gcc, then a glibc gcc with -static (Debian:
// gcc-aarch64-linux-gnu for arm64 on x64).

'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const SOURCE = path.join(ROOT, 'native', 'client', 'sidecar-client.c');
const FLAGS = ['-static', '-O2', '-s', '-Wall', '-Wextra', '-std=gnu11'];

/** Compilers that make a static binary for `arch`, best first; `native`: this machine's own. */
function compilers(arch) {
  const native = process.arch === arch;
  const triple = { x64: 'x86_64', arm64: 'aarch64' }[arch];
  return [
    ...(native ? ['musl-gcc'] : []),
    `${triple}-linux-musl-gcc`,
    native ? 'gcc' : `${triple}-linux-gnu-gcc`,
  ];
}

/** Debian's package for the cross compiler, named when none is found. */
const PACKAGE_HINT = { x64: 'musl-tools (x64) or gcc-x86-64-linux-gnu', arm64: 'gcc-aarch64-linux-gnu (or musl-tools on arm64)' };

function onPath(command) {
  return (process.env.PATH || '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function build(arch, outDir) {
  const override = process.env[`CC_LINUX_${arch.toUpperCase()}`];
  const cc = override || compilers(arch).find(onPath);
  if (cc === undefined) {
    throw new Error(`no compiler for a static linux-${arch} sidecar-client: tried ${compilers(arch).join(', ')}; install ${PACKAGE_HINT[arch]}, or set CC_LINUX_${arch.toUpperCase()}`);
  }
  const dir = path.join(outDir, `linux-${arch}`);
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, 'sidecar-client');
  // Built aside and renamed: a shim running the old file is never handed a half-written one.
  const partial = `${target}.${process.pid}.tmp`;
  const result = childProcess.spawnSync(cc, [...FLAGS, '-o', partial, SOURCE], { stdio: 'inherit' });
  if (result.error !== undefined || result.status !== 0) {
    fs.rmSync(partial, { force: true });
    throw new Error(`${cc} failed for linux-${arch}${result.error ? `: ${result.error.message}` : ` (exit ${result.status})`}`);
  }
  fs.chmodSync(partial, 0o755);
  fs.renameSync(partial, target);
  process.stdout.write(`${path.relative(process.cwd(), target) || target}: ${cc}\n`);
}

function main(argv) {
  let arches = ['x64', 'arm64'];
  let outDir = path.join(ROOT, 'prebuilds');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch' && i + 1 < argv.length) arches = argv[++i].split(',');
    else if (argv[i] === '--out' && i + 1 < argv.length) outDir = path.resolve(argv[++i]);
    else throw new Error(`usage: build-client.js [--arch x64,arm64] [--out DIR] (not ${argv[i]})`);
  }
  for (const arch of arches) {
    if (!(arch in PACKAGE_HINT)) throw new Error(`unknown architecture ${arch}: x64 or arm64`);
    build(arch, outDir);
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`build-client: ${error.message}\n`);
  process.exitCode = 1;
}
