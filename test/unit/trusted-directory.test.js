'use strict';
// untrustedDirectory() (src/server/trusted-directory.ts), the trusted-path
// check listen() makes, on real directories: who owns each one, who may
// write it, the sticky bit, and symbolic links and '..' on the way. The
// attack it stops is performed in test/integration/security/socket-directory.test.js.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { untrustedDirectory } = require('../../dist/server/trusted-directory');
const { tempDir } = require('../helpers/tmp');

const NOBODY = 65534;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const EUID = process.geteuid();

describe('unit: untrustedDirectory (the socket directory\'s trusted-path check)', function () {
  let base;

  beforeEach(function () {
    base = tempDir('sidecar-trust-');
  });

  afterEach(function () {
    fs.rmSync(base, { recursive: true, force: true });
  });

  function dir(relative, mode = 0o700) {
    const full = path.join(base, relative);
    fs.mkdirSync(full, { recursive: true });
    fs.chmodSync(full, mode);
    return full;
  }

  it('trusts a path of root\'s and the server\'s own directories, sticky ones included', function () {
    expect(untrustedDirectory(dir('own'), EUID)).to.equal(undefined);
    expect(untrustedDirectory(dir('sticky', 0o1777), EUID)).to.equal(undefined);
    expect(untrustedDirectory(dir('open/inside', 0o755), EUID)).to.equal(undefined);
    expect(untrustedDirectory('/', EUID)).to.equal(undefined);
  });

  it('refuses a directory its group or others may write, and names who and the mode', function () {
    expect(untrustedDirectory(dir('all', 0o777), EUID)).to.deep.equal({
      path: path.join(base, 'all'), reason: `the directory ${path.join(base, 'all')} is writable by its group and others (mode 0777, not sticky)`,
    });
    expect(untrustedDirectory(dir('group', 0o770), EUID).reason).to.include('writable by its group (mode 0770');
    expect(untrustedDirectory(dir('others', 0o703), EUID).reason).to.include('writable by others (mode 0703');
  });

  it('refuses the first untrusted directory above a trusted one', function () {
    const parent = dir('parent', 0o777);
    const child = dir('parent/child/grandchild', 0o700);
    expect(untrustedDirectory(child, EUID).path).to.equal(parent);
  });

  it('resolves relative paths from the working directory, and \'..\' after checking what it left', function () {
    const cwd = process.cwd();
    try {
      process.chdir(dir('here'));
      expect(untrustedDirectory('.', EUID)).to.equal(undefined);
      dir('loose', 0o777);
      expect(untrustedDirectory('../loose', EUID).path).to.equal(path.join(base, 'loose'));
      // Every directory the lookup passes through is checked, even one it leaves again.
      expect(untrustedDirectory('../loose/..', EUID).path).to.equal(path.join(base, 'loose'));
      expect(untrustedDirectory('../here/..', EUID)).to.equal(undefined);
    } finally {
      process.chdir(cwd);
    }
  });

  it('follows symbolic links and checks where they lead, and the links themselves', function () {
    const loose = dir('loose', 0o777);
    fs.symlinkSync(loose, path.join(base, 'absolute'));
    fs.symlinkSync('loose', path.join(base, 'relative'));
    fs.symlinkSync('../own', path.join(dir('up'), 'back'));
    dir('own');
    expect(untrustedDirectory(path.join(base, 'absolute'), EUID).path).to.equal(loose);
    expect(untrustedDirectory(path.join(base, 'relative'), EUID).path).to.equal(loose);
    expect(untrustedDirectory(path.join(base, 'up', 'back'), EUID)).to.equal(undefined);
  });

  it('goes up from where a link leads, as the kernel does, not by the text', function () {
    dir('loose/inner', 0o700);
    fs.chmodSync(path.join(base, 'loose'), 0o777);
    fs.symlinkSync(path.join(base, 'loose', 'inner'), path.join(dir('own'), 'link'));
    // By the text, own/link/.. is own; the kernel takes it to loose.
    expect(untrustedDirectory(`${base}/own/link/..`, EUID).path).to.equal(path.join(base, 'loose'));
  });

  it('throws the lookup\'s error for a missing or non-directory component, and ELOOP for a loop', function () {
    expect(() => untrustedDirectory(path.join(base, 'missing', 'x'), EUID)).to.throw().with.property('code', 'ENOENT');
    fs.writeFileSync(path.join(base, 'file'), '');
    expect(() => untrustedDirectory(path.join(base, 'file'), EUID)).to.throw().with.property('code', 'ENOTDIR');
    fs.symlinkSync('loop', path.join(base, 'loop'));
    expect(() => untrustedDirectory(path.join(base, 'loop'), EUID)).to.throw().with.property('code', 'ELOOP');
  });

  describe('owners (as root)', function () {
    before(function () {
      if (!isRoot) {
        console.log('      (not running as root: cannot chown; skipping)');
        this.skip();
      }
    });

    it('refuses a directory of another uid, trusts it for a server of that uid', function () {
      const theirs = dir('theirs', 0o755);
      fs.chownSync(theirs, NOBODY, NOBODY);
      expect(untrustedDirectory(theirs, 0)).to.deep.equal({ path: theirs, reason: `the directory ${theirs} is owned by uid ${NOBODY}` });
      expect(untrustedDirectory(theirs, NOBODY)).to.equal(undefined);
    });

    it('refuses a symbolic link of another uid in a sticky directory, though it leads somewhere trusted', function () {
      const sticky = dir('sticky', 0o1777);
      const link = path.join(sticky, 'link');
      fs.symlinkSync(dir('own'), link);
      fs.lchownSync(link, NOBODY, NOBODY);
      expect(untrustedDirectory(link, 0)).to.deep.equal({ path: link, reason: `the symbolic link ${link} is owned by uid ${NOBODY}` });
    });
  });
});
