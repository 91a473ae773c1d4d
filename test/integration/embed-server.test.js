'use strict';
// examples/embed-server/server.js, the HTTP service that hosts a sidecar
// server, as a real process: programs run through its socket, /metrics
// counts them in Prometheus's text format, /healthz follows the server's
// state, one log line per request, and SIGTERM drains it to exit 0 with its
// socket file removed.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { tempDir, run, isAlive, pollUntil, useFdCheck } = require('../helpers');

const SERVICE = path.join(__dirname, '..', '..', 'examples', 'embed-server', 'server.js');

/** Fields of a logfmt line (values bare or JSON-quoted). */
function logFields(line) {
  const fields = {};
  for (const [, key, bare, quoted] of line.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/g)) {
    fields[key] = bare !== undefined ? JSON.parse(`"${bare}"`) : quoted;
  }
  return fields;
}

/**
 * Starts the service; resolves once its ready line is out, with the process,
 * its HTTP base URL, and its stdout lines so far (a live array) and stderr.
 */
function startService(args, { env } = {}) {
  const child = childProcess.spawn(process.execPath, [SERVICE, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/',
  });
  const service = { child, lines: [], stderr: '', url: undefined, events: (name) => service.lines.map(logFields).filter((f) => f.event === name) };
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { service.stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 15 s: ${service.lines.join('\n')} ${service.stderr}`)), 15000);
    child.stdout.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        service.lines.push(line);
        const fields = logFields(line);
        if (fields.event === 'ready') {
          service.url = fields.http;
          clearTimeout(timer);
          resolve(service);
        }
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`the service exited (${code ?? signal}) before it was ready: ${service.stderr}`), { code, service }));
    });
  });
}

/** GET on a fresh connection (no keep-alive: the service's close must not wait for this test's idle socket). */
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, type: response.headers['content-type'], body }));
    }).on('error', reject);
  });
}

/**
 * Parses a scrape and checks the exposition format on the way: the body ends
 * with a newline, each metric has one HELP and one TYPE line before its
 * samples, counters end in _total, and every value is a number. Resolves
 * with `series{labels}` -> value.
 */
function parseMetrics(text) {
  expect(text.endsWith('\n'), 'the last line ends with a newline').to.equal(true);
  const help = new Set();
  const types = new Map();
  const values = new Map();
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta;
      if (kind === 'HELP') {
        expect(help.has(name), `one HELP for ${name}`).to.equal(false);
        help.add(name);
      } else {
        expect(types.has(name), `one TYPE for ${name}`).to.equal(false);
        expect(['counter', 'gauge', 'untyped']).to.include(rest);
        if (rest === 'counter') expect(name).to.match(/_total$/);
        types.set(name, rest);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    expect(sample, `a sample line: ${line}`).to.not.equal(null);
    const [, name, labels = '', value] = sample;
    expect(help.has(name) && types.has(name), `HELP and TYPE before ${name}`).to.equal(true);
    expect(Number.isFinite(Number(value)), `${line}: a number`).to.equal(true);
    values.set(name + labels, Number(value));
  }
  return values;
}

/** Sends `text` as is on a fresh connection; resolves with all that came back. */
function rawRequest(url, text) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect(Number(port), hostname, () => socket.end(text));
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** The series a test follows, before and after. */
const WATCHED = [
  'sidecar_connections', 'sidecar_programs_running', 'sidecar_programs_spawned_total', 'sidecar_requests_failed_total',
  'sidecar_requests_denied_total', 'sidecar_program_exits_total{reason="exit"}', 'sidecar_program_exits_total{reason="client-signal"}',
  'sidecar_program_exits_total{reason="close"}', 'sidecar_listening',
];

/** The values of `names` in a scrape, as one object to compare at once. */
function pick(values, names) {
  return Object.fromEntries(names.map((name) => [name, values.get(name)]));
}

async function scrape(service) {
  const response = await get(`${service.url}/metrics`);
  expect(response.status).to.equal(200);
  expect(response.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(response.body);
}

/** Resolves with { code, signal } once the process exited and its stdout and stderr are read to the end. */
function closed(child) {
  if (child.stdout.readableEnded && child.stderr.readableEnded && (child.exitCode !== null || child.signalCode !== null)) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

/** SIGTERM; resolves with the exit, after at most 20 s (then SIGKILL). */
async function terminate(service) {
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 20000);
  const end = await closed(service.child);
  clearTimeout(timer);
  return end;
}

describe('examples/embed-server: an HTTP service hosting a sidecar server', function () {
  this.timeout(40000);
  let dir;
  let socketPath;
  const services = [];

  beforeEach(function () {
    dir = tempDir('sidecar-embed-');
    socketPath = path.join(dir, 'sidecar.sock');
  });
  afterEach(async function () {
    for (const service of services.splice(0)) {
      if (service.child.exitCode === null && service.child.signalCode === null) await terminate(service);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  useFdCheck();

  async function start(args, options) {
    const service = await startService(args, options);
    services.push(service);
    return service;
  }

  it('counts programs on /metrics, logs one line per request, and exits 0 on SIGTERM with its socket gone', async function () {
    const service = await start(['--socket', socketPath]);
    expect(service.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(`${service.url}/healthz`);
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.include({ status: 'ok', socket: socketPath, spawned: 0 });
    expect(pick(await scrape(service), WATCHED)).to.deep.equal({
      sidecar_connections: 0, sidecar_programs_running: 0, sidecar_programs_spawned_total: 0, sidecar_requests_failed_total: 0,
      sidecar_requests_denied_total: 0, 'sidecar_program_exits_total{reason="exit"}': 0,
      'sidecar_program_exits_total{reason="client-signal"}': 0, 'sidecar_program_exits_total{reason="close"}': 0, sidecar_listening: 1,
    });

    // A program that exits 3; one the server cannot find; one killed by its client.
    const three = await run(remoteSpawn('sh', ['-c', 'exit 3'], { connect: socketPath }));
    expect(three.closeArgs).to.deep.equal([3, null]);
    const missing = await run(remoteSpawn('sidecar-embed-no-such-program', [], { connect: socketPath }));
    expect(missing.error?.code).to.equal('ENOENT');
    const sleeper = remoteSpawn('sleep', ['30'], { connect: socketPath });
    sleeper.on('spawn', () => sleeper.kill('SIGTERM'));
    const killed = await run(sleeper);
    expect(killed.closeArgs).to.deep.equal([null, 'SIGTERM']);
    expect(sleeper.exitReason).to.equal('client-signal');

    // The counters moved; the connections are released (counted as they close, so polled).
    let after;
    await pollUntil(async () => (after = await scrape(service)).get('sidecar_connections') === 0, { timeout: 5000 });
    expect(pick(after, WATCHED)).to.deep.equal({
      sidecar_connections: 0, sidecar_programs_running: 0, sidecar_programs_spawned_total: 2, sidecar_requests_failed_total: 1,
      sidecar_requests_denied_total: 0, 'sidecar_program_exits_total{reason="exit"}': 1,
      'sidecar_program_exits_total{reason="client-signal"}': 1, 'sidecar_program_exits_total{reason="close"}': 0, sidecar_listening: 1,
    });

    // One line per request, from the event that ended it.
    const exits = service.events('exit');
    expect(exits).to.have.length(2);
    expect(exits[0]).to.include({ program: 'sh', args: '2', code: '3', reason: 'exit', uid: String(process.getuid()), client_pid: String(process.pid) });
    expect(exits[1]).to.include({ program: 'sleep', signal: 'SIGTERM', reason: 'client-signal', pid: String(killed.pid) });
    const failures = service.events('failed');
    expect(failures).to.have.length(1);
    expect(failures[0].message).to.include('sidecar-embed-no-such-program');
    expect((await get(`${service.url}/nowhere`)).status).to.equal(404);
    // A request target that new URL() cannot parse is one more unknown route, not the end of the service.
    expect(await rawRequest(service.url, 'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).to.match(/^HTTP\/1\.1 404 /);
    expect((await get(`${service.url}/healthz`)).status).to.equal(200);

    expect(await terminate(service)).to.deep.equal({ code: 0, signal: null });
    expect(fs.existsSync(socketPath), 'the socket file is removed').to.equal(false);
    expect(service.events('stopped')).to.have.length(1);
    expect(service.stderr).to.equal('');
  });

  it('drains on SIGTERM: /healthz says stopping while a program runs, and the service exits 0 once it ended', async function () {
    const service = await start(['--socket', socketPath, '--close-timeout', '60000']);
    const sleeper = remoteSpawn('sleep', ['30'], { connect: socketPath });
    const ran = run(sleeper, { timeout: 30000 });
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    service.child.kill('SIGTERM');
    let health;
    await pollUntil(async () => (health = await get(`${service.url}/healthz`)).status === 503, { timeout: 10000 });
    expect(health.status).to.equal(503);
    expect(JSON.parse(health.body)).to.include({ status: 'stopping', running: 1 });
    const metrics = await scrape(service);
    expect(metrics.get('sidecar_listening')).to.equal(0);
    expect(metrics.get('sidecar_programs_running')).to.equal(1);
    expect(fs.existsSync(socketPath), 'the socket file goes at once: no new client gets in').to.equal(false);
    expect(service.child.exitCode).to.equal(null);

    sleeper.kill('SIGTERM');
    expect((await ran).closeArgs).to.deep.equal([null, 'SIGTERM']);
    expect(await closed(service.child)).to.deep.equal({ code: 0, signal: null });
    expect(service.events('exit')[0]).to.include({ program: 'sleep', reason: 'client-signal' });
  });

  it('ends a program still running at closeTimeout after SIGTERM, reason close', async function () {
    const service = await start(['--socket', socketPath], { env: { SIDECAR_CLOSE_TIMEOUT: '200' } });
    const sleeper = remoteSpawn('sleep', ['30'], { connect: socketPath });
    const ran = run(sleeper, { timeout: 30000 });
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    expect(await terminate(service)).to.deep.equal({ code: 0, signal: null });
    expect((await ran).closeArgs).to.deep.equal([null, 'SIGTERM']);
    expect(sleeper.exitReason).to.equal('close');
    expect(isAlive(sleeper.pid)).to.equal(false);
    expect(service.events('exit')[0]).to.include({ program: 'sleep', signal: 'SIGTERM', reason: 'close' });
    expect(fs.existsSync(socketPath)).to.equal(false);
  });

  it('exits 1 when its socket is taken, after closing its HTTP listener', async function () {
    await start(['--socket', socketPath]);
    const second = await startService(['--socket', socketPath]).then(
      () => { throw new Error('a second service listened on a live socket'); },
      (error) => error,
    );
    expect(second.code).to.equal(1);
    const errors = second.service.events('error');
    expect(errors).to.have.length(1);
    expect(errors[0].code).to.equal('EADDRINUSE');
    expect(second.service.events('stopped')).to.have.length(1);
  });

  it('refuses a missing socket or a bad setting with its usage, exit 2', async function () {
    for (const args of [[], ['--socket', socketPath, '--port', 'eighty'], ['--socket', socketPath, '--mode', '999'], ['--sock', socketPath]]) {
      const error = await startService(args, { env: { SIDECAR_SOCKET: '' } }).then(() => null, (e) => e);
      expect(error?.code, args.join(' ')).to.equal(2);
      expect(error.service.stderr).to.match(/^embed-server: .+\nusage: node server\.js --socket PATH/);
    }
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });
});
