'use strict';
// Real tools, unmodified, against a server whose tools exist only in its own
// mount namespace (test/helpers/containers.js): each runs a command and
// sees its output and exit code, and stops a long-running one, whose remote
// program the server then reaps. Most reach the server through the register
// preload; zx and concurrently also with sidecar-exec's functions handed to
// them. A tool that ran the program here would fail: here, it does not exist.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useToolServers, startToolServer, clientEnv, runNode, report, tempDir, fixture, pollUntil, PACKAGE_ROOT,
} = require('../helpers');

const TOOL_CLIENT = fixture('register/tool-client.mjs');
const ROUTED = 'greet,fail-with,napper';

describe('real tools through a sidecar server', function () {
  this.timeout(60000);
  const servers = useToolServers();

  /** Runs tool-client.mjs for `tool` and checks its report and the server's side. */
  async function checkTool(tool, { preload = true, commands = ROUTED } = {}) {
    const { server, toolDir, dir } = await startToolServer(servers);
    const pidFile = path.join(dir, 'napper.pid');
    const env = clientEnv({
      PATH: `${toolDir}:${process.env.PATH}`,
      SIDECAR_SOCKET: server.path,
      NAP_PIDFILE: pidFile,
      ...(preload ? { SIDECAR_COMMANDS: commands } : {}),
    });
    const result = await runNode([...(preload ? ['-r', 'sidecar-exec/register'] : []), TOOL_CLIENT, tool], { env });
    const { greet, fail, stopped } = report(result);
    expect(greet).to.deep.equal({ stdout: 'greet hello', code: 0 });
    expect(fail.code).to.equal(3);
    // A program run by a shell may report its own child's SIGTERM: tree-kill
    // signals the shell and its children, in an order of its own.
    const TERMINATED = [{ code: null, signal: 'SIGTERM' }, { code: 128 + 15, signal: null }];
    expect(stopped).to.be.deep.oneOf(TERMINATED);
    // napper runs as the program, or under its shell in the program's process group, which the server signals.
    const napperPid = Number(fs.readFileSync(pidFile, 'utf8'));
    await pollUntil(() => !fs.existsSync(`/proc/${napperPid}`), { timeout: 10000 });
    const exit = await server.waitEvent((event) => event.event === 'exit' && event.argv.some((arg) => /napper/.test(arg)));
    expect({ code: exit.exitCode, signal: exit.signal }).to.be.deep.oneOf(TERMINATED);
    if (exit.argv[0] === 'napper') expect(exit.pid).to.equal(napperPid);
    const ran = server.events('spawn').map((event) => event.argv.join(' '));
    for (const tool of ['greet', 'fail-with', 'napper']) expect(ran.some((line) => line.includes(tool)), tool).to.equal(true);
    return { server, result };
  }

  it('execa (through register; it imports spawn from node:child_process as an ES module)', async function () {
    await checkTool('execa');
  });

  it('cross-spawn (through register)', async function () {
    await checkTool('cross-spawn');
  });

  it('tinyexec (through register, ES module named import)', async function () {
    await checkTool('tinyexec');
  });

  it('zx with $.spawn and $.kill set to remoteSpawn and remoteKill', async function () {
    await checkTool('zx-injected', { preload: false });
  });

  it('zx through register: its commands are bash lines (bash listed), its pid-based $.kill reaches the server', async function () {
    // zx prefixes each command with `set -euo pipefail;`, so the shell decides.
    const { server } = await checkTool('zx', { commands: `${ROUTED},bash` });
    expect(server.events('spawn').every((event) => /bash$/.test(event.argv[0]))).to.equal(true);
  });

  it('concurrently: createConcurrently with spawn and kill set to remoteSpawn and remoteKill', async function () {
    await checkTool('concurrently-injected', { preload: false });
  });

  it('concurrently through register: `/bin/sh -c LINE` decided by LINE, tree-kill\'s process.kill reaches the server', async function () {
    await checkTool('concurrently');
  });

  describe('npm-run-all2', function () {
    const RUN_P = path.join(PACKAGE_ROOT, 'node_modules', 'npm-run-all2', 'bin', 'run-p', 'index.js');
    const RUN_S = path.join(PACKAGE_ROOT, 'node_modules', 'npm-run-all2', 'bin', 'run-s', 'index.js');

    /** A project whose npm scripts call the server's tools, with sidecar-exec installed in it. */
    function project(dir) {
      const root = path.join(dir, 'project');
      fs.mkdirSync(path.join(root, 'node_modules'), { recursive: true });
      fs.symlinkSync(PACKAGE_ROOT, path.join(root, 'node_modules', 'sidecar-exec'));
      fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({
        name: 'project',
        private: true,
        scripts: {
          greet: 'greet hello',
          fail: 'fail-with 3',
          nap: 'napper',
          // Fails once the napper runs (its pid file is there), so that
          // run-p has a running task to kill.
          'fail-later': 'while [ ! -e "$NAP_PIDFILE" ]; do sleep 0.05; done; fail-with 3',
        },
      }));
      return root;
    }

    it('runs npm scripts on the server (NODE_OPTIONS reaches npm), and kill-on-failure stops the remote program', async function () {
      const { server, toolDir, dir } = await startToolServer(servers);
      const cwd = project(dir);
      const pidFile = path.join(dir, 'napper.pid');
      const env = clientEnv({
        PATH: `${toolDir}:${process.env.PATH}`,
        SIDECAR_SOCKET: server.path,
        SIDECAR_COMMANDS: ROUTED,
        NODE_OPTIONS: '--require=sidecar-exec/register',
        NAP_PIDFILE: pidFile,
        npm_config_update_notifier: 'false',
        npm_config_cache: path.join(dir, 'npm-cache'),
      });

      const greet = await runNode([RUN_S, 'greet'], { env, cwd });
      expect(greet.code, greet.stderr).to.equal(0);
      expect(greet.stdout).to.include('greet hello');

      const failed = await runNode([RUN_S, 'fail'], { env, cwd });
      expect(failed.code).to.not.equal(0);
      expect(failed.stderr).to.include('failing with 3');
      const failedExit = server.events('exit').find((event) => event.argv.join(' ') === 'sh -c fail-with 3');
      expect(failedExit.exitCode).to.equal(3);

      // fail-later fails once nap runs; run-p then kills nap's npm.
      const result = await runNode([RUN_P, 'nap', 'fail-later'], { env, cwd });
      expect(result.code, result.stderr).to.not.equal(0);
      const napperPid = Number(fs.readFileSync(pidFile, 'utf8'));
      await pollUntil(() => !fs.existsSync(`/proc/${napperPid}`), { timeout: 10000 });
      const exit = await server.waitEvent((event) => event.event === 'exit' && event.argv.join(' ') === 'sh -c napper');
      expect(exit.signal).to.not.equal(null);
      const ran = server.events('spawn').map((event) => event.argv.join(' '));
      expect(ran).to.include.members(['sh -c greet hello', 'sh -c fail-with 3', 'sh -c napper']);
    });
  });

  describe('simple-git, in a client whose own git cannot run', function () {
    it('runs git commands on the server, reports a failing one, and aborts a long one', async function () {
      const { server, toolDir, dir } = await startToolServer(servers);
      const repo = tempDir('sidecar-git-');
      const pidFile = path.join(dir, 'napper.pid');
      try {
        const env = clientEnv({
          PATH: `${toolDir}:${process.env.PATH}`,
          SIDECAR_SOCKET: server.path,
          SIDECAR_COMMANDS: `${ROUTED},git`,
          NAP_PIDFILE: pidFile,
          GIT_CONFIG_NOSYSTEM: '1',
          HOME: dir,
        });
        // The client's namespace has no git: its binary is hidden behind an empty file.
        const hideGit = ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c',
          'mount --bind /dev/null "$(command -v git)" && exec "$@"', 'sh'];
        const result = await runNode(['-r', 'sidecar-exec/register', fixture('register/git-client.js'), repo], { env, wrap: hideGit });
        const out = report(result);
        expect(out.localGit).to.be.oneOf([126, 127]); // sh: cannot execute, or not found
        expect(out.log).to.deep.equal(['second', 'first']);
        expect(out.status.current).to.equal('main');
        expect(out.failure).to.match(/unknown revision|bad revision|ambiguous argument/);
        // simple-git turns the exit status into its error; the server saw it.
        const show = server.events('exit').find((event) => event.argv.join(' ') === 'git show no-such-revision');
        expect(show.exitCode).to.equal(128);
        expect(out.aborted).to.equal(true);
        const napperPid = Number(fs.readFileSync(pidFile, 'utf8'));
        // napper runs under git's alias, in git's process group, which the server signals.
        await pollUntil(() => !fs.existsSync(`/proc/${napperPid}`), { timeout: 10000 });
        expect(server.events('spawn').filter((event) => event.argv[0] === 'git').length).to.be.greaterThan(4);
      } finally {
        fs.rmSync(repo, { recursive: true, force: true });
      }
    });
  });
});
