'use strict';
// Where the program runs decides what locates things (src/server/located-env.ts):
// the caller's PATH, HOME, TMPDIR, SHELL, USER and LOGNAME made to fit the
// server's side, as pure functions over a fake server side, and the real
// side's checks against real files.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const {
  madePath, locateEnvironment, lookupPath, serverSearchPath, serverSide, MAX_CALLER_PATH_ENTRIES,
} = require('../../dist/server/located-env');
const { tempDir, pollUntil } = require('../helpers');

/** A server side with these directories and executable files, and this environment. */
function fakeSide({ dirs = [], executables = [], env = {} } = {}) {
  const asked = [];
  return {
    asked,
    isDirectory: (dir) => { asked.push(dir); return dirs.includes(dir); },
    isExecutableFile: (file) => { asked.push(file); return executables.includes(file); },
    own: (name) => env[name],
  };
}

const SERVER = {
  dirs: ['/shared/node_modules/.bin', '/usr/bin', '/bin', '/opt/tools/bin', '/home/srv', '/srv/tmp'],
  executables: ['/bin/bash', '/bin/sh'],
  env: { PATH: '/opt/tools/bin:/usr/bin:/bin', HOME: '/home/srv', SHELL: '/bin/sh', USER: 'srv', LOGNAME: 'srv', TMPDIR: '/srv/tmp' },
};

/** locateEnvironment over a copy of `env` (every located name the caller's), as an object. */
function located(env, { keep = [], switchesUser = false, side = fakeSide(SERVER) } = {}) {
  const map = new Map(Object.entries(env));
  locateEnvironment(map, Object.keys(env), { keep: new Set(keep), switchesUser }, side);
  return Object.fromEntries(map);
}

describe('unit: where the program runs decides what locates things', () => {
  describe('madePath', () => {
    const isDir = (dir) => SERVER.dirs.includes(dir.length > 1 ? dir.replace(/\/+$/, '') : dir);

    it('keeps the caller\'s entries that are directories on the server, in the caller\'s order, then adds the server\'s own not listed', () => {
      expect(madePath('/shared/node_modules/.bin:/caller/only/bin:/bin:/usr/bin', SERVER.env.PATH, isDir))
        .to.equal('/shared/node_modules/.bin:/bin:/usr/bin:/opt/tools/bin');
    });

    it('drops empty and relative entries of the caller\'s PATH', () => {
      expect(madePath(':.:node_modules/.bin::/usr/bin:./x:', SERVER.env.PATH, isDir)).to.equal('/usr/bin:/opt/tools/bin:/bin');
    });

    it('counts an entry with a trailing slash as listed', () => {
      expect(madePath('/usr/bin/', '/usr/bin:/bin', isDir)).to.equal('/usr/bin/:/bin');
    });

    it('is the server\'s own path when none of the caller\'s entries is there', () => {
      expect(madePath('/caller/a:/caller/b', SERVER.env.PATH, isDir)).to.equal(SERVER.env.PATH);
      expect(madePath('', SERVER.env.PATH, isDir)).to.equal(SERVER.env.PATH);
    });

    it('looks at most MAX_CALLER_PATH_ENTRIES entries, each once: a huge PATH costs the server no more', () => {
      const asked = [];
      const isThere = (dir) => { asked.push(dir); return dir === '/usr/bin'; };
      const huge = Array.from({ length: 10000 }, (_, i) => (i % 2 === 0 ? '/usr/bin' : `/caller/${i}`)).join(':');
      expect(madePath(huge, '/bin', isThere)).to.equal(`${Array(MAX_CALLER_PATH_ENTRIES / 2).fill('/usr/bin').join(':')}:/bin`);
      expect(asked).to.have.lengthOf(1 + MAX_CALLER_PATH_ENTRIES / 2);
    });

    it('uses glibc\'s default for a server without a PATH, and only the absolute entries of the server\'s', () => {
      expect(madePath('/usr/bin', undefined, isDir)).to.equal('/usr/bin:/bin');
      expect(serverSearchPath('.::bin:/opt/tools/bin')).to.equal('/opt/tools/bin');
      expect(serverSearchPath('')).to.equal('/bin:/usr/bin');
    });
  });

  describe('locateEnvironment', () => {
    it('makes PATH, keeps HOME, TMPDIR and SHELL that exist on the server, and gives USER and LOGNAME the server\'s', () => {
      const env = located({
        PATH: '/shared/node_modules/.bin:/usr/bin', HOME: '/home/srv', TMPDIR: '/srv/tmp', SHELL: '/bin/bash', USER: 'me', LOGNAME: 'me', CC: 'mycc',
      });
      expect(env).to.deep.equal({
        PATH: '/shared/node_modules/.bin:/usr/bin:/opt/tools/bin:/bin', HOME: '/home/srv', TMPDIR: '/srv/tmp', SHELL: '/bin/bash', USER: 'srv', LOGNAME: 'srv', CC: 'mycc',
      });
    });

    it('gives the server\'s value of HOME, TMPDIR and SHELL where the caller\'s names nothing there (or is relative)', () => {
      expect(located({ HOME: '/home/me', TMPDIR: 'tmp', SHELL: '/usr/local/bin/fish' }))
        .to.deep.equal({ HOME: '/home/srv', TMPDIR: '/srv/tmp', SHELL: '/bin/sh' });
      // A SHELL that is a directory, a HOME that is a file: not what they should name.
      expect(located({ SHELL: '/usr/bin', HOME: '/bin/sh' })).to.deep.equal({ SHELL: '/bin/sh', HOME: '/home/srv' });
    });

    it('leaves a name out where the server has no value for it: it never invents one', () => {
      const side = fakeSide({ ...SERVER, env: { PATH: '/usr/bin' } });
      expect(located({ TMPDIR: '/caller/tmp', USER: 'me', HOME: '/home/srv', X: '1' }, { side })).to.deep.equal({ HOME: '/home/srv', X: '1' });
    });

    it('never adds a name the caller left out', () => {
      expect(located({ ONLY: '1' })).to.deep.equal({ ONLY: '1' });
      expect(located({})).to.deep.equal({});
    });

    it('leaves the names in `keep` exactly as the caller gave them, and asks the server nothing about them', () => {
      const side = fakeSide(SERVER);
      const env = located({ PATH: 'rel:/caller/bin', HOME: '/home/me', USER: 'me', SHELL: '/x' }, { keep: ['PATH', 'HOME', 'USER'], side });
      expect(env).to.deep.equal({ PATH: 'rel:/caller/bin', HOME: '/home/me', USER: 'me', SHELL: '/bin/sh' });
      expect(side.asked).to.deep.equal(['/x']);
    });

    it('keeps the caller\'s USER and LOGNAME when the program runs as another uid: the server\'s name would be wrong', () => {
      expect(located({ USER: 'builder', LOGNAME: 'builder', HOME: '/home/me' }, { switchesUser: true }))
        .to.deep.equal({ USER: 'builder', LOGNAME: 'builder', HOME: '/home/srv' });
    });

    it('touches only the names it is told are the caller\'s', () => {
      const map = new Map([['PATH', '/caller/bin'], ['USER', 'me']]);
      locateEnvironment(map, ['USER'], { keep: new Set(), switchesUser: false }, fakeSide(SERVER));
      expect(Object.fromEntries(map)).to.deep.equal({ PATH: '/caller/bin', USER: 'srv' });
    });
  });

  describe('lookupPath', () => {
    it('is the program\'s PATH; without one the server\'s, or glibc\'s default when PATH is kept as the caller gave it', () => {
      expect(lookupPath(new Map([['PATH', '/a:/b']]), '/srv/bin', false)).to.equal('/a:/b');
      expect(lookupPath(new Map(), '/srv/bin:rel', false)).to.equal('/srv/bin');
      expect(lookupPath(new Map(), undefined, false)).to.equal('/bin:/usr/bin');
      expect(lookupPath(new Map(), '/srv/bin', true)).to.equal('/bin:/usr/bin');
    });
  });

  describe('the real server side', () => {
    let dir;
    beforeEach(() => { dir = tempDir(); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('tells directories, executable files and what is missing apart, through links, without throwing', () => {
      const tool = path.join(dir, 'tool');
      const plain = path.join(dir, 'plain');
      fs.writeFileSync(tool, '#!/bin/sh\n', { mode: 0o755 });
      fs.writeFileSync(plain, '', { mode: 0o644 });
      fs.symlinkSync(dir, path.join(dir, 'link'));
      const side = serverSide({});
      expect(side.isDirectory(dir)).to.equal(true);
      expect(side.isDirectory(path.join(dir, 'link'))).to.equal(true);
      expect(side.isDirectory(tool)).to.equal(false);
      expect(side.isDirectory(path.join(dir, 'missing'))).to.equal(false);
      expect(side.isDirectory(path.join(tool, 'below-a-file'))).to.equal(false); // ENOTDIR
      expect(side.isExecutableFile(tool)).to.equal(true);
      expect(side.isExecutableFile(dir)).to.equal(false);
      expect(side.isExecutableFile(path.join(dir, 'missing'))).to.equal(false);
      // As root, access(X_OK) still needs an execute bit somewhere.
      expect(side.isExecutableFile(plain)).to.equal(false);
    });

    it('sees a directory made since at once, and forgets one removed since (it remembers found ones for a moment)', async () => {
      const side = serverSide({});
      const made = path.join(dir, 'made-later');
      expect(side.isDirectory(made)).to.equal(false);
      fs.mkdirSync(made);
      expect(side.isDirectory(made)).to.equal(true);
      fs.rmdirSync(made);
      expect(await pollUntil(() => !side.isDirectory(made), { timeout: 5000 }), 'still a directory 5 s after its removal').to.equal(true);
    });

    it('makes PATH with what it found lately: an entry made since is in it at once, one removed since leaves it within seconds', async () => {
      const side = serverSide({ PATH: '/usr/bin' });
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      fs.mkdirSync(a);
      const caller = `${a}:${b}`;
      expect(side.makePath(caller)).to.equal(`${a}:/usr/bin`);
      fs.mkdirSync(b);
      // b was missing: that PATH was not remembered.
      expect(side.makePath(caller)).to.equal(`${a}:${b}:/usr/bin`);
      // Now every entry was found: the answer is remembered, for a moment only.
      fs.rmdirSync(a);
      expect(await pollUntil(() => side.makePath(caller) === `${b}:/usr/bin`, { timeout: 5000 }), 'a removed directory still listed after 5 s').to.equal(true);
      // The same as madePath() over the side's own checks, for the server's PATH too.
      expect(serverSide({ PATH: '/bin' }).makePath(caller)).to.equal(madePath(caller, '/bin', (d) => side.isDirectory(d)));
    });

    it('sees an executable file made since at once, and forgets one removed since within seconds', async () => {
      const side = serverSide({});
      const shell = path.join(dir, 'shell');
      expect(side.isExecutableFile(shell)).to.equal(false);
      fs.writeFileSync(shell, '#!/bin/sh\n', { mode: 0o755 });
      expect(side.isExecutableFile(shell)).to.equal(true);
      fs.rmSync(shell);
      expect(await pollUntil(() => !side.isExecutableFile(shell), { timeout: 5000 }), 'still an executable file 5 s after its removal').to.equal(true);
    });

    it('takes the server\'s values from its environment, else from its user database entry', () => {
      const me = os.userInfo();
      expect(serverSide({ USER: 'from-env' }).own('USER')).to.equal('from-env');
      const bare = serverSide({});
      expect(bare.own('USER')).to.equal(me.username);
      expect(bare.own('LOGNAME')).to.equal(me.username);
      expect(bare.own('HOME')).to.equal(me.homedir);
      expect(bare.own('TMPDIR')).to.equal(undefined);
      expect(bare.own('PATH')).to.equal(undefined);
    });
  });
});
