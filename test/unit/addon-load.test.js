'use strict';
// src/binding/load.ts: where no addon fits, the error says what to do. Real
// package directories (temporary), real node-gyp-build, real dlopen: no
// addon at all; only a musl prebuild on this glibc system; a file the
// dynamic loader refuses; and the tools a build from source needs.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { elfInterpreter, loadAddon, missingBuildTools, runtimeLibc, BUILD_COMMAND } = require('../../dist/binding/load');
const { tempDir } = require('../helpers/tmp');

const TARGET = `${process.platform}-${process.arch}`;

/** A package directory with these files (path -> content). */
function fakePackage(files) {
  const root = tempDir('addon-load-');
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'addon-load-fixture', version: '1.0.0' }));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content, { mode: 0o755 });
  }
  return root;
}

/**
 * A minimal ELF executable: its header and one program header, PT_INTERP,
 * naming `interpreter` (or PT_LOAD only, as a static binary has, when null).
 */
function elf({ is64, little, interpreter }) {
  const headerSize = is64 ? 64 : 52;
  const entrySize = is64 ? 56 : 32;
  const text = Buffer.from(`${interpreter ?? ''}\0`, 'latin1');
  const file = Buffer.alloc(headerSize + entrySize + text.length);
  const view = new DataView(file.buffer);
  const word = (at, value) => (is64 ? view.setBigUint64(at, BigInt(value), little) : view.setUint32(at, value, little));
  file.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, little ? 1 : 2, 1]);
  view.setUint16(16, 2, little); // ET_EXEC
  word(is64 ? 0x20 : 0x1c, headerSize); // e_phoff
  view.setUint16(is64 ? 0x36 : 0x2a, entrySize, little);
  view.setUint16(is64 ? 0x38 : 0x2c, 1, little);
  view.setUint32(headerSize, interpreter === null ? 1 : 3, little); // PT_LOAD or PT_INTERP
  word(headerSize + (is64 ? 8 : 4), headerSize + entrySize); // p_offset
  word(headerSize + (is64 ? 32 : 16), text.length); // p_filesz
  file.set(text, headerSize + entrySize);
  return file;
}

function thrownBy(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('loading the addon (src/binding/load.ts)', function () {
  const dirs = [];
  const made = (files) => {
    const dir = fakePackage(files);
    dirs.push(dir);
    return dir;
  };
  afterEach(function () {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tells this system\'s C library from the running process', function () {
    const glibc = process.report.getReport().header.glibcVersionRuntime;
    expect(runtimeLibc()).to.equal(glibc === undefined ? 'musl' : 'glibc');
    expect(elfInterpreter(process.execPath)).to.match(glibc === undefined ? /\/ld-musl-/ : /\/ld(-linux[^/]*|64)?\.so\.\d+$/);
  });

  it('reads the dynamic loader an ELF file names, in either word size and byte order, and tells musl from glibc by it', function () {
    const cases = [
      { is64: true, little: true, interpreter: '/lib/ld-musl-x86_64.so.1', libc: 'musl' },
      { is64: true, little: true, interpreter: '/lib/ld-linux-aarch64.so.1', libc: 'glibc' },
      { is64: true, little: false, interpreter: '/lib/ld64.so.1', libc: 'glibc' },
      { is64: false, little: true, interpreter: '/lib/ld-musl-armhf.so.1', libc: 'musl' },
      { is64: false, little: true, interpreter: '/lib/ld-linux-armhf.so.3', libc: 'glibc' },
    ];
    for (const { libc, ...shape } of cases) {
      const file = path.join(made({}), 'node');
      fs.writeFileSync(file, elf(shape));
      expect(elfInterpreter(file), JSON.stringify(shape)).to.equal(shape.interpreter);
      expect(runtimeLibc(file), JSON.stringify(shape)).to.equal(libc);
    }
    // Nothing to read: a static binary, a file that is no ELF at all, no file. (runtimeLibc then asks the report.)
    const root = made({ 'script.sh': '#!/bin/sh\n' });
    fs.writeFileSync(path.join(root, 'static'), elf({ is64: true, little: true, interpreter: null }));
    for (const name of ['static', 'script.sh', 'missing']) expect(elfInterpreter(path.join(root, name)), name).to.equal(null);
  });

  it('with neither a build nor a prebuild: ERR_SIDECAR_ADDON naming the target, the C library, the command and the missing tools', function () {
    const error = thrownBy(() => loadAddon(made({})));
    expect(error.code).to.equal('ERR_SIDECAR_ADDON');
    expect(error.name).to.equal('SidecarError');
    expect(error.platform).to.equal(TARGET);
    expect(error.libc).to.equal(runtimeLibc());
    expect(error.message).to.include(`no prebuilt native addon fits ${TARGET} with ${runtimeLibc()} libc`);
    expect(error.message).to.include(`\`${BUILD_COMMAND}\``);
    const missing = missingBuildTools();
    expect(error.message).to.include(missing.length === 0 ? 'all on PATH' : `missing here: ${missing.join(', ')}`);
  });

  it('passes over a prebuild of another C library (a musl one on glibc) with the same error', function () {
    const other = runtimeLibc() === 'glibc' ? 'musl' : 'glibc';
    const error = thrownBy(() => loadAddon(made({ [`prebuilds/${TARGET}/node.napi.${other}.node`]: 'not loaded' })));
    expect(error.code).to.equal('ERR_SIDECAR_ADDON');
    expect(error.message).to.include(`fits ${TARGET} with ${runtimeLibc()} libc`);
  });

  it('a prebuild the dynamic loader refuses: ERR_SIDECAR_ADDON with the file, the loader\'s reason and the build command', function () {
    const file = `prebuilds/${TARGET}/node.napi.${runtimeLibc()}.node`;
    const root = made({ [file]: 'not an ELF file' });
    const error = thrownBy(() => loadAddon(root));
    expect(error.code).to.equal('ERR_SIDECAR_ADDON');
    expect(error.path).to.equal(path.join(root, file));
    expect(error.message).to.include(`the native addon ${path.join(root, file)} cannot be loaded here (`);
    expect(error.message).to.include(BUILD_COMMAND);
    expect(error.cause).to.be.an('error').with.property('code', 'ERR_DLOPEN_FAILED');
  });

  it('counts python3, make and g++ as missing unless a directory of PATH has them (or their alternatives)', function () {
    const none = made({});
    expect(missingBuildTools(none)).to.deep.equal(['python3', 'make', 'g++']);
    const some = made({ 'bin/python': '', 'bin/make': '' });
    expect(missingBuildTools(path.join(some, 'bin'))).to.deep.equal(['g++']);
    const all = made({ 'bin/python3': '', 'bin/make': '', 'bin/c++': '' });
    expect(missingBuildTools(`${none}:${path.join(all, 'bin')}`)).to.deep.equal([]);
    // Present but not executable does not count.
    const plain = made({});
    fs.mkdirSync(path.join(plain, 'bin'));
    fs.writeFileSync(path.join(plain, 'bin', 'make'), '', { mode: 0o644 });
    expect(missingBuildTools(path.join(plain, 'bin'))).to.include('make');
  });
});
