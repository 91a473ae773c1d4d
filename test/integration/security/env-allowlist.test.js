'use strict';
// Code loading through the environment under allowCommands. A denylist of
// loader variables left these open: with git and python3 allowed (exact
// argv, even), a client ran code as the server's user through
// GIT_CONFIG_COUNT/KEY/VALUE (core.fsmonitor), HOME (a .gitconfig of its
// own) and PYTHONUSERBASE (a .pth file). allowCommands now implies an
// allowlist: the terminal and language variables, plus what allowEnv names.
// Each attack is shown to work without a policy first, so the test can tell.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const { remoteSpawn } = require('../../..');
const { useServers, run, tempDir } = require('../../helpers');

const GIT = '/usr/bin/git';
const PYTHON = '/usr/bin/python3';

describe('security: allowCommands and code loaded through the environment', function () {
  this.timeout(30000);
  const servers = useServers();
  let work;
  let marker;
  let attacks;

  before(function () {
    const missing = [GIT, PYTHON].filter((tool) => !fs.existsSync(tool));
    if (missing.length > 0) {
      console.log(`      (skipped: ${missing.join(' and ')} not installed)`);
      this.skip();
    }
  });

  beforeEach(function () {
    work = fs.realpathSync(tempDir('sidecar-loaders-'));
    marker = path.join(work, 'marker');
    const repo = path.join(work, 'repo');
    childProcess.execFileSync(GIT, ['init', '-q', repo]);
    const home = path.join(work, 'home');
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, '.gitconfig'), `[core]\n\tfsmonitor = "echo home-ran >> ${marker}; false"\n`);
    const version = childProcess.execFileSync(PYTHON, ['-c', 'import sys; print("python%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).trim();
    const sitePackages = path.join(work, 'userbase', 'lib', version, 'site-packages');
    fs.mkdirSync(sitePackages, { recursive: true });
    fs.writeFileSync(path.join(sitePackages, 'evil.pth'), `import os; os.system("echo pth-ran >> ${marker}")\n`);
    attacks = [
      {
        name: 'GIT_CONFIG_COUNT/KEY/VALUE (core.fsmonitor)', file: GIT, args: ['status'], cwd: repo, mark: 'config-ran',
        env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.fsmonitor', GIT_CONFIG_VALUE_0: `echo config-ran >> ${marker}; false` },
      },
      { name: 'HOME (a .gitconfig of the client\'s)', file: GIT, args: ['status'], cwd: repo, mark: 'home-ran', env: { HOME: home } },
      { name: 'PYTHONUSERBASE (a .pth file)', file: PYTHON, args: ['-c', 'pass'], cwd: work, mark: 'pth-ran', env: { PYTHONUSERBASE: path.join(work, 'userbase') } },
    ];
  });

  afterEach(function () {
    fs.rmSync(work, { recursive: true, force: true });
  });

  function marks() {
    return fs.existsSync(marker) ? [...new Set(fs.readFileSync(marker, 'utf8').split('\n').filter(Boolean))] : [];
  }

  async function attempt(server, attack) {
    fs.rmSync(marker, { force: true });
    const result = await run(remoteSpawn(attack.file, attack.args, {
      connect: server.path, cwd: attack.cwd, env: { PATH: '/usr/bin:/bin', LANG: 'C', ...attack.env }, stdio: ['ignore', 'ignore', 'ignore'],
    }));
    expect(result.error, `${attack.name}: ${result.error && result.error.message}`).to.equal(null);
    expect(result.exitArgs, attack.name).to.deep.equal([0, null]);
    return marks();
  }

  it('control: without a policy each attack runs the client\'s code', async function () {
    const server = await servers.start();
    for (const attack of attacks) expect(await attempt(server, attack), attack.name).to.deep.equal([attack.mark]);
  });

  it('with allowCommands none does: the program runs, the variables are dropped and reported', async function () {
    const server = await servers.start({ serverOptions: { allowCommands: [GIT, PYTHON] } });
    for (const attack of attacks) expect(await attempt(server, attack), attack.name).to.deep.equal([]);
    const dropped = server.events('request').flatMap((event) => event.droppedEnv);
    for (const name of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0', 'HOME', 'PYTHONUSERBASE']) expect(dropped).to.include(name);
    expect(dropped).to.not.include('LANG');
  });
});
