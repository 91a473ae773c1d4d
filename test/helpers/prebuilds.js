'use strict';
// The prebuilt addons under test (prebuilds/linux-<arch>/node.napi.glibc.node),
// made on demand: prebuilds/ is not in git (docs/install.md), so a fresh
// clone has none, and a change to native/ or binding.gyp makes them stale.
// ensurePrebuilds() runs scripts/prebuild.js for each architecture whose
// addon is missing or older than its sources; an architecture whose cross
// compiler is not installed is reported as unavailable, with the reason.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const ARCHES = ['x64', 'arm64'];
const CROSS = { x64: 'x86_64-linux-gnu-g++', arm64: 'aarch64-linux-gnu-g++' };

function hasCommand(name) {
  return childProcess.spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

/** The addon file of `arch`, or null. */
function prebuildFile(arch) {
  const dir = path.join(ROOT, 'prebuilds', `linux-${arch}`);
  const name = fs.existsSync(dir) ? fs.readdirSync(dir).find((entry) => entry.endsWith('.node')) : undefined;
  return name === undefined ? null : path.join(dir, name);
}

/** The newest modification time among the sources of the addon. */
function newestSource() {
  const files = [path.join(ROOT, 'binding.gyp'), ...fs.readdirSync(path.join(ROOT, 'native'), { recursive: true })
    .map((entry) => path.join(ROOT, 'native', entry))];
  return Math.max(...files.map((file) => fs.statSync(file).mtimeMs));
}

/**
 * Builds what is missing or stale. Returns { x64: file | null, arm64: file | null, why: { arch: reason } }.
 */
function ensurePrebuilds() {
  const why = {};
  const sources = newestSource();
  const stale = ARCHES.filter((arch) => {
    const file = prebuildFile(arch);
    return file === null || fs.statSync(file).mtimeMs < sources;
  });
  const buildable = stale.filter((arch) => {
    if (arch === process.arch || hasCommand(CROSS[arch])) return true;
    why[arch] = `${CROSS[arch]} is not installed`;
    return false;
  });
  if (buildable.length > 0) {
    const result = childProcess.spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.js'), ...buildable],
      { cwd: ROOT, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`npm run prebuild failed:\n${result.stdout}\n${result.stderr}`);
  }
  const files = { why };
  for (const arch of ARCHES) files[arch] = why[arch] === undefined ? prebuildFile(arch) : null;
  return files;
}

module.exports = { ensurePrebuilds, hasCommand, prebuildFile, ROOT };
