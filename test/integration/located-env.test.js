'use strict';
// Where the program runs decides what locates things, in two "containers":
// the server in a mount namespace of its own with a tool directory that the
// client does not have (test/helpers/namespace.js), default options on both
// sides. The caller's PATH reaches the server, is made to fit there, and
// finds the server's tools; the program's own lookups (make -> $(CC)) use the
// same PATH; HOME, TMPDIR and USER name what exists there.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn, createClient } = require('../..');
const {
  run, runCommand, useServers, useFdCheck, twoContainers, canUnshare, tempDir,
} = require('../helpers');

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'sidecar.js');
const NATIVE_CLIENT = path.join(__dirname, '..', '..', 'build', 'Release', 'sidecar-client');

/** A C compiler stand-in: `mycc -o OUT SRC` writes what it built from where. */
const MYCC = '#!/bin/sh\n[ "$1" = -o ] || exit 2\nprintf "built by mycc from %s\\n" "$3" > "$2"\n';
const MYTOOL = '#!/bin/sh\necho "mytool on the server, FOO=${FOO-unset}"\n';

function lines(buffer) {
  return buffer.toString().split('\n').filter((line) => line !== '');
}

describe('where the program runs decides what locates things (server in its own mount namespace)', function () {
  this.timeout(30000);
  const servers = useServers();
  useFdCheck();
  let layout;
  let server;

  before(function () {
    if (!canUnshare()) this.skip(); // needs root: unshare --mount and mount -t tmpfs
  });

  /** Starts a server in the layout's namespace: tools only it has in <server>/bin, its PATH = that, then the usual. */
  async function startServer({ serverOptions = {}, env = {} } = {}) {
    layout = twoContainers();
    layout.serverFile('bin/mytool', MYTOOL, 0o755);
    layout.serverFile('bin/mycc', MYCC, 0o755);
    fs.mkdirSync(path.join(layout.root, 'staging', 'home'), { mode: 0o755 });
    fs.mkdirSync(path.join(layout.root, 'staging', 'tmp'), { mode: 0o755 });
    server = await servers.start({
      prefix: layout.prefix(),
      serverOptions,
      env: {
        PATH: `${layout.serverPath('bin')}:/usr/local/bin:/usr/bin:/bin`,
        HOME: layout.serverPath('home'),
        TMPDIR: layout.serverPath('tmp'),
        USER: 'server-user',
        LOGNAME: 'server-user',
        ...env,
      },
    });
    layout.released();
    return server;
  }

  afterEach(async function () {
    // The server (and with it its namespace) goes first: useServers' own afterEach ran already.
    layout?.remove();
    layout = undefined;
  });

  it('the layout is real: the client has no mytool, the server has', async function () {
    await startServer();
    expect(fs.existsSync(layout.serverPath('bin/mytool'))).to.equal(false);
    const local = childProcess.spawnSync('mytool', [], { env: { ...process.env, PATH: `${layout.serverPath('bin')}:${process.env.PATH}` } });
    expect(local.error?.code).to.equal('ENOENT');
  });

  it('remoteSpawn(\'mytool\') runs a tool only the server has, looked up in the caller\'s PATH made on the server', async function () {
    await startServer();
    const result = await run(remoteSpawn('mytool', [], { connect: server.path }));
    expect(result.error).to.equal(null);
    expect(lines(result.stdout)).to.deep.equal(['mytool on the server, FOO=unset']);
    expect(result.closeArgs).to.deep.equal([0, null]);
    const request = await server.waitEvent((event) => event.event === 'request');
    // The caller's entries that are directories there too, in order, then the server's own not listed.
    const callerEntries = process.env.PATH.split(':').filter((entry) => entry.startsWith('/') && fs.statSync(entry, { throwIfNoEntry: false })?.isDirectory());
    const serverEntries = [layout.serverPath('bin'), '/usr/local/bin', '/usr/bin', '/bin'];
    expect(request.searchPath).to.equal([...callerEntries, ...serverEntries.filter((entry) => !callerEntries.includes(entry))].join(':'));
  });

  it('a remote make whose Makefile says CC = mycc builds: the program\'s own lookups find the server\'s tools too', async function () {
    if (childProcess.spawnSync('make', ['--version'], { stdio: 'ignore' }).status !== 0) this.skip(); // .ci/run installs make
    await startServer();
    const work = tempDir('make-');
    try {
      fs.writeFileSync(path.join(work, 'hello.c'), 'int main(void) { return 0; }\n');
      fs.writeFileSync(path.join(work, 'Makefile'), 'CC = mycc\nhello: hello.c\n\t$(CC) -o $@ hello.c\n');
      const result = await run(remoteSpawn('make', ['-s'], { connect: server.path, cwd: work }));
      expect(result.stderr.toString()).to.equal('');
      expect(result.closeArgs).to.deep.equal([0, null]);
      expect(fs.readFileSync(path.join(work, 'hello'), 'utf8')).to.equal('built by mycc from hello.c\n');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('a tool that passes env: {...process.env, FOO: \'bar\'} to the spawn it was given runs the server\'s tool, which sees FOO=bar', async function () {
    await startServer();
    // What concurrently and others do with the spawn function they are handed.
    const someTool = ({ spawn }) => spawn('mytool', [], { env: { ...process.env, FOO: 'bar' } });
    const sidecar = createClient({ connect: server.path });
    const result = await run(someTool({ spawn: sidecar.spawn }));
    expect(lines(result.stdout)).to.deep.equal(['mytool on the server, FOO=bar']);
    expect(result.closeArgs).to.deep.equal([0, null]);
  });

  it('env: { ONLY: \'1\' } gives the program exactly ONLY=1 and still finds the server\'s tool (in the server\'s PATH)', async function () {
    layout = twoContainers();
    // env(1) under another name, only on the server: it prints exactly what execve gave it.
    layout.serverFile('bin/printenv-tool', fs.readFileSync(childProcess.execFileSync('sh', ['-c', 'command -v env']).toString().trim()), 0o755);
    server = await servers.start({ prefix: layout.prefix(), env: { PATH: `${layout.serverPath('bin')}:/usr/bin:/bin` } });
    layout.released();
    const result = await run(remoteSpawn('printenv-tool', [], { connect: server.path, env: { ONLY: '1' } }));
    expect(result.error).to.equal(null);
    expect(result.stdout.toString()).to.equal('ONLY=1\n');
    expect((await server.waitEvent((event) => event.event === 'request')).searchPath).to.equal(`${layout.serverPath('bin')}:/usr/bin:/bin`);
  });

  it('HOME and TMPDIR that exist only on the client, and USER, become the server\'s; those that exist on both stay the caller\'s', async function () {
    await startServer();
    const clientHome = layout.clientDir('home');
    const shared = tempDir('shared-tmp-');
    try {
      const env = { PATH: process.env.PATH, HOME: clientHome, TMPDIR: shared, USER: 'client-user', LOGNAME: 'client-user', SHELL: '/bin/sh', CC: 'cc' };
      const result = await run(remoteSpawn('sh', ['-c', 'echo "$HOME|$TMPDIR|$USER|$LOGNAME|$SHELL|$CC"'], { connect: server.path, env }));
      expect(lines(result.stdout)).to.deep.equal([`${layout.serverPath('home')}|${shared}|server-user|server-user|/bin/sh|cc`]);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  it('callerEnv: [\'PATH\'] on the client keeps the caller\'s PATH as given: the server-only tool is not found', async function () {
    await startServer();
    const kept = await run(remoteSpawn('mytool', [], { connect: server.path, callerEnv: ['PATH'] }));
    expect(kept.error?.code).to.equal('ENOENT');
    expect((await server.waitEvent((event) => event.event === 'request')).searchPath).to.equal(process.env.PATH);
  });

  it('callerEnv on the server (sidecar start --caller-env) keeps the caller\'s PATH for every request', async function () {
    await startServer({ serverOptions: { callerEnv: ['PATH'] } });
    const kept = await run(remoteSpawn('mytool', [], { connect: server.path }));
    expect(kept.error?.code).to.equal('ENOENT');
    const made = await run(remoteSpawn('mytool', [], { connect: server.path, env: { PATH: layout.serverPath('bin') } }));
    expect(lines(made.stdout)).to.deep.equal(['mytool on the server, FOO=unset']);
  });

  it('sidecar exec --env PATH finds the server\'s tool; with --caller-env PATH the caller\'s PATH stands (127, not found)', async function () {
    await startServer();
    const found = await runCommand(process.execPath, [CLI, 'exec', '--connect', server.path, '--env', 'PATH', '--', 'mytool']);
    expect(found.code, found.stderr).to.equal(0);
    expect(found.stdout).to.equal('mytool on the server, FOO=unset\n');
    const kept = await runCommand(process.execPath, [CLI, 'exec', '--connect', server.path, '--env', 'PATH', '--caller-env', 'PATH', '--', 'mytool']);
    expect(kept.code).to.equal(127);
    const bad = await runCommand(process.execPath, [CLI, 'exec', '--connect', server.path, '--caller-env', 'CC', '--', 'true']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.include('must name only PATH, HOME, TMPDIR, SHELL, USER, LOGNAME');
  });

  it('sidecar-client (the native client) takes --caller-env the same way', async function () {
    await startServer();
    const found = await runCommand(NATIVE_CLIENT, ['--connect', server.path, '--env', 'PATH', '--', 'mytool']);
    expect(found.code, found.stderr).to.equal(0);
    expect(found.stdout).to.equal('mytool on the server, FOO=unset\n');
    const kept = await runCommand(NATIVE_CLIENT, ['--connect', server.path, '--env', 'PATH', '--caller-env', 'HOME,PATH', '--', 'mytool']);
    expect(kept.code).to.equal(127);
    const bad = await runCommand(NATIVE_CLIENT, ['--connect', server.path, '--caller-env', 'PATH,CC', '--', 'true']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.include('must name only PATH, HOME, TMPDIR, SHELL, USER, LOGNAME');
  });
});
