'use strict';
// The register preload's decisions, without a process or a server: which
// command a call runs (src/register/command-word.ts), the configuration read from the environment
// (src/register/config.ts), and where the options go (src/register/routes.ts).

const childProcess = require('node:child_process');
const { expect } = require('chai');
const { commandWord } = require('../../dist/register/command-word');
const { readConfig } = require('../../dist/register/config');
const { decidingNames, withSocket, isRouted, ROUTES } = require('../../dist/register/routes');

describe('register: the command word of a shell line', function () {
  const cases = [
    ['make -j4', 'make'],
    ['  make', 'make'],
    ['/usr/bin/make all', 'make'],
    ['FOO=1 make', 'make'],
    ['FOO=1 BAR="a b" CC=\'x y\' make V=1', 'make'],
    ['"ma"ke', 'make'],
    ['\'./tools/make\' x', 'make'],
    ['m\\ake', 'make'],
    ['make;ls', 'make'],
    ['make&&ls', 'make'],
    ['make>out', 'make'],
    ['"FOO=1" make', 'FOO=1'],
  ];
  for (const [line, word] of cases) {
    it(`${JSON.stringify(line)} runs ${word}`, function () {
      expect(commandWord(line)).to.equal(word);
    });
  }

  const unknown = ['', '   ', '$CC -c x.c', '`which make`', '"$MAKE"', 'ma*', 'if true; then make; fi', '(make)',
    '{ make; }', '! make', '>out make', 'FOO=1', '~/bin/make', '"unterminated', 'a/'];
  for (const line of unknown) {
    it(`${JSON.stringify(line)} has no word known before it runs`, function () {
      expect(commandWord(line)).to.equal(null);
    });
  }
});

describe('register: configuration', function () {
  it('reads the socket and the list', function () {
    const result = readConfig({ SIDECAR_SOCKET: '/run/s.sock', SIDECAR_COMMANDS: 'make, cc,git' });
    expect(result.config.socket).to.equal('/run/s.sock');
    expect([...result.config.commands]).to.deep.equal(['make', 'cc', 'git']);
  });

  it('routes every command with *', function () {
    const { config } = readConfig({ SIDECAR_SOCKET: '/s', SIDECAR_COMMANDS: 'make,*' });
    expect(config.commands).to.equal(null);
  });

  const problems = [
    [{ SIDECAR_SOCKET: '/s' }, /SIDECAR_COMMANDS is not set or empty/],
    [{ SIDECAR_SOCKET: '/s', SIDECAR_COMMANDS: ' ' }, /SIDECAR_COMMANDS is not set or empty/],
    [{ SIDECAR_SOCKET: '/s', SIDECAR_COMMANDS: 'make,,cc' }, /SIDECAR_COMMANDS has an empty entry \("make,,cc"\)/],
    [{ SIDECAR_SOCKET: '/s', SIDECAR_COMMANDS: 'make,' }, /empty entry/],
    [{ SIDECAR_SOCKET: '/s', SIDECAR_COMMANDS: '/usr/bin/make' }, /basenames, not paths/],
    [{ SIDECAR_COMMANDS: 'make' }, /SIDECAR_SOCKET is not set/],
    [{ SIDECAR_COMMANDS: 'make', SIDECAR_SOCKET: '' }, /SIDECAR_SOCKET is not set/],
  ];
  for (const [env, message] of problems) {
    it(`refuses ${JSON.stringify(env)} in one sentence`, function () {
      const result = readConfig(env);
      expect(result.config).to.equal(undefined);
      expect(result.problem).to.match(message);
      expect(result.problem).to.not.include('\n');
    });
  }
});

describe('register: the arguments of a routed call', function () {
  it('has a row for spawn, exec, execFile and their sync forms, and none for fork', function () {
    expect(ROUTES.map((route) => route.name)).to.have.members(['spawn', 'exec', 'execFile', 'spawnSync', 'execSync', 'execFileSync']);
    expect(ROUTES.map((route) => route.name)).to.not.include('fork');
    for (const route of ROUTES) expect(childProcess[route.name], route.name).to.be.a('function');
  });

  it('decides by the basename of the file, or the shell and the first word of a shell line', function () {
    expect(decidingNames('file', '/usr/bin/make', [['all']])).to.deep.equal(['make']);
    expect(decidingNames('file', 'FOO=1 make', [['all'], { shell: true }])).to.deep.equal(['sh', 'make']);
    expect(decidingNames('file', 'make all', [{ shell: '/bin/bash' }])).to.deep.equal(['bash', 'make']);
    expect(decidingNames('file', 'make all', [undefined, { shell: true }])).to.deep.equal(['sh', 'make']);
    expect(decidingNames('file', 'FOO=1 make', [['all'], { shell: false }])).to.deep.equal(['FOO=1 make']);
    expect(decidingNames('file', '/bin/sh', [['-c', 'CC=gcc make -j2']])).to.deep.equal(['sh', 'make']);
    expect(decidingNames('file', 'bash', [['-c', '$MAKE'], {}])).to.deep.equal(['bash', null]);
    expect(decidingNames('file', 'sh', [['script.sh', '-c']])).to.deep.equal(['sh']);
    expect(decidingNames('file', '', [])).to.deep.equal([null]);
    expect(decidingNames('command', 'CC=gcc make -j2', [])).to.deep.equal(['sh', 'make']);
    expect(decidingNames('command', 'make', [{ shell: '/bin/bash' }])).to.deep.equal(['bash', 'make']);
  });

  it('routes a call when any of its names is listed, and every call with *', function () {
    const config = { socket: '/s', commands: new Set(['make', 'bash']) };
    expect(isRouted(config, ['make'])).to.equal(true);
    expect(isRouted(config, ['sh', 'make'])).to.equal(true);
    expect(isRouted(config, ['bash', null])).to.equal(true);
    expect(isRouted(config, ['sh', null])).to.equal(false);
    expect(isRouted(config, ['gmake'])).to.equal(false);
    expect(isRouted({ socket: '/s', commands: null }, [null])).to.equal(true);
  });

  it('puts the socket into a copy of the options, wherever child_process takes them', function () {
    const callback = () => {};
    const options = { cwd: '/x' };
    const socket = '/s';
    expect(withSocket('file', [], socket)).to.deep.equal([{ connect: socket }]);
    expect(withSocket('file', [['a']], socket)).to.deep.equal([['a'], { connect: socket }]);
    expect(withSocket('file', [['a'], options], socket)).to.deep.equal([['a'], { connect: socket, cwd: '/x' }]);
    expect(withSocket('file', [options], socket)).to.deep.equal([{ connect: socket, cwd: '/x' }]);
    expect(withSocket('file', [['a'], callback], socket)).to.deep.equal([['a'], { connect: socket }, callback]);
    expect(withSocket('file', [['a'], null, callback], socket)).to.deep.equal([['a'], { connect: socket }, callback]);
    expect(withSocket('file', [undefined, options], socket)).to.deep.equal([undefined, { connect: socket, cwd: '/x' }]);
    expect(withSocket('command', [callback], socket)).to.deep.equal([{ connect: socket }, callback]);
    expect(withSocket('command', [options, callback], socket)).to.deep.equal([{ connect: socket, cwd: '/x' }, callback]);
    expect(withSocket('file', [['a'], { connect: '/own' }], socket)[1].connect).to.equal('/own');
    expect(options).to.deep.equal({ cwd: '/x' });
  });

  it('leaves serialization out unless stdio has an IPC channel (child_process ignores it then)', function () {
    const socket = '/s';
    expect(withSocket('file', [['a'], { serialization: 'advanced', stdio: 'pipe' }], socket))
      .to.deep.equal([['a'], { connect: socket, stdio: 'pipe' }]);
    expect(withSocket('file', [['a'], { serialization: 'json', stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }], socket)[1].serialization)
      .to.equal('json');
    expect(withSocket('file', [{ serialization: 'json', stdio: 'ipc' }], socket)[0].serialization).to.equal('json');
  });
});

describe('register: process.kill', function () {
  const { wrapKill } = require('../../dist/register/kill');
  const { rememberChild, forgetChild } = require('../../dist/client/pids');

  it('sends the pid (or the group) of a running remote program to it, and every other pid to the original', function () {
    const local = [];
    const remote = [];
    const kill = wrapKill((pid, signal) => {
      local.push([pid, signal]);
      return true;
    });
    const child = { deliverSignal: (signal) => remote.push(signal) > 0 };
    const pid = 4194000; // above any pid_max default: never a local process
    rememberChild(pid, child);
    try {
      expect(kill(pid, 'SIGTERM')).to.equal(true);
      expect(kill(-pid, 'SIGINT')).to.equal(true);
      expect(kill(pid)).to.equal(true);
      kill(pid + 1, 'SIGTERM');
      kill(0, 'SIGTERM');
      kill(-1, 'SIGTERM');
    } finally {
      forgetChild(pid, child);
    }
    kill(pid, 'SIGTERM');
    expect(remote).to.deep.equal([15, 2, 15]);
    expect(local).to.deep.equal([[pid + 1, 'SIGTERM'], [0, 'SIGTERM'], [-1, 'SIGTERM'], [pid, 'SIGTERM']]);
  });
});
