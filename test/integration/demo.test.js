'use strict';
// `npm start` (examples/embed-server/demo.js): a server process and a client
// process; as root with unshare(1) the server has a mount namespace of its
// own whose tool the client cannot see. It must say what crossed (argv, cwd,
// exit code, a file in the workspace), end with the two commands to run by
// hand, exit 0, and leave nothing: no file in $TMPDIR, no process, no mount.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { expect } = require('chai');
const { allProcesses, isAlive, otherUidPath, otherUidReady, NOBODY } = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Runs a command to its end; resolves with { code, signal, stdout, stderr }. */
function runToEnd(argv, options) {
  return new Promise((resolve) => {
    const child = childProcess.spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Whether this process could make a mount namespace (as the demo decides). */
function canIsolate() {
  return process.getuid() === 0 && childProcess.spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' }).status === 0;
}

/**
 * Checks the demo's story and that it left nothing behind: its temporary
 * directory, any process naming it, any mount of it, the remote program.
 */
function expectCleanRun(result, tmpBefore) {
  const { stdout } = result;
  expect(result.code, `${stdout}\n${result.stderr}`).to.equal(0);
  const socketPath = /^ {2}socket +(\S+)$/m.exec(stdout)?.[1];
  expect(socketPath, stdout).to.be.a('string');
  const demoDir = path.dirname(socketPath);
  expect(path.dirname(demoDir)).to.equal(fs.realpathSync(os.tmpdir()));
  const workspace = path.join(demoDir, 'workspace');

  expect(stdout).to.include("client: run greet 'hello world' --level=3 in the workspace");
  expect(stdout).to.match(/^greet: hello from pid \d+ on the server's side, with 2 arguments$/m);
  expect(stdout).to.include("  argv       greet got 'hello world' --level=3\n");
  expect(stdout).to.include(`  cwd        it ran in ${workspace}\n`);
  expect(stdout).to.include("  exit code  3, the program's own, back in the client\n");
  expect(stdout).to.match(/^ {2}file {7}greet-report\.txt, written by greet in the workspace, read here \(pid \d+, mnt:\[\d+\]\)$/m);
  expect(stdout).to.match(/^ {2}server log time=\S+ event=exit uid=\d+ client_pid=\d+ program=greet args=2 pid=\d+ code=3 reason=exit ms=\d+$/m);
  expect(stdout).to.match(/^ {2}metrics {4}http:\/\/127\.0\.0\.1:\d+\/metrics says sidecar_programs_spawned_total 1$/m);
  expect(stdout).to.include(`cleaned up: the server exited 0 on SIGTERM, removing its socket; ${demoDir} is removed\n`);
  expect(stdout).to.not.include('unexpected');
  const handSocket = path.join(os.tmpdir(), 'sidecar.sock');
  expect(stdout.endsWith(`next, by hand, in two terminals:\n  npx sidecar start -v --print-ready ${handSocket}\n`
    + `  npx sidecar exec --connect ${handSocket} -- uname -a\n`), stdout).to.equal(true);
  // `npx sidecar` names the package's own bin.
  expect(PACKAGE.bin).to.have.property('sidecar');

  expect(fs.existsSync(demoDir), `${demoDir} is removed`).to.equal(false);
  expect(fs.readdirSync(os.tmpdir()).filter((name) => !tmpBefore.includes(name))).to.deep.equal([]);
  const left = allProcesses().filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(demoDir);
    } catch {
      return false; // gone meanwhile
    }
  });
  expect(left.map((p) => `${p.pid} ${p.comm}`), 'processes naming the demo directory').to.deep.equal([]);
  const remotePid = Number(/^greet: hello from pid (\d+)/m.exec(stdout)[1]);
  expect(isAlive(remotePid), 'the remote program is gone').to.equal(false);
  expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.include(demoDir);
  return { demoDir };
}

describe('npm start (examples/embed-server/demo.js)', function () {
  this.timeout(60000);

  it('runs `npm start`: server and client in two processes, what crossed, the next commands; exit 0, nothing left', async function () {
    expect(PACKAGE.scripts.start).to.equal('node examples/embed-server/demo.js');
    const tmpBefore = fs.readdirSync(os.tmpdir());
    const result = await runToEnd(['npm', 'start'], {
      cwd: ROOT, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
    expectCleanRun(result, tmpBefore);
    const { stdout } = result;
    expect(stdout).to.match(/^> sidecar-exec@\S+ start$/m);
    if (canIsolate()) {
      expect(stdout).to.match(/^ {2}server {5}pid \d+, in a mount namespace of its own; its greet is in \S+\/tools$/m);
      expect(stdout).to.match(/^ {2}client {5}pid \d+ \(this one\), where \S+\/tools is empty$/m);
      const [, theirs, ours] = /^ {2}namespace {2}greet ran in (mnt:\[\d+\]); this client is in (mnt:\[\d+\])$/m.exec(stdout);
      expect(theirs).to.not.equal(ours);
      expect(ours).to.equal(fs.readlinkSync('/proc/self/ns/mnt'));
    } else {
      expect(stdout).to.include('a second process (as root with unshare(1)');
    }
  });

  it('as a user who is not root: two plain processes, the same story, exit 0, nothing left', async function () {
    const ready = otherUidReady({ setpriv: false });
    if (ready !== true) {
      console.log(`      (${ready}: cannot run the demo as another user; skipping)`);
      this.skip();
    }
    const tmpBefore = fs.readdirSync(os.tmpdir());
    const result = await runToEnd([process.execPath, otherUidPath('examples/embed-server/demo.js')], {
      uid: NOBODY, gid: NOBODY, cwd: '/',
    });
    expectCleanRun(result, tmpBefore);
    expect(result.stdout).to.include('a second process (as root with unshare(1), the server would get a mount namespace of its own)');
    expect(result.stdout).to.not.match(/^ {2}namespace/m);
  });
});
