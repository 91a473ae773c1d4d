'use strict';
// The server's environment handling (src/server/environment.ts): NAME=value
// strings in and out, objects, and the request's environment over the
// server's. Pure code, no I/O.

const { expect } = require('chai');
const {
  parseEnvironment, environmentFrom, environmentPairs, environmentObject, requestedEnvironment,
} = require('../../dist/server/environment');
const { forbidRealIO } = require('../support/fake-binding');

describe('unit: server environment', () => {
  forbidRealIO();

  it('parses NAME=value at the first "=", keeping "=" in values and empty values', () => {
    const env = parseEnvironment(['A=1', 'EQ=a=b=c', 'EMPTY=', 'BARE']);
    expect([...env]).to.deep.equal([['A', '1'], ['EQ', 'a=b=c'], ['EMPTY', ''], ['BARE', '']]);
  });

  it('lets a later entry for a name replace an earlier one, at the first one\'s place', () => {
    const env = parseEnvironment(['A=1', 'B=2', 'A=3']);
    expect([...env]).to.deep.equal([['A', '3'], ['B', '2']]);
    expect(environmentPairs(env)).to.deep.equal(['A=3', 'B=2']);
  });

  it('turns a Map back into NAME=value strings in insertion order', () => {
    const env = new Map([['Z', 'last=really'], ['A', '']]);
    expect(environmentPairs(env)).to.deep.equal(['Z=last=really', 'A=']);
    expect(parseEnvironment(environmentPairs(env))).to.deep.equal(env);
  });

  it('reads own properties of an object, skipping undefined values and stringifying the rest', () => {
    const proto = { INHERITED: 'no' };
    const source = Object.assign(Object.create(proto), { A: 'a', SKIP: undefined, N: 42 });
    expect([...environmentFrom(source)]).to.deep.equal([['A', 'a'], ['N', '42']]);
  });

  it('gives authorize() a null-prototype object, so names like __proto__ are plain keys', () => {
    const object = environmentObject(parseEnvironment(['__proto__=x', 'constructor=y', 'A=1']));
    expect(Object.getPrototypeOf(object)).to.equal(null);
    expect(Object.keys(object)).to.deep.equal(['__proto__', 'constructor', 'A']);
    expect(object.__proto__).to.equal('x'); // eslint-disable-line no-proto
  });

  it('without serverEnv, is the request\'s own environment alone (a copy)', () => {
    const asked = new Map([['A', '1']]);
    const own = new Map([['HOME', '/root'], ['A', 'server']]);
    const env = requestedEnvironment({ serverEnv: false }, asked, own);
    expect([...env]).to.deep.equal([['A', '1']]);
    env.set('B', '2');
    expect(asked.has('B')).to.equal(false);
  });

  it('with serverEnv, lays the request\'s variables over the server\'s without touching either', () => {
    const asked = new Map([['A', 'client'], ['NEW', 'n']]);
    const own = new Map([['HOME', '/root'], ['A', 'server']]);
    const env = requestedEnvironment({ serverEnv: true }, asked, own);
    expect([...env]).to.deep.equal([['HOME', '/root'], ['A', 'client'], ['NEW', 'n']]);
    expect(own.get('A')).to.equal('server');
    expect(own.has('NEW')).to.equal(false);
  });
});
