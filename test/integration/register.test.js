'use strict';
// The register preload (sidecar-exec/register) in programs of their own,
// against a server whose tools exist only in its own mount namespace: its
// three entry points, CommonJS and ES module named imports, what stays
// local, process.kill of a routed child, its configuration errors and a
// server that is down, and its debug log.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useToolServers, startToolServer, clientEnv, runNode, report, tempDir, fixture,
} = require('../helpers');

const CLIENT = fixture('register/register-client.js');
const ESM_CLIENT = fixture('register/esm-client.mjs');
const GUARD = fixture('register/kill-guard.js');
const ROUTED = 'greet,napper';

describe('register preload', function () {
  this.timeout(30000);
  const servers = useToolServers();

  async function layout() {
    const { server, toolDir, dir } = await startToolServer(servers);
    const env = clientEnv({ PATH: `${toolDir}:${process.env.PATH}`, SIDECAR_SOCKET: server.path, SIDECAR_COMMANDS: ROUTED });
    return { server, toolDir, dir, env };
  }

  const EXPECTED_CALLS = {
    spawn: { kind: 'RemoteChildProcess', stdout: 'greet spawn', code: 0, signal: null },
    exec: { kind: 'RemoteChildProcess', stdout: 'greet exec d', code: 0, signal: null },
    execFile: { error: null, stdout: 'greet execFile' },
    promisified: 'greet promisified',
    local: { kind: 'ChildProcess', stdout: '', code: 0, signal: null },
    fork: { kind: 'ChildProcess', stdout: '{"forked":true}', code: 0, signal: null },
  };

  for (const [entry, args, extraEnv] of [
    ['node -r sidecar-exec/register', ['-r', 'sidecar-exec/register'], {}],
    ['node --import sidecar-exec/register', ['--import', 'sidecar-exec/register'], {}],
    ['NODE_OPTIONS=--require=sidecar-exec/register', [], { NODE_OPTIONS: '--require=sidecar-exec/register' }],
  ]) {
    it(`${entry}: routes spawn, exec and execFile of listed commands; others and fork stay local`, async function () {
      const { server, env } = await layout();
      const result = await runNode([...args, CLIENT, 'calls'], { env: { ...env, ...extraEnv } });
      expect(report(result)).to.deep.equal(EXPECTED_CALLS);
      expect(result.stderr).to.equal('');
      const ran = server.events('request').map((event) => event.argv.join(' '));
      expect(ran).to.have.members(['greet spawn', '/bin/sh -c GREETING=1 greet "exec d"', 'greet execFile',
        '/bin/sh -c greet promisified']);
    });
  }

  it('reaches ES module named imports of node:child_process (syncBuiltinESMExports), with -r and with --import', async function () {
    const { env } = await layout();
    for (const args of [['-r', 'sidecar-exec/register'], ['--import', 'sidecar-exec/register']]) {
      const result = await runNode([...args, ESM_CLIENT], { env });
      expect(report(result), args.join(' ')).to.deep.equal({
        kind: 'RemoteChildProcess', stdout: 'greet esm', code: 0, viaFile: 'greet named execFile', sameAsDefault: true,
      });
    }
  });

  it('makes process.kill(child.pid) of a routed child signal the remote program; other pids reach the original', async function () {
    const { server, dir, env } = await layout();
    const killLog = path.join(dir, 'kills');
    fs.writeFileSync(killLog, '');
    const result = await runNode(['-r', GUARD, '-r', 'sidecar-exec/register', CLIENT, 'kill'],
      { env: { ...env, NAP_PIDFILE: path.join(dir, 'napper.pid'), KILL_GUARD_LOG: killLog } });
    const out = report(result);
    expect(out.remote).to.equal(true);
    expect(out.napped).to.deep.equal({ stdout: 'napping', code: null, signal: 'SIGTERM' });
    // Once the routed child exited its pid is no longer routed: the original answers.
    expect(out.gone).to.equal('ESRCH');
    expect(out.slept).to.deep.equal({ stdout: '', code: null, signal: 'SIGTERM' });
    const reachedOriginal = fs.readFileSync(killLog, 'utf8').trim().split('\n').map(Number);
    expect(reachedOriginal).to.deep.equal([out.localPid, out.remotePid]);
    const exit = await server.waitEvent((event) => event.event === 'exit' && event.pid === out.remotePid);
    expect(exit).to.include({ signal: 'SIGTERM', reason: 'client-signal' });
  });

  describe('configuration that cannot be followed: one line on stderr, everything local', function () {
    const cases = [
      ['SIDECAR_COMMANDS with an empty entry', { SIDECAR_COMMANDS: 'greet,,napper' },
        'sidecar-exec/register: SIDECAR_COMMANDS has an empty entry ("greet,,napper"), so no command is routed; everything runs locally.'],
      ['no socket', { SIDECAR_SOCKET: undefined },
        'sidecar-exec/register: SIDECAR_SOCKET is not set, so no command is routed; everything runs locally.'],
      ['an empty list', { SIDECAR_COMMANDS: '' },
        'sidecar-exec/register: SIDECAR_COMMANDS is not set or empty, so no command is routed; everything runs locally.'],
    ];
    for (const [name, change, line] of cases) {
      it(name, async function () {
        const { server, env } = await layout();
        const localBin = tempDir('sidecar-local-bin-');
        try {
          fs.writeFileSync(path.join(localBin, 'greet'), '#!/bin/sh\necho "local greet $*"\n', { mode: 0o755 });
          const changed = { ...env, ...change, PATH: `${localBin}:${env.PATH}` };
          for (const [key, value] of Object.entries(changed)) if (value === undefined) delete changed[key];
          const result = await runNode(['-e', 'require("node:child_process").execFile("greet", ["x"], (e, out) => process.stdout.write(out))',
            '-r', 'sidecar-exec/register'], { env: changed });
          expect(result.code).to.equal(0);
          expect(result.stderr).to.equal(`${line}\n`);
          expect(result.stdout).to.equal('local greet x\n');
          expect(server.events('request')).to.deep.equal([]);
        } finally {
          fs.rmSync(localBin, { recursive: true, force: true });
        }
      });
    }
  });

  it('fails a routed command with ERR_SIDECAR_CONNECT while the server is down, never running the local program', async function () {
    const { server, dir, env } = await layout();
    await server.kill();
    servers.forget(server);
    await server.stop();
    const localBin = tempDir('sidecar-local-bin-');
    const marker = path.join(dir, 'local-ran');
    try {
      fs.writeFileSync(path.join(localBin, 'greet'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
      const result = await runNode(['-r', 'sidecar-exec/register', CLIENT, 'down'], { env: { ...env, PATH: `${localBin}:${env.PATH}` } });
      expect(report(result)).to.deep.equal({ spawn: 'ERR_SIDECAR_CONNECT', exec: 'ERR_SIDECAR_CONNECT', execFile: 'ERR_SIDECAR_CONNECT' });
      expect(fs.existsSync(marker)).to.equal(false);
    } finally {
      fs.rmSync(localBin, { recursive: true, force: true });
    }
  });

  it('logs each routing decision under NODE_DEBUG=sidecar, and nothing without it', async function () {
    const { env } = await layout();
    // exec calls child_process's own execFile, a wrapper too: one decision, one line.
    const script = 'const cp = require("node:child_process"); cp.spawn("greet", ["a"]).on("close", () => cp.exec("FOO=1 true", () => {}))';
    const quiet = await runNode(['-r', 'sidecar-exec/register', '-e', script], { env });
    expect(quiet.stderr).to.equal('');
    const debug = await runNode(['-r', 'sidecar-exec/register', '-e', script], { env: { ...env, NODE_DEBUG: 'sidecar' } });
    const lines = debug.stderr.trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^SIDECAR \d+: register: spawn "greet" \["greet"\] -> routed to \S+sock$/);
    expect(lines[1]).to.match(/^SIDECAR \d+: register: exec "FOO=1 true" \["sh","true"\] -> local$/);
  });

  it('routes spawnSync, execSync and execFileSync of listed commands; others stay local', async function () {
    const { server, env } = await layout();
    const script = 'const cp = require("node:child_process"); const o = { encoding: "utf8" };'
      + 'process.stdout.write(JSON.stringify({'
      + ' spawnSync: cp.spawnSync("greet", ["spawnSync"], o).stdout.trim(),'
      + ' execSync: cp.execSync("greet execSync", o).trim(),'
      + ' execFileSync: cp.execFileSync("greet", ["execFileSync"], o).trim(),'
      + ' local: cp.spawnSync("true").status }))';
    const result = await runNode(['-r', 'sidecar-exec/register', '-e', script], { env });
    expect(result.stderr).to.equal('');
    expect(JSON.parse(result.stdout)).to.deep.equal({
      spawnSync: 'greet spawnSync', execSync: 'greet execSync', execFileSync: 'greet execFileSync', local: 0,
    });
    expect(server.events('request').map((event) => event.argv.join(' '))).to.have.members([
      'greet spawnSync', '/bin/sh -c greet execSync', 'greet execFileSync',
    ]);
  });
});
