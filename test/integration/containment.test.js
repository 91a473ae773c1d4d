'use strict';
// Whole trees: a program's setsid'd and double-forked descendants end with
// it on a client's SIGKILL, kill() and maxRuntime, in both containments
// ('cgroup' and the 'subreaper' fallback); detached programs outlive their
// caller; a server that is PID 1 of its namespace reaps orphans and takes
// everything with it when SIGKILLed.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../..');
const { ownCgroupDirectory } = require('../../dist/server/cgroup');
const { getBinding } = require('../../dist/binding');
const {
  startServer, fixture, tempDir, readReport, exited, allProcesses, pollUntil, listenHere, closeHere, sleep, fdTable, run,
} = require('../helpers');

/** Whether this process may make a cgroup below its own (root, with cgroup v2 mounted writable). */
function cgroupWritable() {
  const base = ownCgroupDirectory();
  if (base === undefined) return false;
  const probe = path.join(base, `sidecar-exec-test.${process.pid}`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}
const CGROUP = cgroupWritable();

/** Unique sleep durations per tree, so that its sleeps can be told from any other on the machine. */
let nextMarker = 7000 + (process.pid % 1000) * 10;

/** `sh -c 'setsid sleep A & (sleep B &); sleep C'` with fresh A, B, C. */
function treeScript() {
  const [a, b, c] = [nextMarker++, nextMarker++, nextMarker++];
  return { markers: [a, b, c], script: `setsid sleep ${a} & (sleep ${b} &); sleep ${c}` };
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Live sleeps of these markers. */
function sleepsOf(markers) {
  const wanted = new Set(markers.map(String));
  return allProcesses().filter((p) => p.state !== 'Z' && p.comm === 'sleep' && wanted.has(cmdline(p.pid)[1]));
}

function killAll(markers) {
  for (const p of sleepsOf(markers)) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function startClient(spec) {
  return childProcess.spawn(process.execPath, [fixture('client.js'), JSON.stringify(spec)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

for (const containment of ['cgroup', 'subreaper']) {
  describe(`containment '${containment}': every descendant ends with its program`, function () {
    this.timeout(20000);
    let server;
    let dir;
    const used = [];

    beforeEach(async function () {
      if (containment === 'cgroup' && !CGROUP) this.skip(); // no writable cgroup v2 here
      dir = tempDir();
      server = await startServer({ serverOptions: { containment, maxRuntime: this.currentTest.title.includes('maxRuntime') ? 1000 : 0 } });
    });

    afterEach(async function () {
      if (server === undefined) return;
      for (const markers of used.splice(0)) killAll(markers);
      const leaks = await server.leaks();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      server = undefined;
      expect(leaks).to.deep.equal([]);
    });

    async function startTree() {
      const tree = treeScript();
      used.push(tree.markers);
      return tree;
    }

    it('the server reports the containment it uses', async function () {
      expect((await server.stats()).containment).to.equal(containment);
    });

    it('a client SIGKILLed: every sleep is gone within 2 s', async function () {
      const { markers, script } = await startTree();
      const report = path.join(dir, 'report');
      const client = startClient({ connect: server.path, report, command: 'sh', args: ['-c', script] });
      expect(await pollUntil(() => sleepsOf(markers).length === 3, { timeout: 5000 }), 'the three sleeps did not start').to.equal(true);
      client.kill('SIGKILL');
      await exited(client);
      const gone = await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 2000 });
      expect(gone, `left: ${sleepsOf(markers).map((p) => `${p.pid} sid ${p.sid}`).join(', ')}`).to.equal(true);
      expect(readReport(report).some((line) => line.event === 'spawn')).to.equal(true);
    });

    it('kill(): every sleep is gone within 2 s', async function () {
      const { markers, script } = await startTree();
      const child = remoteSpawn('sh', ['-c', script], { connect: server.path, stdio: 'ignore' });
      expect(await pollUntil(() => sleepsOf(markers).length === 3, { timeout: 5000 })).to.equal(true);
      const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal)));
      child.kill();
      const gone = await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 2000 });
      expect(gone, `left: ${sleepsOf(markers).map((p) => p.pid).join(', ')}`).to.equal(true);
      expect(await closed).to.equal('SIGTERM');
    });

    it('the programs after a SIGKILLed one run (a killed cgroup is never reused)', async function () {
      const killed = remoteSpawn('sleep', ['1000'], { connect: server.path, stdio: 'ignore' });
      await new Promise((resolve) => killed.on('spawn', resolve));
      killed.kill('SIGKILL');
      expect(await new Promise((resolve) => killed.on('close', (code, signal) => resolve(signal)))).to.equal('SIGKILL');
      for (let i = 0; i < 3; i++) {
        const child = remoteSpawn('true', [], { connect: server.path, stdio: 'ignore' });
        expect(await new Promise((resolve) => child.on('close', (code, signal) => resolve([code, signal])))).to.deep.equal([0, null]);
      }
    });

    it('maxRuntime: every sleep is gone within 2 s of it', async function () {
      const { markers, script } = await startTree();
      const child = remoteSpawn('sh', ['-c', script], { connect: server.path, stdio: 'ignore' });
      expect(await pollUntil(() => sleepsOf(markers).length === 3, { timeout: 5000 })).to.equal(true);
      const closed = new Promise((resolve) => child.on('close', () => resolve(child.exitReason)));
      // maxRuntime is 1000 ms from the start: 3 s covers it and the 2 s.
      const gone = await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 3000, interval: 50 });
      expect(gone, `left: ${sleepsOf(markers).map((p) => p.pid).join(', ')}`).to.equal(true);
      expect(await closed).to.equal('maxRuntime');
    });
  });
}

describe('containment: what a program leaves behind (cgroup)', function () {
  this.timeout(20000);

  it('runs on after its program exits, as locally, and close() ends it', async function () {
    if (!CGROUP) this.skip();
    const dir = tempDir();
    const server = await listenHere(path.join(dir, 'sock'), { containment: 'cgroup' });
    const { markers } = treeScript();
    try {
      const child = remoteSpawn('sh', ['-c', `setsid sleep ${markers[0]} > /dev/null 2>&1 &`], { connect: server.address(), stdio: 'ignore' });
      expect(await new Promise((resolve) => child.on('exit', resolve))).to.equal(0);
      expect(await pollUntil(() => sleepsOf(markers).length === 1, { timeout: 2000 })).to.equal(true);
      expect(await pollUntil(() => server.stats().lingering === 1, { timeout: 3000 })).to.equal(true);
      await closeHere(server);
      const gone = await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 2000 });
      expect(gone).to.equal(true);
    } finally {
      killAll(markers);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('containment: the cgroups a server holds open (cgroup)', function () {
  this.timeout(20000);
  let dir;
  let server;

  let parentDir;

  beforeEach(async function () {
    if (!CGROUP) this.skip();
    dir = tempDir();
    const before = new Set(fdTable(process.pid).values());
    server = await listenHere(path.join(dir, 'sock'), { containment: 'cgroup' });
    // This server's cgroups: below the parent of the cgroup it made ready at listen.
    const ready = [...fdTable(process.pid).values()].filter((link) => !before.has(link) && link.startsWith(`${ownCgroupDirectory()}/sidecar-exec.`));
    expect(ready, 'one cgroup made ready at listen').to.have.length(1);
    parentDir = path.dirname(ready[0]);
  });

  afterEach(async function () {
    if (server !== undefined) await closeHere(server);
    server = undefined;
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** This process's fds on directories of the server's cgroups. */
  const cgroupFds = () => [...fdTable(process.pid).values()].filter((link) => link.startsWith(`${parentDir}/`));
  const runHere = (file, args) => run(remoteSpawn(file, args, { connect: server.address(), stdio: ['ignore', 'pipe', 'ignore'] }));

  it('one at rest (the next program\'s), one per running program, none for what a program leaves running', async function () {
    expect(cgroupFds(), 'after listen').to.have.length(1);
    const sleeps = [1, 2, 3].map(() => remoteSpawn('sleep', ['30'], { connect: server.address(), stdio: 'ignore' }));
    await Promise.all(sleeps.map((child) => new Promise((resolve) => child.on('spawn', resolve))));
    expect(cgroupFds(), 'three programs running').to.have.length(3);
    for (const child of sleeps) child.kill('SIGKILL');
    await Promise.all(sleeps.map((child) => new Promise((resolve) => child.on('close', resolve))));
    expect(await pollUntil(() => cgroupFds().length === 1, { timeout: 3000 }), `at rest: ${cgroupFds().length}`).to.equal(true);

    const { markers } = treeScript();
    try {
      expect((await runHere('sh', ['-c', `setsid sleep ${markers[0]} > /dev/null 2>&1 &`])).closeArgs).to.deep.equal([0, null]);
      expect(await pollUntil(() => server.stats().lingering === 1, { timeout: 3000 })).to.equal(true);
      expect(cgroupFds(), 'a remainder lingers; the next program\'s cgroup is ready').to.have.length(1);
    } finally {
      killAll(markers);
    }
  });

  it('close() while a program runs: what it leaves behind as it ends on its own is killed, not left after \'close\'', async function () {
    const { markers } = treeScript();
    try {
      const child = remoteSpawn('sh', ['-c', `setsid sleep ${markers[0]} > /dev/null 2>&1 & sleep 0.5`], { connect: server.address(), stdio: 'ignore' });
      await new Promise((resolve) => child.on('spawn', resolve));
      expect(await pollUntil(() => sleepsOf(markers).length === 1, { timeout: 2000 })).to.equal(true);
      // A graceful close waits for the program; its exit is what closes the server.
      const closed = closeHere(server);
      server = undefined;
      expect(await new Promise((resolve) => child.on('exit', resolve))).to.equal(0);
      await closed;
      expect(cgroupFds(), 'cgroup fds after \'close\'').to.deep.equal([]);
      expect(await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 2000 }), 'the leftover sleep outlived the closed server').to.equal(true);
    } finally {
      killAll(markers);
    }
  });

  it('programs run one after another reuse one cgroup, read through its open directory', async function () {
    const places = [];
    for (let i = 0; i < 3; i++) places.push((await runHere('cat', ['/proc/self/cgroup'])).stdout.toString().match(/^0::(.*)$/m)?.[1]);
    expect(places[0]).to.match(/\/sidecar-exec\.\d+\.[0-9a-f]+\/\d+$/);
    expect(places).to.deep.equal([places[0], places[0], places[0]]);
  });

  it('readFileAt reads a file of an open directory, and only a name in it', function () {
    const binding = getBinding();
    // The ready cgroup's parent, the server's own cgroup directory.
    const fd = fs.openSync(path.dirname(cgroupFds()[0]), 'r');
    try {
      expect(binding.readFileAt(fd, 'cgroup.events')).to.match(/^populated [01]$/m);
      for (const name of ['../cgroup.events', 'a/b', '', '.', '..']) {
        expect(() => binding.readFileAt(fd, name), name).to.throw(TypeError, /a file name, not a path/);
      }
      expect(() => binding.readFileAt(fd, 'no-such-file')).to.throw().with.property('code', 'ENOENT');
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('detached: true', function () {
  this.timeout(20000);
  let dir;

  beforeEach(function () {
    dir = tempDir();
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a detached, unref\'d program finishes after its caller has exited', async function () {
    const server = await startServer();
    try {
      const done = path.join(dir, 'done');
      const report = path.join(dir, 'report');
      const client = startClient({
        connect: server.path, report, command: 'sh', args: ['-c', `sleep 1; echo finished > ${done}`],
        options: { detached: true, stdio: 'ignore' }, unrefOnSpawn: true,
      });
      expect(await exited(client)).to.deep.equal({ code: 0, signal: null });
      expect(readReport(report).map((line) => line.event)).to.include('spawn');
      expect(fs.existsSync(done), 'finished before its caller exited: the test proves nothing').to.equal(false);
      expect((await server.stats()).detached).to.equal(1);
      expect(await pollUntil(() => fs.existsSync(done), { timeout: 5000, interval: 50 })).to.equal(true);
      expect(fs.readFileSync(done, 'utf8')).to.equal('finished\n');
      const exit = await server.waitEvent((event) => event.event === 'exit');
      expect(exit).to.include({ exitCode: 0, reason: 'exit', detached: true });
      expect((await server.stats()).detached).to.equal(0);
      expect(await server.leaks()).to.deep.equal([]);
    } finally {
      await server.stop();
    }
  });

  it('a program that is not detached still dies with its caller', async function () {
    const server = await startServer();
    try {
      const done = path.join(dir, 'done');
      const client = startClient({
        connect: server.path, report: path.join(dir, 'report'), command: 'sh', args: ['-c', `sleep 1; echo finished > ${done}`],
        options: { stdio: 'ignore' }, unrefOnSpawn: true,
      });
      await exited(client);
      const exit = await server.waitEvent((event) => event.event === 'exit');
      expect(exit).to.include({ reason: 'disconnect', detached: false });
      await sleep(1500);
      expect(fs.existsSync(done)).to.equal(false);
    } finally {
      await server.stop();
    }
  });

  it('close() ends a detached program whose caller has gone', async function () {
    const server = await listenHere(path.join(dir, 'sock'));
    const { markers } = treeScript();
    try {
      const client = startClient({
        connect: server.address(), report: path.join(dir, 'report'), command: 'sleep', args: [String(markers[0])],
        options: { detached: true, stdio: 'ignore' }, unrefOnSpawn: true,
      });
      await exited(client);
      expect(sleepsOf(markers).length).to.equal(1);
      expect(server.stats().detached).to.equal(1);
      const exit = new Promise((resolve) => server.once('exit', resolve));
      await closeHere(server);
      expect(await exit).to.include({ reason: 'close', signal: 'SIGTERM', detached: true });
      expect(sleepsOf(markers).length).to.equal(0);
    } finally {
      killAll(markers);
    }
  });

  it('allowDetached: false refuses them with ERR_SIDECAR_DETACHED_REFUSED', async function () {
    const server = await listenHere(path.join(dir, 'sock'), { allowDetached: false });
    try {
      const denied = new Promise((resolve) => server.once('denied', resolve));
      const child = remoteSpawn('true', [], { connect: server.address(), detached: true });
      const error = await new Promise((resolve) => child.on('error', resolve));
      expect(error.code).to.equal('ERR_SIDECAR_DETACHED_REFUSED');
      expect(error.message).to.match(/detached/);
      expect(error.serverSyscall).to.equal('detached');
      expect((await denied).reason).to.match(/allowDetached/);
      const ran = remoteSpawn('true', [], { connect: server.address() });
      expect(await new Promise((resolve) => ran.on('exit', resolve))).to.equal(0);
    } finally {
      await closeHere(server);
    }
  });
});

/** Removes the cgroups a SIGKILLed server left behind (empty once its namespace is gone): children first. */
function removeLeftCgroups(before) {
  const base = ownCgroupDirectory();
  if (base === undefined) return;
  for (const name of fs.readdirSync(base).filter((entry) => entry.startsWith('sidecar-exec.1.') && !before.includes(entry))) {
    const parent = path.join(base, name);
    for (const child of fs.readdirSync(parent, { withFileTypes: true })) {
      if (child.isDirectory()) pollRmdir(path.join(parent, child.name));
    }
    pollRmdir(parent);
  }
}

function pollRmdir(dir) {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch {
      childProcess.execFileSync('sleep', ['0.02']);
    }
  }
}

describe('a server that is PID 1 of its namespace', function () {
  this.timeout(30000);

  for (const containment of ['cgroup', 'subreaper']) {
    it(`reaps every orphan, and its SIGKILL ends everything ('${containment}')`, async function () {
      if (containment === 'cgroup' && !CGROUP) this.skip();
      const dir = tempDir();
      const sock = path.join(dir, 'sock');
      const unshare = childProcess.spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, fixture('server.js'), sock, JSON.stringify({ containment })], { stdio: ['ignore', 'pipe', 'inherit'] });
      const { markers } = treeScript();
      const base = ownCgroupDirectory();
      const before = base === undefined ? [] : fs.readdirSync(base);
      try {
        await new Promise((resolve, reject) => {
          unshare.stdout.on('data', (chunk) => { if (String(chunk).includes('listening')) resolve(); });
          unshare.on('exit', (code) => reject(new Error(`unshare exited ${code}`)));
        });
        const serverPid = await pollUntil(() => allProcesses().find((p) => p.ppid === unshare.pid)?.pid, { timeout: 2000 });
        // 50 programs that each leave an orphan behind, which exits after them.
        for (let i = 0; i < 50; i++) {
          const child = remoteSpawn('sh', ['-c', '(sleep 0.2; true) & exit 0'], { connect: sock, stdio: 'ignore' });
          await new Promise((resolve) => child.on('close', resolve));
        }
        // Orphans exit 0.2 s after, and a zombie is reaped at the second sweep that sees it (1 s apart).
        const clean = await pollUntil(() => allProcesses().every((p) => !(p.ppid === serverPid && p.state === 'Z')), { timeout: 5000, interval: 100 });
        expect(clean, `zombies left: ${allProcesses().filter((p) => p.ppid === serverPid && p.state === 'Z').length}`).to.equal(true);
        // What still runs in the namespace dies with its PID 1.
        const child = remoteSpawn('sh', ['-c', `setsid sleep ${markers[0]} & (sleep ${markers[1]} &); sleep ${markers[2]}`], { connect: sock, stdio: 'ignore' });
        child.on('error', () => {});
        expect(await pollUntil(() => sleepsOf(markers).length === 3, { timeout: 5000 })).to.equal(true);
        process.kill(serverPid, 'SIGKILL');
        expect(await pollUntil(() => sleepsOf(markers).length === 0, { timeout: 2000 })).to.equal(true);
      } finally {
        killAll(markers);
        unshare.kill('SIGKILL');
        await exited(unshare);
        removeLeftCgroups(before);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
