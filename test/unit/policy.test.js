'use strict';
// The server's policy (src/server/policy.ts) as a pure function: who may
// connect, which ids, which commands, which variables, and the host's
// authorize() hook with every kind of answer. No I/O: decide() gets the
// server's environment and its file system checks (a fake) as arguments.

const { expect } = require('chai');
const { decide } = require('../../dist/server/policy');
const { normalizeServerOptions } = require('../../dist/server/options');
const { parseEnvironment } = require('../../dist/server/environment');
const { NO_ID } = require('../../dist/protocol');
const { forbidRealIO } = require('../support/fake-binding');

const EUID = process.geteuid();
const EGID = process.getegid();
const CLIENT = { pid: 4242, uid: 1000, gid: 1000 };
const SERVER_ENV = { PATH: '/srv/bin:/usr/bin', HOME: '/home/server', LD_LIBRARY_PATH: '/srv/lib' };

function request(overrides = {}) {
  return {
    file: 'tool',
    argv: ['tool', '--flag'],
    env: ['PATH=/client/bin', 'LANG=C.UTF-8'],
    cwd: '',
    fdMap: [],
    newSession: false,
    serverEnv: false,
    uid: NO_ID,
    gid: NO_ID,
    ...overrides,
  };
}

/** The directories this fake server side has; /client/bin among them (a shared volume). */
const SERVER_DIRS = new Set(['/client/bin', '/srv/bin', '/usr/bin', '/bin', '/home/server']);

/** The server side of decide(): the directories above, no executable files, and serverEnv's values. */
function fakeSide(serverEnv) {
  return { isDirectory: (dir) => SERVER_DIRS.has(dir), isExecutableFile: () => false, own: (name) => serverEnv[name] };
}

/** decide() with normalized options, as the run calls it. */
function decideFor(options, req = request(), credentials = CLIENT, serverEnv = SERVER_ENV) {
  return decide(normalizeServerOptions(options), req, credentials, serverEnv, fakeSide(serverEnv));
}

function envOf(decision) {
  return Object.fromEntries(decision.env);
}

describe('unit: server policy decide()', () => {
  forbidRealIO();

  describe('without options', () => {
    it('allows, looking the file up in the program\'s PATH as the server made it, and passing the rest of its environment unchanged', () => {
      const decision = decideFor({});
      expect(decision.allow).to.equal(true);
      expect(decision.candidates).to.deep.equal(['/client/bin/tool', '/srv/bin/tool', '/usr/bin/tool']);
      expect(decision.searchPath).to.equal('/client/bin:/srv/bin:/usr/bin');
      expect(envOf(decision)).to.deep.equal({ PATH: '/client/bin:/srv/bin:/usr/bin', LANG: 'C.UTF-8' });
      expect(decision.droppedEnv).to.deep.equal([]);
      expect(decision.cwd).to.equal('');
    });

    it('looks the file up in the server\'s PATH when the program has none (never adding one), and keeps a path with a slash as is', () => {
      const decision = decideFor({}, request({ env: ['ONLY=1'] }));
      expect(decision.candidates).to.deep.equal(['/srv/bin/tool', '/usr/bin/tool']);
      expect(envOf(decision)).to.deep.equal({ ONLY: '1' });
      // A server without a PATH of its own: glibc's default.
      expect(decideFor({}, request({ env: [] }), CLIENT, {}).candidates).to.deep.equal(['/bin/tool', '/usr/bin/tool']);
      expect(decideFor({}, request({ file: './rel/tool' })).candidates).to.deep.equal(['./rel/tool']);
    });
  });

  describe('allowUids / allowGids', () => {
    it('refuses a client whose uid and gid are both unlisted, naming them', () => {
      const decision = decideFor({ allowUids: [1], allowGids: [2] });
      expect(decision).to.deep.include({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'connect' });
      expect(decision.reason).to.equal('uid 1000 (gid 1000) may not use this server');
    });

    it('admits a client whose uid or (alone) whose gid is listed', () => {
      expect(decideFor({ allowUids: [1000] }).allow).to.equal(true);
      expect(decideFor({ allowUids: [1], allowGids: [1000] }).allow).to.equal(true);
      expect(decideFor({ allowGids: [1000] }, request(), { pid: 1, uid: 7, gid: 1000 }).allow).to.equal(true);
    });

    it('does not call authorize() for a client it refuses', () => {
      let called = 0;
      decideFor({ allowUids: [1], authorize: () => { called++; return true; } });
      expect(called).to.equal(0);
    });
  });

  describe('uid / gid of the program', () => {
    it('allows asking for the server\'s own uid and gid without allowSetuid', () => {
      expect(decideFor({}, request({ uid: EUID, gid: EGID })).allow).to.equal(true);
    });

    it('refuses another uid with EPERM (setuid) and another gid with EPERM (setgid) unless allowSetuid lists them', () => {
      const uid = decideFor({}, request({ uid: EUID + 4321 }));
      expect(uid).to.deep.include({ allow: false, code: 'EPERM', syscall: 'setuid' });
      expect(uid.reason).to.include(`uid ${EUID + 4321}`);
      const gid = decideFor({}, request({ gid: EGID + 4321 }));
      expect(gid).to.deep.include({ allow: false, code: 'EPERM', syscall: 'setgid' });
    });

    it('lets a root server switch to the ids allowSetuid lists, and only those', function () {
      if (EUID !== 0) this.skip(); // an unprivileged server can never switch: covered by the test above
      const options = { allowSetuid: { uids: [1234], gids: [5678] } };
      expect(decideFor(options, request({ uid: 1234, gid: 5678 })).allow).to.equal(true);
      expect(decideFor(options, request({ uid: 1235 })).syscall).to.equal('setuid');
      expect(decideFor(options, request({ uid: 1234, gid: 5679 })).syscall).to.equal('setgid');
    });

    it('refuses a uid switch without a gid: the program would keep the server\'s group (root\'s, for a root server)', function () {
      if (EUID !== 0) this.skip();
      const decision = decideFor({ allowSetuid: { uids: [1234], gids: [5678] } }, request({ uid: 1234 }));
      expect(decision).to.deep.include({ allow: false, code: 'EPERM', syscall: 'setgid' });
      expect(decision.reason).to.equal(`running as uid 1234 needs a gid too: the program would keep the server's group (${EGID})`);
    });
  });

  describe('allowCommands', () => {
    it('looks a listed name up in the server\'s PATH, never the client\'s', () => {
      const decision = decideFor({ allowCommands: ['tool'] });
      expect(decision.allow).to.equal(true);
      expect(decision.candidates).to.deep.equal(['/srv/bin/tool', '/usr/bin/tool']);
    });

    it('skips empty and relative entries of the server\'s PATH: they would resolve in the client\'s cwd', () => {
      const serverEnv = { PATH: '.::bin:/srv/bin:./x:/usr/bin:' };
      const decision = decideFor({ allowCommands: ['tool'] }, request({ cwd: '/client/dir' }), CLIENT, serverEnv);
      expect(decision.candidates).to.deep.equal(['/srv/bin/tool', '/usr/bin/tool']);
      // Without allowCommands the program's PATH is the caller's absolute entries that are there, then the server's.
      expect(decideFor({}, request({ env: ['PATH=.:/usr/bin'] })).candidates).to.deep.equal(['/usr/bin/tool', '/srv/bin/tool']);
      // With callerEnv PATH it is the caller's as given, relative entries included, as child_process has it.
      expect(decideFor({ callerEnv: ['PATH'] }, request({ env: ['PATH=.:/usr/bin'] })).candidates).to.deep.equal(['./tool', '/usr/bin/tool']);
    });

    it('refuses an unlisted name, a relative path, and an absolute path when only the name is listed', () => {
      for (const file of ['other', './tool', 'bin/tool', '/usr/bin/tool']) {
        const decision = decideFor({ allowCommands: ['tool'] }, request({ file }));
        expect(decision, file).to.deep.include({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands' });
        expect(decision.reason, file).to.equal(`${file} is not an allowed command`);
      }
    });

    it('matches an absolute path exactly after normalisation, and runs the normalised path', () => {
      const options = { allowCommands: ['/usr/bin/tool'] };
      expect(decideFor(options, request({ file: '/usr/bin/tool', argv: ['tool'] })).candidates).to.deep.equal(['/usr/bin/tool']);
      expect(decideFor(options, request({ file: '/usr/lib/../bin/./tool', argv: ['tool'] })).candidates).to.deep.equal(['/usr/bin/tool']);
      expect(decideFor(options, request({ file: '/usr/bin/tool2' })).allow).to.equal(false);
      expect(decideFor(options, request({ file: '/usr/bin/../../tmp/tool' })).allow).to.equal(false);
    });

    it('lets only the terminal and language variables of the client through, over the server\'s environment, listing the rest in droppedEnv', () => {
      const req = request({ env: ['PATH=/evil', 'LD_PRELOAD=/evil.so', 'LD_LIBRARY_PATH=/evil', 'BASH_FUNC_x%%=() { :; }', 'NODE_OPTIONS=-r /evil',
        'HOME=/client', 'PYTHONUSERBASE=/evil', 'GIT_CONFIG_COUNT=1', 'LESSOPEN=|/evil %s', 'OPENSSL_CONF=/evil.cnf', 'CUSTOM=x',
        'LANG=C', 'LC_ALL=C.UTF-8', 'TERM=xterm', 'TZ=UTC', 'COLUMNS=80', 'LINES=24'] });
      const decision = decideFor({ allowCommands: ['tool'] }, req);
      expect(decision.allow).to.equal(true);
      expect(envOf(decision)).to.deep.equal({ ...SERVER_ENV, LANG: 'C', LC_ALL: 'C.UTF-8', TERM: 'xterm', TZ: 'UTC', COLUMNS: '80', LINES: '24' });
      expect(decision.droppedEnv).to.have.members(['PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_FUNC_x%%', 'NODE_OPTIONS', 'HOME',
        'PYTHONUSERBASE', 'GIT_CONFIG_COUNT', 'LESSOPEN', 'OPENSSL_CONF', 'CUSTOM']);
    });

    it('does not list a variable whose value is the server\'s own', () => {
      const decision = decideFor({ allowCommands: ['tool'] }, request({ env: ['PATH=/srv/bin:/usr/bin'] }));
      expect(decision.droppedEnv).to.deep.equal([]);
      expect(envOf(decision)).to.deep.equal(SERVER_ENV);
    });

    it('lets a variable through when allowEnv names it', () => {
      const decision = decideFor({ allowCommands: ['tool'], allowEnv: ['LD_PRELOAD'] },
        request({ env: ['LD_PRELOAD=/ok.so', 'LANG=C', 'HOME=/client'] }));
      expect(decision.env.get('LD_PRELOAD')).to.equal('/ok.so');
      expect(decision.env.get('LANG')).to.equal('C');
      expect(decision.droppedEnv).to.deep.equal(['HOME']);
    });

    it('looks the name up in the server\'s absolute PATH entries only: an empty or relative entry would be the client\'s cwd', () => {
      const decision = decideFor({ allowCommands: ['tool'] }, request(), CLIENT, { PATH: ':.:bin:/srv/bin::/usr/bin' });
      expect(decision.candidates).to.deep.equal(['/srv/bin/tool', '/usr/bin/tool']);
    });

    it('refuses an argv[0] other than the allowed command or its file name (a multi-call program would choose by it)', () => {
      const options = { allowCommands: ['busybox', '/bin/tool'] };
      expect(decideFor(options, request({ file: 'busybox', argv: ['busybox', 'ls'] })).allow).to.equal(true);
      expect(decideFor(options, request({ file: '/bin/tool', argv: ['tool'] })).allow).to.equal(true);
      expect(decideFor(options, request({ file: '/bin/tool', argv: ['/bin/tool'] })).allow).to.equal(true);
      const refused = decideFor(options, request({ file: 'busybox', argv: ['sh', '-c', 'id'] }));
      expect(refused).to.deep.include({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'allowCommands' });
      expect(refused.reason).to.include('argv[0] "sh" is not the allowed command "busybox"');
    });

    it('checks the command before the environment: a refused request never has its environment read', () => {
      const env = ['A=1'];
      Object.defineProperty(env, Symbol.iterator, { value: () => { throw new Error('the environment was read'); } });
      const decision = decideFor({ allowCommands: ['tool'] }, request({ file: 'other', argv: ['other'], env }));
      expect(decision).to.deep.include({ allow: false, syscall: 'allowCommands' });
    });
  });

  describe('allowEnv', () => {
    it('gives the program the server\'s environment plus the client\'s values of the listed names only', () => {
      const req = request({ env: ['LANG=C', 'HOME=/client', 'SECRET=x'] });
      const decision = decideFor({ allowEnv: ['LANG'] }, req);
      expect(envOf(decision)).to.deep.equal({ ...SERVER_ENV, LANG: 'C' });
      expect(decision.droppedEnv).to.have.members(['HOME', 'SECRET']);
    });
  });

  describe('where the program runs decides what locates things', () => {
    const located = (overrides, options = {}, serverEnv = { ...SERVER_ENV, USER: 'srv', SHELL: '/bin/sh' }) => decideFor(options, request(overrides), CLIENT, serverEnv);

    it('makes the caller\'s PATH, HOME and USER fit the server and passes the rest as the caller gave it', () => {
      const decision = located({ env: ['PATH=/caller/bin:/client/bin', 'HOME=/home/me', 'USER=me', 'CC=mycc', 'CFLAGS=-O2'] });
      expect(envOf(decision)).to.deep.equal({ PATH: '/client/bin:/srv/bin:/usr/bin', HOME: '/home/server', USER: 'srv', CC: 'mycc', CFLAGS: '-O2' });
      expect(decision.searchPath).to.equal('/client/bin:/srv/bin:/usr/bin');
    });

    it('turns the rule off per name: the request\'s callerEnv and the server\'s, together', () => {
      const env = ['PATH=/caller/bin', 'HOME=/home/me', 'USER=me'];
      expect(envOf(located({ env, callerEnv: ['PATH'] }))).to.deep.equal({ PATH: '/caller/bin', HOME: '/home/server', USER: 'srv' });
      expect(envOf(located({ env, callerEnv: ['PATH'] }, { callerEnv: ['USER'] }))).to.deep.equal({ PATH: '/caller/bin', HOME: '/home/server', USER: 'me' });
      expect(located({ env, callerEnv: ['PATH'] }).candidates).to.deep.equal(['/caller/bin/tool']);
    });

    it('keeps serverEnv\'s meaning: the server\'s environment, the caller\'s values on top made to fit', () => {
      const decision = located({ env: ['PATH=/caller/bin:/client/bin', 'X=1'], serverEnv: true });
      expect(envOf(decision)).to.deep.equal({ ...SERVER_ENV, USER: 'srv', SHELL: '/bin/sh', PATH: '/client/bin:/srv/bin:/usr/bin', X: '1' });
      expect(envOf(located({ env: [], serverEnv: true }))).to.deep.equal({ ...SERVER_ENV, USER: 'srv', SHELL: '/bin/sh' });
    });

    it('under allowEnv, makes the located values it lets through fit; under allowCommands, looks up in the server\'s PATH only', () => {
      const env = ['PATH=/caller/bin:/client/bin', 'HOME=/home/me'];
      const allowed = located({ env }, { allowEnv: ['PATH'] });
      expect(envOf(allowed)).to.deep.equal({ ...SERVER_ENV, USER: 'srv', SHELL: '/bin/sh', PATH: '/client/bin:/srv/bin:/usr/bin' });
      const commands = located({ env }, { allowCommands: ['tool'], allowEnv: ['PATH'] });
      expect(commands.candidates).to.deep.equal(['/srv/bin/tool', '/usr/bin/tool']);
      expect(commands.searchPath).to.equal('/srv/bin:/usr/bin');
      expect(envOf(located({ env }, { allowCommands: ['tool'] })).PATH).to.equal(SERVER_ENV.PATH);
    });

    it('keeps the caller\'s USER when the program runs as another uid (a root server with allowSetuid)', function () {
      if (EUID !== 0) this.skip();
      const decision = located({ env: ['USER=builder', 'LOGNAME=builder'], uid: 1000, gid: 1000 }, { allowSetuid: { uids: [1000], gids: [1000] } });
      expect(envOf(decision)).to.deep.equal({ USER: 'builder', LOGNAME: 'builder' });
      expect(envOf(located({ env: ['USER=builder'], uid: EUID, gid: EGID }))).to.deep.equal({ USER: 'srv' });
    });
  });

  describe('authorize()', () => {
    it('sees the request as the client sent it: a copy of the credentials, its own env, unset ids as undefined', () => {
      let seen;
      const credentials = { pid: 77, uid: 1000, gid: 1001 };
      decideFor({ authorize: (req) => { seen = req; return true; } },
        request({ newSession: true, serverEnv: true, cwd: '/w', callerEnv: ['HOME'] }), credentials);
      expect(seen).to.deep.equal({
        credentials, file: 'tool', argv: ['tool', '--flag'], env: { PATH: '/client/bin', LANG: 'C.UTF-8' }, cwd: '/w',
        uid: undefined, gid: undefined, detached: true, serverEnv: true, callerEnv: ['HOME'],
      });
      expect(seen.credentials).to.not.equal(credentials);
    });

    it('allows on true, undefined, and an object without allow: false', () => {
      for (const answer of [true, undefined, {}, { allow: true }]) {
        const decision = decideFor({ authorize: () => answer });
        expect(decision.allow, String(answer)).to.equal(true);
        expect(decision.candidates).to.deep.equal(['/client/bin/tool', '/srv/bin/tool', '/usr/bin/tool']);
      }
    });

    it('denies on false, a string (its reason), and { allow: false, reason }', () => {
      const cases = [
        [false, 'refused by the server\'s authorize()'],
        ['not today', 'not today'],
        [{ allow: false }, 'refused by the server\'s authorize()'],
        [{ allow: false, reason: 'quota' }, 'quota'],
      ];
      for (const [answer, reason] of cases) {
        expect(decideFor({ authorize: () => answer })).to.deep.equal({
          allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize', reason,
        });
      }
    });

    it('denies on an invalid answer (a number, null, a symbol)', () => {
      for (const answer of [42, null, Symbol('x')]) {
        expect(decideFor({ authorize: () => answer }).reason).to.equal('authorize() returned an invalid answer');
      }
    });

    it('denies when it throws, with its message', () => {
      const decision = decideFor({ authorize: () => { throw new Error('db down'); } });
      expect(decision).to.deep.include({ allow: false, syscall: 'authorize', reason: 'authorize() failed: db down' });
    });

    it('replaces the whole environment and the working directory when it allows with env and cwd', () => {
      const decision = decideFor({ authorize: () => ({ allow: true, env: { ONLY: '1', N: 2 }, cwd: '/sandbox' }) });
      expect(envOf(decision)).to.deep.equal({ ONLY: '1', N: '2' });
      expect(decision.cwd).to.equal('/sandbox');
      expect(decision.candidates).to.deep.equal(['/client/bin/tool', '/srv/bin/tool', '/usr/bin/tool']);
    });

    it('answers with a promise when it is async, resolving to the same decisions', async () => {
      const allowed = decideFor({ authorize: async () => ({ cwd: '/async' }) });
      expect(allowed).to.be.instanceOf(Promise);
      expect((await allowed).cwd).to.equal('/async');
      expect((await decideFor({ authorize: async () => 'later' })).reason).to.equal('later');
      const rejected = await decideFor({ authorize: () => Promise.reject(new Error('timeout')) });
      expect(rejected).to.deep.include({ allow: false, reason: 'authorize() failed: timeout' });
    });

    // Regression (fixed in policy.ts applyHook): an allow answer whose env is not
    // an object ({ env: null }) makes decide() throw a TypeError (sync hook)
    // or return a rejected promise (async hook) instead of refusing it as an
    // invalid answer; a sync hook's throw escapes the session's poll
    // callback as an uncaught exception.
    it('refuses an allow answer whose env is not an object as invalid, sync or async', async () => {
      let sync;
      expect(() => { sync = decideFor({ authorize: () => ({ allow: true, env: null }) }); }).to.not.throw();
      expect(sync).to.deep.include({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize' });
      const async = await decideFor({ authorize: async () => ({ allow: true, env: null }) });
      expect(async).to.deep.include({ allow: false, code: 'ERR_SIDECAR_DENIED', syscall: 'authorize' });
    });
  });
});
