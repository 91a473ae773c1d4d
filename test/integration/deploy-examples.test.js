'use strict';
// The deployment examples played for real: examples/kubernetes/pod.yaml and
// job.yaml, and examples/compose/compose.yaml, are parsed, and each
// container runs its own command, args, env, workingDir, user, groups and
// volume mounts from the file, in a "container" of its own: a mount
// namespace (the server's with a PID namespace too) chrooted into a root
// made of the host's /usr under an image layer, the volumes bound at their
// mountPaths, and nothing else. The toolchain image's layer has a cc that
// no other image has. So a manifest change that breaks the layout (paths,
// modes, groups, the probe, the shims, the stop) breaks this test.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const yaml = require('js-yaml');
const {
  tempDir, canUnshare, canSwitchUsers, copyForOtherUsers, shellQuote, runCommand,
} = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');
const SOCKET = '/run/sidecar/s/sidecar.sock';

/** The toolchain's compiler in the test's image: it says where it ran and as whom. */
const TOOLCHAIN_CC = '#!/bin/sh\n[ "$1" = -o ] || exit 2\nprintf "built by the toolchain cc from %s as uid %s\\n" "$3" "$(id -u)" > "$2"\n';

/** Image name -> the layers (over the host's /usr) that the test's image has. */
const IMAGES = {
  'registry.example.com/sidecar-toolchain:20': ['node', 'toolchain'],
  'registry.example.com/sidecar-build:20': ['node'],
};

/** The environment every image gives a process before the manifest's env. */
const IMAGE_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp' };

/** One container of a Kubernetes pod spec, normalized. */
function kubeContainer(spec, container, role) {
  const context = { ...spec.securityContext, ...container.securityContext };
  return {
    name: container.name,
    role,
    image: container.image,
    argv: [...(container.command ?? []), ...(container.args ?? [])],
    env: Object.fromEntries((container.env ?? []).map(({ name, value }) => [name, value])),
    cwd: container.workingDir ?? '/',
    uid: context.runAsUser,
    gid: context.runAsGroup,
    groups: spec.securityContext?.fsGroup === undefined ? [] : [spec.securityContext.fsGroup],
    mounts: (container.volumeMounts ?? []).map(({ name, mountPath }) => ({ volume: name, path: mountPath })),
    probe: container.startupProbe?.exec?.command,
  };
}

/** A Pod or a Job: { volumes: {name: {mode, gid}}, containers } (init, sidecar, main). */
function fromKubernetes(file) {
  const doc = yaml.load(fs.readFileSync(file, 'utf8'));
  const spec = doc.kind === 'Job' ? doc.spec.template.spec : doc.spec;
  const fsGroup = spec.securityContext?.fsGroup;
  const volumes = {};
  for (const volume of spec.volumes) {
    expect(volume, volume.name).to.have.property('emptyDir');
    // An emptyDir: 0777, and with an fsGroup setgid and of that group.
    volumes[volume.name] = fsGroup === undefined ? { mode: 0o777, gid: 0 } : { mode: 0o2777, gid: fsGroup };
  }
  const containers = [
    ...(spec.initContainers ?? []).map((c) => kubeContainer(spec, c, c.restartPolicy === 'Always' ? 'sidecar' : 'init')),
    ...spec.containers.map((c) => kubeContainer(spec, c, 'main')),
  ];
  return { volumes, containers };
}

/** The compose file: setup (service_completed_successfully), the healthchecked server, the rest. */
function fromCompose(file) {
  const doc = yaml.load(fs.readFileSync(file, 'utf8'));
  const conditions = {};
  for (const service of Object.values(doc.services)) {
    for (const [name, { condition }] of Object.entries(service.depends_on ?? {})) conditions[name] = condition;
  }
  const role = (name) => ({ service_completed_successfully: 'init', service_healthy: 'sidecar' })[conditions[name]] ?? 'main';
  const containers = Object.entries(doc.services).map(([name, service]) => {
    const [uid, gid] = service.user.split(':').map(Number);
    const test = service.healthcheck?.test;
    return {
      name,
      role: role(name),
      image: service.image,
      argv: service.command,
      env: service.environment ?? {},
      cwd: service.working_dir ?? '/',
      uid,
      gid,
      groups: (service.group_add ?? []).map(Number),
      mounts: service.volumes.map((entry) => ({ volume: entry.split(':')[0], path: entry.split(':')[1] })),
      probe: test && (expect(test[0]).to.equal('CMD'), test.slice(1)),
    };
  });
  // Ordered as compose starts them: the setup, then the healthy server, then the rest.
  const order = { init: 0, sidecar: 1, main: 2 };
  containers.sort((a, b) => order[a.role] - order[b.role]);
  // A new named volume: root's, 0755.
  const volumes = Object.fromEntries(Object.keys(doc.volumes).map((name) => [name, { mode: 0o755, gid: 0 }]));
  return { volumes, containers };
}

/**
 * The machine a layout runs on: image layers, volumes, one root directory
 * per container. `client`: the static client to ship in the package copy.
 */
function makeHost(layout, client) {
  const dir = tempDir('deploy-examples-');
  fs.chmodSync(dir, 0o755);
  const layers = { node: path.join(dir, 'layers', 'node'), toolchain: path.join(dir, 'layers', 'toolchain') };
  // node: `npm install -g sidecar-exec` (node itself is bound in at run time).
  const pkg = path.join(layers.node, 'local', 'lib', 'node_modules', 'sidecar-exec');
  copyForOtherUsers({ to: pkg });
  fs.mkdirSync(path.join(pkg, 'prebuilds', `linux-${process.arch}`), { recursive: true });
  fs.copyFileSync(client, path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'sidecar-client'));
  fs.chmodSync(path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'sidecar-client'), 0o755);
  fs.mkdirSync(path.join(layers.node, 'local', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(layers.node, 'local', 'bin', 'node'), '');
  fs.symlinkSync('../lib/node_modules/sidecar-exec/dist/cli/sidecar.js', path.join(layers.node, 'local', 'bin', 'sidecar'));
  fs.mkdirSync(path.join(layers.toolchain, 'local', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(layers.toolchain, 'local', 'bin', 'cc'), TOOLCHAIN_CC, { mode: 0o755 });
  for (const layer of Object.values(layers)) fs.chmodSync(path.join(layer, '..'), 0o755);
  for (const layer of Object.values(layers)) fs.chmodSync(layer, 0o755);

  const volumes = {};
  for (const [name, { mode, gid }] of Object.entries(layout.volumes)) {
    volumes[name] = path.join(dir, 'volumes', name);
    fs.mkdirSync(volumes[name], { recursive: true });
    fs.chownSync(volumes[name], 0, gid);
    fs.chmodSync(volumes[name], mode);
  }
  fs.chmodSync(path.join(dir, 'volumes'), 0o755);
  return { dir, layers, volumes };
}

/** The argv that runs `container`'s command (or `argv`) in its namespaces, chrooted into its root. */
function containerArgv(host, container, { argv = container.argv, enter } = {}) {
  const root = path.join(host.dir, 'roots', container.name);
  const q = shellQuote;
  const lines = ['set -e'];
  if (enter === undefined) {
    for (const sub of ['usr', 'etc', 'dev', 'proc', 'tmp']) fs.mkdirSync(path.join(root, sub), { recursive: true });
    fs.chmodSync(path.join(host.dir, 'roots'), 0o755);
    fs.chmodSync(root, 0o755);
    for (const link of ['bin', 'lib', 'lib64', 'sbin']) {
      const target = fs.lstatSync(`/${link}`, { throwIfNoEntry: false });
      if (target?.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(`/${link}`), path.join(root, link));
      else if (target?.isDirectory()) {
        fs.mkdirSync(path.join(root, link));
        lines.push(`mount --bind /${link} ${q(path.join(root, link))}`);
      }
    }
    // The image: its layers over the host's /usr, read-only.
    const lower = IMAGES[container.image].map((layer) => host.layers[layer]).reverse();
    expect(lower, `image ${container.image}`).to.not.have.lengthOf(0);
    lines.push(`mount -t overlay overlay -o ${q(`lowerdir=${[...lower, '/usr'].join(':')}`)} ${q(path.join(root, 'usr'))}`,
      `mount --bind ${q(process.execPath)} ${q(path.join(root, 'usr', 'local', 'bin', 'node'))}`,
      `mount --bind /etc ${q(path.join(root, 'etc'))}`,
      `mount --bind /dev ${q(path.join(root, 'dev'))}`,
      `mount -t proc proc ${q(path.join(root, 'proc'))}`,
      `mount -t tmpfs -o mode=1777 tmpfs ${q(path.join(root, 'tmp'))}`);
    for (const mount of container.mounts) {
      const target = path.join(root, mount.path);
      fs.mkdirSync(target, { recursive: true });
      lines.push(`mount --bind ${q(host.volumes[mount.volume])} ${q(target)}`);
    }
  }
  const user = ['setpriv', `--reuid=${container.uid}`, `--regid=${container.gid}`,
    ...(container.groups.length > 0 ? [`--groups=${container.groups.join(',')}`] : ['--clear-groups'])];
  const env = Object.entries({ ...IMAGE_ENV, ...container.env }).map(([name, value]) => `${name}=${value}`);
  const run = ['chroot', root, ...user, 'env', '-i', ...env, 'sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', container.cwd, ...argv];
  lines.push(`exec ${run.map(q).join(' ')}`);
  const script = lines.join('\n');
  if (enter !== undefined) return ['nsenter', `--target=${enter}`, '--mount', '--pid', '--', 'sh', '-c', script];
  const namespaces = container.role === 'main' && container.probe === undefined && !isServer(container)
    ? ['unshare', '--mount', '--propagation', 'private']
    : ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child'];
  return [...namespaces, 'sh', '-c', script];
}

/** Whether `container` runs the server (its command runs `sidecar start`). */
function isServer(container) {
  return container.argv.join(' ').includes('sidecar start');
}

/** Starts argv; resolves the child, with its output collected and an `exited` promise. */
function launch(argv) {
  const child = childProcess.spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.setEncoding('utf8').on('data', (text) => { child.out += text; });
  child.stderr.setEncoding('utf8').on('data', (text) => { child.err += text; });
  child.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return child;
}

/** The pid of the first process in the PID namespace `unshare --fork` (pid) made. */
async function innerPid(pid) {
  for (let tries = 0; tries < 100; tries += 1) {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length === 1) return Number(children[0]);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`unshare ${pid} made no process`);
}

/** The checkout in the workspace: a Makefile whose cc is the toolchain's. */
function checkout(workspace) {
  fs.writeFileSync(path.join(workspace, 'hello.c'), 'int main(void) { return 0; }\n');
  fs.writeFileSync(path.join(workspace, 'Makefile'), 'hello: hello.c\n\tcc -o $@ hello.c\n');
}

/**
 * Plays `layout`: init containers in order (each must exit 0), the sidecar
 * server until its probe passes, then the main containers together. A Pod
 * sidecar gets SIGTERM once the main containers ended, as the kubelet sends
 * it; a server among the main containers must end by itself (`sidecar stop`).
 */
async function play(host, layout, children) {
  const results = {};
  const waitProbe = async (server, container) => {
    const deadline = Date.now() + 30000;
    for (;;) {
      const argv = containerArgv(host, container, { argv: container.probe, enter: await innerPid(server.pid) });
      const probe = await runCommand(argv[0], argv.slice(1));
      if (probe.code === 0) return probe;
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`probe of ${container.name}: ${probe.stderr}${server.err}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const sidecars = [];
  for (const container of layout.containers.filter((c) => c.role !== 'main')) {
    const child = launch(containerArgv(host, container));
    children.push(child);
    if (container.role === 'init') {
      results[container.name] = { ...(await child.exited), stdout: child.out, stderr: child.err };
      expect(results[container.name].code, `${container.name}: ${child.err}`).to.equal(0);
    } else {
      results[`${container.name} probe`] = await waitProbe(child, container);
      sidecars.push([container, child]);
    }
  }
  const mains = layout.containers.filter((c) => c.role === 'main').map((container) => {
    const child = launch(containerArgv(host, container));
    children.push(child);
    return [container, child];
  });
  for (const [container, child] of mains) results[container.name] = { ...(await child.exited), stdout: child.out, stderr: child.err };
  for (const [container, child] of sidecars) {
    // To the container's first process, as the kubelet sends it (unshare ignores SIGTERM while it waits).
    process.kill(await innerPid(child.pid), 'SIGTERM');
    results[container.name] = { ...(await child.exited), stdout: child.out, stderr: child.err };
  }
  return results;
}

describe('deployment examples played in namespaces (examples/kubernetes, examples/compose)', function () {
  this.timeout(60000);
  let client;
  let built;
  let host;
  let children;

  before(function () {
    if (!canUnshare()) this.skip(); // root, unshare, mount
    if (canSwitchUsers() !== true) this.skip();
    if (childProcess.spawnSync('make', ['--version'], { stdio: 'ignore' }).status !== 0) this.skip(); // .ci/run installs make
    built = tempDir('deploy-client-');
    const result = childProcess.spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-client.js'), '--arch', process.arch, '--out', built], { encoding: 'utf8' });
    client = path.join(built, `linux-${process.arch}`, 'sidecar-client');
    if (result.status !== 0) {
      // Without musl-gcc, the client node-gyp built: install-shims takes it all the same.
      expect(result.stderr).to.match(/no compiler for a static linux-/);
      client = path.join(ROOT, 'build', 'Release', 'sidecar-client');
    }
  });

  beforeEach(function () {
    children = [];
  });

  afterEach(async function () {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((child) => child.exited));
    host?.dir && fs.rmSync(host.dir, { recursive: true, force: true });
    host = undefined;
  });

  after(function () {
    if (built !== undefined) fs.rmSync(built, { recursive: true, force: true });
  });

  /** What every layout shows: shims installed, the make of the toolchain ran as its user, the build saw it. */
  function expectBuilt(layout, results, { serverUid, mode }) {
    const server = layout.containers.find(isServer);
    const build = layout.containers.find((c) => c.name === 'build');
    expect(results.build, results.build.stderr).to.include({ code: 0, signal: null });
    // make's own echo, from the server's make, reached the build's stdout.
    expect(results.build.stdout).to.include('cc -o hello hello.c\n');
    expect(results[server.name].stdout).to.equal(`${SOCKET}\n`);
    expect(results[server.name], results[server.name].stderr).to.include({ code: 0, signal: null });
    const shims = host.volumes[build.mounts.find((m) => m.path === '/shims').volume];
    expect(fs.readdirSync(shims).sort()).to.deep.equal(['cc', 'g++', 'gcc', 'make', 'sidecar-client']);
    expect(fs.readFileSync(path.join(shims, 'sidecar-client'))).to.deep.equal(fs.readFileSync(client));
    // The workspace is at one path in both; the output is the toolchain's, made there as the server's user.
    for (const volume of ['workspace', 'sidecar']) {
      expect(server.mounts.find((m) => m.volume === volume).path).to.equal(build.mounts.find((m) => m.volume === volume).path);
    }
    const hello = path.join(host.volumes.workspace, 'hello');
    expect(fs.readFileSync(hello, 'utf8')).to.equal(`built by the toolchain cc from hello.c as uid ${serverUid}\n`);
    const stat = fs.statSync(hello);
    expect(stat.uid).to.equal(serverUid);
    expect((stat.mode & 0o777).toString(8)).to.equal(mode.toString(8));
  }

  it('pod.yaml: native sidecar server, startup probe, fsGroup and 0660, shims from the init container, make through a shim', async function () {
    const layout = fromKubernetes(path.join(EXAMPLES, 'kubernetes', 'pod.yaml'));
    expect(layout.containers.map((c) => `${c.role}:${c.name}`)).to.deep.equal(['init:install-shims', 'sidecar:toolchain', 'main:build']);
    host = makeHost(layout, client);
    checkout(host.volumes.workspace);
    const [server, build] = [layout.containers[1], layout.containers[2]];
    // The two users share only the group.
    expect(server.uid).to.not.equal(build.uid);
    expect(server.gid).to.not.equal(build.gid);
    const results = await play(host, layout, children);
    expect(results['toolchain probe'].stdout).to.match(/^\/run\/sidecar\/s\/sidecar\.sock: up/);
    expectBuilt(layout, results, { serverUid: server.uid, mode: 0o664 });
    expect(fs.statSync(path.join(host.volumes.workspace, 'hello')).gid).to.equal(2000);
  });

  it('job.yaml: both containers together, the build waits with ping and ends with sidecar stop, which ends the server', async function () {
    const layout = fromKubernetes(path.join(EXAMPLES, 'kubernetes', 'job.yaml'));
    expect(layout.containers.map((c) => `${c.role}:${c.name}`)).to.deep.equal(['init:install-shims', 'main:toolchain', 'main:build']);
    host = makeHost(layout, client);
    checkout(host.volumes.workspace);
    const results = await play(host, layout, children);
    expectBuilt(layout, results, { serverUid: 1000, mode: 0o644 });
  });

  it('compose.yaml: setup as root makes the socket volume sticky, the healthcheck gates the build, different users in group 2000', async function () {
    const layout = fromCompose(path.join(EXAMPLES, 'compose', 'compose.yaml'));
    expect(layout.containers.map((c) => `${c.role}:${c.name}`)).to.deep.equal(['init:setup', 'sidecar:toolchain', 'main:build']);
    host = makeHost(layout, client);
    checkout(host.volumes.workspace);
    const results = await play(host, layout, children);
    expectBuilt(layout, results, { serverUid: 1001, mode: 0o664 });
    expect(fs.statSync(host.volumes.sidecar).mode & 0o7777).to.equal(0o1777);
  });
});
