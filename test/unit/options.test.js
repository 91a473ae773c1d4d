'use strict';
// remoteSpawn's argument normalisation (src/client/options): the same
// validation errors as child_process.spawn for the same bad input, our own
// errors where Node has none, and child_process's defaults.

const childProcess = require('node:child_process');
const { expect } = require('chai');
const { normalizeSpawnArguments } = require('../../dist/client/spawn-options');
const sidecar = require('../..');

const SOCKET = '/nonexistent/sidecar-test.sock';
// A command that does not exist, so that if child_process ever accepted one
// of these inputs it would fail asynchronously instead of running anything.
const NO_SUCH = 'sidecar-test-no-such-command';

/** The error child_process.spawn throws synchronously for these arguments. */
function nodeError(args) {
  let child;
  try {
    child = childProcess.spawn(...args);
  } catch (error) {
    return error;
  }
  child.on('error', () => {});
  throw new Error(`child_process.spawn did not throw for ${JSON.stringify(args)}: the comparison is meaningless`);
}

/** The error normalizeSpawnArguments throws for the same arguments (with a socket path added). */
function ourError(args, call = normalizeSpawnArguments) {
  const [command, maybeArgs, maybeOptions] = args;
  let argList = maybeArgs;
  let options = maybeOptions;
  // Add options.connect without changing the shape of the call.
  if (maybeArgs !== null && typeof maybeArgs === 'object' && !Array.isArray(maybeArgs)) {
    argList = { connect: SOCKET, ...maybeArgs };
  } else if (options === undefined || (options !== null && typeof options === 'object' && !Array.isArray(options))) {
    options = { connect: SOCKET, ...options };
  }
  try {
    call(command, argList, options);
  } catch (error) {
    return error;
  }
  throw new Error(`no error thrown for ${JSON.stringify(args)}`);
}

const BAD_INPUTS = [
  ['non-string command (number)', [123]],
  ['non-string command (object)', [{ file: 'ls' }]],
  ['non-string command (undefined)', [undefined]],
  ['empty command', ['']],
  ['NUL in the command', ['l\0s']],
  ['args not an array (string)', [NO_SUCH, 'abc']],
  ['args not an array (number)', [NO_SUCH, 5]],
  ['NUL in an argument', [NO_SUCH, ['ok', 'a\0b']]],
  ['options not an object', [NO_SUCH, [], 'str']],
  ['bad stdio string', [NO_SUCH, [], { stdio: 'bogus' }]],
  ['bad stdio number', [NO_SUCH, [], { stdio: 5 }]],
  ['bad stdio object', [NO_SUCH, [], { stdio: {} }]],
  ['bad stdio array entry (object)', [NO_SUCH, [], { stdio: ['pipe', {}, 'pipe'] }]],
  ['bad stdio array entry (string)', [NO_SUCH, [], { stdio: ['pipe', 'bogus', 'pipe'] }]],
  ['cwd of a wrong type', [NO_SUCH, [], { cwd: 5 }]],
  ['NUL in cwd', [NO_SUCH, [], { cwd: '/tmp\0x' }]],
  ['NUL in an env value', [NO_SUCH, [], { env: { A: 'a\0b' } }]],
  ['NUL in an env name', [NO_SUCH, [], { env: { 'A\0': 'ab' } }]],
  ['argv0 of a wrong type', [NO_SUCH, [], { argv0: 5 }]],
  ['detached of a wrong type', [NO_SUCH, [], { detached: 'yes' }]],
  ['windowsHide of a wrong type', [NO_SUCH, [], { windowsHide: 'x' }]],
];

// The cases the issue names, whose message must also be Node's word for word.
const SAME_MESSAGE = new Set([
  'non-string command (number)', 'empty command', 'NUL in the command', 'args not an array (string)', 'NUL in an argument',
  'bad stdio string', 'options not an object',
]);

describe('normalizeSpawnArguments', function () {
  describe('validation errors are child_process.spawn\'s', function () {
    for (const [title, args] of BAD_INPUTS) {
      it(`${title}: same code and class`, function () {
        const expected = nodeError(args);
        const actual = ourError(args);
        expect(actual.code, `our error: ${actual.message}; Node's: ${expected.message}`).to.equal(expected.code);
        expect(actual.constructor).to.equal(expected.constructor);
        expect(actual.name).to.equal(expected.name);
        expect(actual).to.be.an.instanceOf(Error);
      });
      if (SAME_MESSAGE.has(title)) {
        it(`${title}: same message`, function () {
          expect(ourError(args).message).to.equal(nodeError(args).message);
        });
      }
    }

    it('remoteSpawn itself throws the same errors synchronously, before any connection', function () {
      for (const [, args] of BAD_INPUTS) {
        const expected = ourError(args);
        const actual = ourError(args, sidecar.remoteSpawn);
        expect(actual.code).to.equal(expected.code);
        expect(actual.constructor).to.equal(expected.constructor);
        expect(actual.message).to.equal(expected.message);
      }
    });
  });

  describe('errors of our own', function () {
    let saved;
    beforeEach(function () {
      saved = process.env.SIDECAR_SOCKET;
      delete process.env.SIDECAR_SOCKET;
    });
    afterEach(function () {
      if (saved === undefined) delete process.env.SIDECAR_SOCKET;
      else process.env.SIDECAR_SOCKET = saved;
    });

    it('ERR_SIDECAR_NO_SOCKET when neither options.connect nor SIDECAR_SOCKET is set', function () {
      for (const call of [() => normalizeSpawnArguments('true', [], {}), () => sidecar.remoteSpawn('true'),
        () => sidecar.remoteSpawn('true', { stdio: 'ignore' }), () => normalizeSpawnArguments('true', [], { connect: undefined })]) {
        let thrown;
        try {
          call();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, 'nothing thrown').to.exist;
        expect(thrown.code).to.equal('ERR_SIDECAR_NO_SOCKET');
        expect(thrown).to.be.an.instanceOf(sidecar.SidecarError);
        expect(sidecar.isSidecarError(thrown)).to.equal(true);
        expect(thrown.message).to.match(/SIDECAR_SOCKET/);
      }
      process.env.SIDECAR_SOCKET = '';
      expect(() => normalizeSpawnArguments('true', [], {})).to.throw().with.property('code', 'ERR_SIDECAR_NO_SOCKET');
    });

    it('SIDECAR_SOCKET is the default, options.connect overrides it', function () {
      process.env.SIDECAR_SOCKET = '/from/env.sock';
      expect(normalizeSpawnArguments('true', [], {}).socketPath).to.equal('/from/env.sock');
      expect(normalizeSpawnArguments('true', [], { connect: '/from/option.sock' }).socketPath).to.equal('/from/option.sock');
    });

    it('options.connect of a wrong type or empty is an argument error', function () {
      expect(() => normalizeSpawnArguments('true', [], { connect: 5 })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => normalizeSpawnArguments('true', [], { connect: '' })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });

    it('ERR_SIDECAR_UNSUPPORTED for stdio \'ipc\', wherever it appears', function () {
      for (const stdio of [['pipe', 'pipe', 'pipe', 'ipc'], ['ipc'], ['inherit', 'ipc', 'inherit']]) {
        let thrown;
        try {
          normalizeSpawnArguments('true', [], { connect: SOCKET, stdio });
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `nothing thrown for ${JSON.stringify(stdio)}`).to.exist;
        expect(thrown.code).to.equal('ERR_SIDECAR_UNSUPPORTED');
        expect(sidecar.isSidecarError(thrown)).to.equal(true);
        expect(thrown.message).to.include('stdio');
      }
    });

    it('options.expectUid: a uid, or absent (undefined, null); anything else an argument error', function () {
      const plan = (expectUid) => normalizeSpawnArguments('ls', [], { connect: SOCKET, expectUid });
      expect(plan(undefined).expectUid).to.equal(undefined);
      expect(plan(null).expectUid).to.equal(undefined);
      expect(plan(0).expectUid).to.equal(0);
      expect(plan(2 ** 32 - 2).expectUid).to.equal(2 ** 32 - 2);
      expect(() => plan('0')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      for (const bad of [-1, 1.5, 2 ** 32 - 1, NaN]) {
        expect(() => plan(bad), String(bad)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      }
    });

    it('ERR_SIDECAR_UNSUPPORTED for child_process options that cannot work remotely', function () {
      for (const options of [{ serialization: 'advanced' }, { serialization: 'json' }]) {
        expect(() => normalizeSpawnArguments('true', [], { connect: SOCKET, ...options }))
          .to.throw().with.property('code', 'ERR_SIDECAR_UNSUPPORTED');
      }
    });
  });

  describe('defaults and shapes, as child_process has them', function () {
    it('argv is [command, ...args], or argv0 first', function () {
      expect(normalizeSpawnArguments('ls', ['-l', 'x'], { connect: SOCKET }).argv).to.deep.equal(['ls', '-l', 'x']);
      expect(normalizeSpawnArguments('ls', { connect: SOCKET }).argv).to.deep.equal(['ls']);
      expect(normalizeSpawnArguments('ls', null, { connect: SOCKET }).argv).to.deep.equal(['ls']);
      expect(normalizeSpawnArguments('ls', ['a'], { connect: SOCKET, argv0: 'custom' }).argv).to.deep.equal(['custom', 'a']);
      expect(normalizeSpawnArguments('ls', ['a'], { connect: SOCKET }).file).to.equal('ls');
    });

    it('cwd defaults to process.cwd(); a file: URL becomes a path', function () {
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET }).cwd).to.equal(process.cwd());
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, cwd: new URL('file:///tmp/a%20b') }).cwd).to.equal('/tmp/a b');
    });

    it('env defaults to process.env; own properties only; values may contain "="', function () {
      const plan = normalizeSpawnArguments('ls', [], { connect: SOCKET });
      const expected = Object.entries(process.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
      expect(plan.env).to.have.members(expected);

      const inherited = Object.create({ FROM_PROTO: 'yes' });
      inherited.OWN = 'a=b=c';
      inherited.UNDEF = undefined;
      inherited.NUM = 5;
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, env: inherited }).env).to.deep.equal(['OWN=a=b=c', 'NUM=5']);
    });

    it('stdio shorthands expand to three entries; extra entries are kept', function () {
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET }).stdio).to.deep.equal([{ kind: 'pipe' }, { kind: 'pipe' }, { kind: 'pipe' }]);
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, stdio: 'inherit' }).stdio)
        .to.deep.equal([{ kind: 'fd', fd: 0 }, { kind: 'fd', fd: 1 }, { kind: 'fd', fd: 2 }]);
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, stdio: 'ignore' }).stdio)
        .to.deep.equal([{ kind: 'ignore' }, { kind: 'ignore' }, { kind: 'ignore' }]);
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, stdio: ['ignore', 2, undefined, 'pipe'] }).stdio)
        .to.deep.equal([{ kind: 'ignore' }, { kind: 'fd', fd: 2 }, { kind: 'pipe' }, { kind: 'pipe' }]);
    });

    it('detached and serverEnv map to the request flags', function () {
      const plan = normalizeSpawnArguments('ls', [], { connect: SOCKET, detached: true, serverEnv: true, env: { A: '1' } });
      expect(plan.newSession).to.equal(true);
      expect(plan.serverEnv).to.equal(true);
      expect(plan.env).to.deep.equal(['A=1']);
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, serverEnv: true }).env).to.deep.equal([]);
    });

    it('callerEnv: the located names only, travelling as a list; anything else an argument error naming the option', function () {
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET }).callerEnv).to.deep.equal([]);
      expect(normalizeSpawnArguments('ls', [], { connect: SOCKET, callerEnv: ['PATH', 'USER', 'PATH'] }).callerEnv).to.deep.equal(['PATH', 'USER']);
      for (const bad of ['PATH', [1], null, {}]) {
        expect(() => normalizeSpawnArguments('ls', [], { connect: SOCKET, callerEnv: bad }), String(bad)).to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_ARG_TYPE');
      }
      expect(() => normalizeSpawnArguments('ls', [], { connect: SOCKET, callerEnv: ['CC'] }))
        .to.throw(/The property 'options\.callerEnv' must name only PATH, HOME, TMPDIR, SHELL, USER, LOGNAME\. Received 'CC'/)
        .with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  });
});

describe('normalizeServerOptions', function () {
  const { normalizeServerOptions } = require('../../dist/server/options');

  it('trustDirectory: false by default, a boolean, anything else an argument error', function () {
    expect(normalizeServerOptions({}).trustDirectory).to.equal(false);
    expect(normalizeServerOptions({ trustDirectory: true }).trustDirectory).to.equal(true);
    for (const bad of ['yes', 1, null]) {
      expect(() => normalizeServerOptions({ trustDirectory: bad }), String(bad)).to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
    }
    expect(() => normalizeServerOptions({ trustDirectory: 'yes' })).to.throw(/The "options\.trustDirectory" property must be of type boolean/);
  });

  it('callerEnv: none by default, the located names only', function () {
    expect([...normalizeServerOptions({}).callerEnv]).to.deep.equal([]);
    expect([...normalizeServerOptions({ callerEnv: ['HOME', 'PATH'] }).callerEnv]).to.deep.equal(['HOME', 'PATH']);
    expect(() => normalizeServerOptions({ callerEnv: ['LD_PRELOAD'] })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => normalizeServerOptions({ callerEnv: 'PATH' })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
  });

  it('allowDetached: true by default, a boolean, anything else an argument error', function () {
    expect(normalizeServerOptions({}).allowDetached).to.equal(true);
    expect(normalizeServerOptions({ allowDetached: false }).allowDetached).to.equal(false);
    for (const bad of ['no', 0, null]) {
      expect(() => normalizeServerOptions({ allowDetached: bad }), String(bad)).to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_TYPE');
    }
  });

  it('containment: \'auto\' by default, one of the four modes, anything else ERR_INVALID_ARG_VALUE', function () {
    expect(normalizeServerOptions({}).containment).to.equal('auto');
    for (const mode of ['auto', 'cgroup', 'subreaper', 'none']) expect(normalizeServerOptions({ containment: mode }).containment).to.equal(mode);
    for (const bad of ['Cgroup', '', true, null]) {
      expect(() => normalizeServerOptions({ containment: bad }), String(bad)).to.throw(TypeError)
        .with.property('code', 'ERR_INVALID_ARG_VALUE');
    }
    expect(() => normalizeServerOptions({ containment: 'systemd' })).to.throw(/'auto', 'cgroup', 'subreaper', 'none'/);
  });
});
