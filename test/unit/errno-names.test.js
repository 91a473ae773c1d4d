'use strict';
// native/errno-names.cc, the addon's own errno name table (glibc's
// strerrorname_np is too new for the prebuilt addon: docs/install.md), built
// alone with a small driver and compared with the C library's own names for
// every value: the table must name exactly what glibc names, and the same way.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { tempDir } = require('../helpers/tmp');

const ROOT = path.join(__dirname, '..', '..');

const DRIVER = `
#include <cstdio>
#include <cstring>
#include "errno-names.h"
int main() {
  for (int err = 1; err < 4096; err++) {
    const char* ours = sidecar::ErrnoNameOf(err);
    const char* libc = strerrorname_np(err);
    if (ours != nullptr || libc != nullptr) {
      std::printf("%d %s %s\\n", err, ours ? ours : "-", libc ? libc : "-");
    }
  }
}
`;

/** The names the table lists, read from its source. */
function tableNames() {
  const source = fs.readFileSync(path.join(ROOT, 'native', 'errno-names.cc'), 'utf8');
  return [...source.matchAll(/^\s*SIDECAR_ERRNO_CASE\((E[A-Z0-9]+)\)/gm)].map((match) => match[1]);
}

function hasTool(name) {
  return childProcess.spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('errno name table (native/errno-names.cc)', function () {
  this.timeout(60000);

  it('names every errno value exactly as glibc\'s strerrorname_np does', function () {
    const glibc = process.report.getReport().header.glibcVersionRuntime;
    if (!hasTool('g++') || glibc === undefined || Number(glibc.split('.')[1]) < 32) {
      console.log('      (no g++ or no glibc 2.32 with strerrorname_np to compare with: skipping)');
      this.skip();
    }
    const dir = tempDir('errno-names-');
    try {
      fs.writeFileSync(path.join(dir, 'driver.cc'), DRIVER);
      const program = path.join(dir, 'driver');
      childProcess.execFileSync('g++', ['-std=c++17', '-Wall', '-Werror', '-I', path.join(ROOT, 'native'),
        path.join(dir, 'driver.cc'), path.join(ROOT, 'native', 'errno-names.cc'), '-o', program], { stdio: 'pipe' });
      const rows = childProcess.execFileSync(program, { encoding: 'utf8' }).trim().split('\n').map((line) => line.split(' '));
      const differ = rows.filter(([, ours, libc]) => ours !== libc).map(([err, ours, libc]) => `${err}: ours ${ours}, glibc ${libc}`);
      expect(differ).to.deep.equal([]);
      // Linux has over 130 errno values; a table that named none would pass the comparison only if glibc named none too.
      expect(rows.length).to.be.above(130);
      // Node.js's names (libuv's) agree for the values both know, aliases resolved as the table documents.
      const ourNames = new Map(rows.map(([err, ours]) => [Number(err), ours]));
      for (const [name, value] of Object.entries(os.constants.errno)) {
        if (['EWOULDBLOCK', 'EDEADLOCK', 'ENOTSUP'].includes(name)) continue;
        expect(ourNames.get(value), `errno ${value}`).to.equal(name);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists only names that musl\'s <errno.h> defines too (a from-source build on Alpine compiles it)', function () {
    if (!hasTool('musl-gcc')) {
      console.log('      (musl-gcc is not installed (musl-tools): skipping)');
      this.skip();
    }
    const names = tableNames();
    expect(names.length).to.be.above(130);
    const dir = tempDir('errno-names-musl-');
    try {
      const check = ['#include <errno.h>', ...names.map((name) => `#ifndef ${name}\n#error ${name} is not defined\n#endif`), 'int main(void) { return 0; }'];
      fs.writeFileSync(path.join(dir, 'check.c'), `${check.join('\n')}\n`);
      const result = childProcess.spawnSync('musl-gcc', ['-fsyntax-only', path.join(dir, 'check.c')], { encoding: 'utf8' });
      expect(result.stderr).to.equal('');
      expect(result.status).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
