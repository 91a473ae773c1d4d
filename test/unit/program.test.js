'use strict';
// Program (src/server/program.ts) against the fake binding: started, watched
// through its pidfd, signalled as a group, escalated to SIGKILL, reaped once;
// a program that cannot be watched is killed and reaped before start() throws.

const os = require('node:os');
const { expect } = require('chai');
const { Program, WatchError, KILL_ESCALATION_MS } = require('../../dist/server/program');
const { FakeBinding, nativeError, forbidRealIO, READABLE } = require('../support/fake-binding');
const { FakeClock } = require('../support/fake-clock');

const { SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGUSR1 } = os.constants.signals;

function spawnOptions(overrides = {}) {
  return {
    candidates: ['/bin/true'], argv: ['true'], env: [], cwd: null, fdMap: [-1, -1, -1],
    newSession: false, deathSignal: SIGKILL, uid: -1, gid: -1, ...overrides,
  };
}

describe('unit: Program', () => {
  forbidRealIO();

  const clock = new FakeClock();
  let binding;
  let exits;
  beforeEach(() => {
    clock.install();
    binding = new FakeBinding();
    exits = [];
  });
  afterEach(() => clock.uninstall());

  function start(options = spawnOptions()) {
    const program = Program.start(binding, options, (result) => exits.push(result));
    return { program, proc: binding.processes.get(program.pid) };
  }

  it('spawns with the options given and watches its pidfd for readability', () => {
    const options = spawnOptions({ argv: ['true', 'x'], newSession: true });
    const { program, proc } = start(options);
    expect(binding.callsOf('spawn')).to.deep.equal([[options]]);
    expect(program.running).to.equal(true);
    expect(binding.pollerFor(proc.pidfd).events).to.equal(READABLE);
    expect(program.startedAt).to.equal(clock.now);
  });

  it('reaps it once when its pidfd becomes readable: onExit gets the result, pidfd and poller are closed', () => {
    const { program, proc } = start();
    binding.programExits(program.pid, { exitCode: 3 });
    expect(exits).to.deep.equal([{ exitCode: 3, signal: null }]);
    expect(program.running).to.equal(false);
    expect(binding.callsOf('waitPidfd')).to.have.length(1);
    expect(binding.pollerFor(proc.pidfd).closed).to.equal(true);
    binding.assertClean();
  });

  it('ignores a spurious wake-up: still watched, still running, nothing reported', () => {
    const { program, proc } = start();
    const poller = binding.pollerFor(proc.pidfd);
    poller.fire(0, READABLE);
    expect(exits).to.deep.equal([]);
    expect(program.running).to.equal(true);
    expect(poller.active).to.equal(true);
    expect(binding.isOpen(proc.pidfd)).to.equal(true);
    binding.programExits(program.pid, { signal: SIGTERM });
    expect(exits).to.deep.equal([{ exitCode: null, signal: SIGTERM }]);
  });

  it('signals its process group, and the leader too through the pidfd only when asked', () => {
    const { program } = start();
    program.signal(SIGUSR1, false);
    expect(binding.signalsTo(program.pid)).to.deep.equal([{ via: 'group', signal: SIGUSR1 }]);
    program.signal(SIGINT, true);
    expect(binding.signalsTo(program.pid).slice(1)).to.deep.equal([{ via: 'group', signal: SIGINT }, { via: 'pidfd', signal: SIGINT }]);
  });

  it('falls back to the pidfd when its group is gone (the leader left it)', () => {
    const { program, proc } = start();
    proc.groupGone = true;
    program.signal(SIGUSR1, false);
    expect(binding.signalsTo(program.pid)).to.deep.equal([{ via: 'pidfd', signal: SIGUSR1 }]);
  });

  it('does not signal anything once it has been reaped (its pid may be reused)', () => {
    const { program } = start();
    binding.programExits(program.pid, { exitCode: 0 });
    const before = binding.calls.length;
    program.signal(SIGTERM, true);
    program.terminate(SIGTERM);
    expect(binding.calls.slice(before)).to.deep.equal([]);
    expect(clock.pending()).to.deep.equal([]);
  });

  it('terminate() sends the signal now and SIGKILL if the program is still there after the grace period', () => {
    const { program } = start();
    program.terminate(SIGTERM, 1000);
    expect(binding.signalsTo(program.pid)).to.deep.equal([{ via: 'group', signal: SIGTERM }, { via: 'pidfd', signal: SIGTERM }]);
    expect(clock.pending()).to.deep.equal([{ at: 1000, ms: 1000, refed: false }]);
    clock.tick(999);
    expect(binding.signalsTo(program.pid)).to.have.length(2);
    clock.tick(1);
    expect(binding.signalsTo(program.pid).slice(2)).to.deep.equal([{ via: 'group', signal: SIGKILL }, { via: 'pidfd', signal: SIGKILL }]);
    binding.pollerFor(binding.processes.get(program.pid).pidfd).fire(0, READABLE);
    expect(exits).to.deep.equal([{ exitCode: null, signal: SIGKILL }]);
    binding.assertClean();
  });

  it('terminate() escalates after KILL_ESCALATION_MS by default, and not at all when the program exits first', () => {
    const { program } = start();
    program.terminate(SIGTERM);
    expect(clock.pending().map((timer) => timer.ms)).to.deep.equal([KILL_ESCALATION_MS]);
    binding.programExits(program.pid, { exitCode: 143 });
    expect(clock.pending()).to.deep.equal([]);
    clock.tick(KILL_ESCALATION_MS);
    expect(binding.signalsTo(program.pid).map((signal) => signal.signal)).to.not.include(SIGKILL);
  });

  it('terminate(SIGKILL) sets no escalation timer', () => {
    const { program } = start();
    program.terminate(SIGKILL, 10);
    expect(clock.pending()).to.deep.equal([]);
    expect(binding.processes.get(program.pid).exit).to.deep.equal({ exitCode: null, signal: SIGKILL });
  });

  it('when several reasons terminate it, the earliest SIGKILL deadline wins', () => {
    const { program } = start();
    program.terminate(SIGTERM, 5000); // maxRuntime
    program.terminate(SIGHUP, 100); // then a disconnect with a short grace
    program.terminate(SIGINT, 10_000); // a later, longer one does not postpone it
    expect(clock.pending().map((timer) => timer.at)).to.deep.equal([100]);
    clock.tick(100);
    const kills = binding.signalsTo(program.pid).filter((signal) => signal.signal === SIGKILL);
    expect(kills).to.have.length(2); // group and leader, once
  });

  it('throws the spawn\'s native error and leaves nothing open when spawn fails', () => {
    binding.script('spawn', nativeError('ENOENT', 'execve'));
    expect(() => start()).to.throw().that.includes({ code: 'ENOENT', syscall: 'execve' });
    expect(exits).to.deep.equal([]);
    binding.assertClean();
  });

  for (const where of ['Poller', 'Poller.start']) {
    it(`kills and reaps a program it cannot watch (${where} fails), then throws WatchError with the cause's errno and code`, () => {
      binding.script(where, nativeError('ENOMEM', 'uv_poll_init'));
      let error;
      try {
        start();
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(WatchError);
      expect(error).to.include({ errno: os.constants.errno.ENOMEM, code: 'ENOMEM' });
      expect(error.cause).to.include({ code: 'ENOMEM' });
      const proc = [...binding.processes.values()][0];
      expect(proc.signals).to.deep.include({ via: 'group', signal: SIGKILL });
      expect(proc.signals).to.deep.include({ via: 'pidfd', signal: SIGKILL });
      expect(proc.reaped).to.equal(true);
      expect(exits).to.deep.equal([]);
      binding.assertClean();
    });
  }

  it('WatchError of a cause that is not a native error says EIO', () => {
    const error = new WatchError('weird');
    expect(error).to.include({ errno: os.constants.errno.EIO, code: 'EIO', message: 'weird' });
  });
});
