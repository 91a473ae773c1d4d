'use strict';
// Where the server finds its own cgroup v2: the cgroup2 mount of
// /proc/self/mountinfo (never a fixed path) and the 0:: line of
// /proc/self/cgroup. And when a program's cgroup counts as empty, so that
// it may be given to the next program.

const { expect } = require('chai');
const { cgroupDirectoryFrom } = require('../../dist/server/cgroup');

const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const UNIFIED = '29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate';

describe('unit: cgroupDirectoryFrom (the server\'s own cgroup v2)', function () {
  it('finds the cgroup2 mount of a hybrid layout, below the v1 controllers', function () {
    expect(cgroupDirectoryFrom(HYBRID, '4:memory:/a\n0::/\n')).to.equal('/sys/fs/cgroup/unified');
    expect(cgroupDirectoryFrom(HYBRID, '0::/system.slice/x.service\n')).to.equal('/sys/fs/cgroup/unified/system.slice/x.service');
  });

  it('finds a unified layout and a container\'s (the namespace\'s root is /)', function () {
    expect(cgroupDirectoryFrom(UNIFIED, '0::/\n')).to.equal('/sys/fs/cgroup');
    expect(cgroupDirectoryFrom(UNIFIED, '0::/init.scope\n')).to.equal('/sys/fs/cgroup/init.scope');
  });

  it('maps a mount of a subtree, and skips one that does not hold the cgroup', function () {
    const subtree = '50 40 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw';
    expect(cgroupDirectoryFrom(subtree, '0::/kubepods/pod1/c1\n')).to.equal('/sys/fs/cgroup/c1');
    expect(cgroupDirectoryFrom(subtree, '0::/kubepods/pod1\n')).to.equal('/sys/fs/cgroup');
    expect(cgroupDirectoryFrom(subtree, '0::/kubepods/pod10\n')).to.equal(undefined);
  });

  it('undoes mountinfo\'s octal escapes in the mount point', function () {
    const spaced = '41 31 0:38 / /mnt/cgroup\\040two rw - cgroup2 cgroup2 rw';
    expect(cgroupDirectoryFrom(spaced, '0::/a\n')).to.equal('/mnt/cgroup two/a');
  });

  it('has no answer without a cgroup2 mount or without a 0:: line (cgroup v1 only)', function () {
    expect(cgroupDirectoryFrom(HYBRID.split('\n').slice(0, 2).join('\n'), '0::/\n')).to.equal(undefined);
    expect(cgroupDirectoryFrom(HYBRID, '4:memory:/a\n')).to.equal(undefined);
  });
});

describe('unit: CgroupTree.populated (whether a cgroup may be reused)', function () {
  const { CgroupTree } = require('../../dist/server/cgroup');
  const { FakeBinding } = require('../support/fake-binding');
  const errnoError = (code) => Object.assign(new Error(`openat: ${code}`), { code, syscall: 'openat' });

  function treeReading(...outcomes) {
    const binding = new FakeBinding().script('readFileAt', ...outcomes);
    const tree = new CgroupTree('/no/such/cgroup', binding);
    tree.fd = binding.newFd('cgroup directory');
    return tree;
  }

  it('reads cgroup.events through the directory\'s fd', function () {
    expect(treeReading({ return: 'populated 1\nfrozen 0\n' }).populated()).to.equal(true);
    expect(treeReading({ return: 'populated 0\nfrozen 0\n' }).populated()).to.equal(false);
  });

  it('counts a cgroup it cannot read as running (never handed to another program), and a removed one as empty', function () {
    expect(treeReading(errnoError('EMFILE')).populated(), 'EMFILE').to.equal(true);
    expect(treeReading(errnoError('EACCES')).populated(), 'EACCES').to.equal(true);
    expect(treeReading(errnoError('ENOENT')).populated(), 'ENOENT').to.equal(false);
  });
});
