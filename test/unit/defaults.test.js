'use strict';

// Defaults are stated twice by necessity: as values in src/ and as @default
// in the hand-written declarations users read. This test reads the
// declarations' text and holds every literal @default to the value the code
// really uses, so that the two cannot drift apart.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { normalizeServerOptions } = require('../../dist/server/options');
const { KILL_ESCALATION_MS } = require('../../dist/server/program');
const { DEFAULT_START_WAIT_MS, normalizeSpawnArguments } = require('../../dist/client/spawn-options');
const { DEFAULT_MAX_BUFFER } = require('../../dist/client/exec');

const TYPES = path.join(__dirname, '..', '..', 'types');

/** name -> @default text, for the members of one declared interface. */
function declaredDefaults(file, interfaceName) {
  const text = fs.readFileSync(path.join(TYPES, file), 'utf8');
  const start = text.indexOf(`export interface ${interfaceName} `);
  expect(start, `${interfaceName} in ${file}`).to.be.greaterThan(-1);
  const body = text.slice(start, text.indexOf('\n}\n', start));
  const defaults = new Map();
  // A doc comment, then the member it documents.
  for (const match of body.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(?:readonly\s+)?(\w+)\??:/g)) {
    const found = /@default\s+([^\n*]+)/.exec(match[1]);
    if (found) defaults.set(match[2], { text: found[1].trim(), doc: match[1] });
  }
  return defaults;
}

/** What `@default []` stands for: a list (an array, or the Set the server keeps it in) with nothing in it. */
const EMPTY = Symbol('empty list');

/** Holds `value` to a literal: an empty list has size or length 0. */
function expectLiteral(value, expected, what) {
  if (expected === EMPTY) expect(value instanceof Set ? [...value] : value, what).to.deep.equal([]);
  else expect(value, what).to.equal(expected);
}

/** The value a literal @default names, or undefined when it is prose. */
function literal(text) {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^0o[0-7]+$/.test(text)) return Number.parseInt(text.slice(2), 8);
  if (text === 'Infinity') return Infinity;
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === '[]') return EMPTY;
  const signal = /^'(SIG[A-Z0-9]+)'$/.exec(text);
  if (signal) return os.constants.signals[signal[1]];
  return undefined;
}

describe('documented defaults match the code', function () {
  it('every literal @default of ServerOptions is what createServer uses', function () {
    const declared = declaredDefaults('server.d.ts', 'ServerOptions');
    const actual = normalizeServerOptions({});
    const checked = [];
    for (const [name, { text }] of declared) {
      const value = literal(text);
      if (value === undefined) continue;
      expectLiteral(actual[name], value, `options.${name} (@default ${text})`);
      checked.push(name);
    }
    // The check must have had something to check.
    expect(checked).to.include.members([
      'mode', 'backlog', 'maxQueued', 'handshakeTimeout', 'killSignal', 'disconnectSignal', 'closeTimeout', 'maxConnectionsPerUid', 'maxBufferedBytes',
      'callerEnv',
    ]);
  });

  it('"SIGKILL 5 s later" in the declarations is the escalation the server uses', function () {
    const text = fs.readFileSync(path.join(TYPES, 'server.d.ts'), 'utf8');
    const stated = [...text.matchAll(/SIGKILL (\d+) s later/g)].map((match) => Number(match[1]) * 1000);
    expect(stated.length).to.be.greaterThan(0);
    for (const ms of stated) expect(ms).to.equal(KILL_ESCALATION_MS);
  });

  it('startWait, killSignal and maxBuffer defaults of the client are as declared', function () {
    const spawn = declaredDefaults('index.d.ts', 'RemoteSpawnOptions');
    expect(literal(spawn.get('startWait').text)).to.equal(DEFAULT_START_WAIT_MS);
    const plan = normalizeSpawnArguments('true', [], { connect: '/nowhere' });
    expect(plan.startWait).to.equal(DEFAULT_START_WAIT_MS);
    expect(plan.killSignal).to.equal(literal(spawn.get('killSignal').text));
    expectLiteral(plan.callerEnv, literal(spawn.get('callerEnv').text), 'callerEnv');
    expect(literal(declaredDefaults('index.d.ts', 'RemoteExecFileOptions').get('maxBuffer').text)).to.equal(DEFAULT_MAX_BUFFER);
  });
});
