'use strict';
// Two "containers" on one machine: a process (the server, usually) in a
// mount namespace of its own, which sees files the tests' own namespace
// does not, and does not see some that it does. Everything else (the socket's
// directory, a shared work directory) is the same file system for both, as a
// volume mounted in both containers of a pod would be. Needs root (unshare
// and mount); `canUnshare()` says whether this machine allows it.
//
//   const layout = twoContainers();
//   layout.serverFile('bin/mytool', '#!/bin/sh\n...', 0o755);  // only the server has it
//   const hidden = layout.clientDir('home');                   // only the client has it
//   const server = await servers.start({ prefix: layout.prefix() });
//   layout.released();  // the staged copies go: from now on only the server has its files
//   ...
//   layout.remove();    // after the server stopped
//
// In the server's namespace, <root>/server is a tmpfs holding what
// serverFile() staged, and <root>/client an empty tmpfs over the client's
// directories. For the client, <root>/server stays an empty directory.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('./tmp');

let unshareWorks;

/** Whether this process may make a mount namespace and mount a tmpfs in it (root, unshare(1) present). */
function canUnshare() {
  unshareWorks ??= childProcess.spawnSync('unshare', ['--mount', '--propagation', 'private', 'mount', '-t', 'tmpfs', 'tmpfs', '/mnt'], {
    stdio: 'ignore',
  }).status === 0;
  return unshareWorks;
}

/** A word for sh -c, quoted. */
function shellQuote(word) {
  return `'${String(word).replace(/'/g, "'\\''")}'`;
}

function twoContainers() {
  const root = tempDir('two-containers-');
  fs.chmodSync(root, 0o755);
  const serverRoot = path.join(root, 'server');
  const clientRoot = path.join(root, 'client');
  const staging = path.join(root, 'staging');
  for (const dir of [serverRoot, clientRoot, staging]) fs.mkdirSync(dir, { mode: 0o755 });
  return {
    root,
    /** Where the server's own files are (an empty directory for the client). */
    serverRoot,
    /** The path of `relative` under serverRoot. */
    serverPath: (relative) => path.join(serverRoot, relative),
    /** Stages a file that only the server will have, at serverRoot/relative. */
    serverFile(relative, content, mode = 0o644) {
      const file = path.join(staging, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
      fs.writeFileSync(file, content, { mode });
      fs.chmodSync(file, mode);
      return path.join(serverRoot, relative);
    },
    /** Makes a directory that only the client has (the server sees an empty tmpfs above it). */
    clientDir(relative) {
      const dir = path.join(clientRoot, relative);
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      return dir;
    },
    /**
     * The argv prefix that runs a command in the server's namespace:
     * unshare(1) execs sh, which mounts, copies and execs the command, so
     * the pid a test sees is the command's own.
     */
    prefix() {
      const script = [
        'set -e',
        `mount -t tmpfs -o mode=0755 tmpfs ${shellQuote(serverRoot)}`,
        `cp -a ${shellQuote(`${staging}/.`)} ${shellQuote(`${serverRoot}/`)}`,
        `mount -t tmpfs -o mode=0755 tmpfs ${shellQuote(clientRoot)}`,
        'exec "$@"',
      ].join('\n');
      return ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh'];
    },
    /** Removes the staged copies: call once the server runs, so that the client has none of its files. */
    released() {
      fs.rmSync(staging, { recursive: true, force: true });
    },
    /** Removes the layout (the server's tmpfs goes with its namespace). */
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The argv prefix that runs a command in a mount namespace of its own where
 * each of `dirs` (absolute) exists as an empty tmpfs, as a volume mounted
 * there would: one that exists already is covered; for one that does not,
 * its nearest existing parent gets an overlay (its contents stay, nothing
 * reaches the real one) in which the directory is made. `scratch`: an
 * empty directory for the overlays' own files (a tmpfs inside the namespace).
 */
function namespaceWithDirs(dirs, scratch) {
  const lines = ['set -e', `mount -t tmpfs -o mode=0755 tmpfs ${shellQuote(scratch)}`];
  dirs.forEach((dir, i) => {
    let parent = dir;
    while (!fs.existsSync(parent)) parent = path.dirname(parent);
    if (parent !== dir) {
      const upper = path.join(scratch, `upper-${i}`);
      const work = path.join(scratch, `work-${i}`);
      lines.push(`mkdir ${shellQuote(upper)} ${shellQuote(work)}`,
        `mount -t overlay overlay -o ${shellQuote(`lowerdir=${parent},upperdir=${upper},workdir=${work}`)} ${shellQuote(parent)}`,
        `mkdir -p -m 0755 ${shellQuote(dir)}`);
    }
    lines.push(`mount -t tmpfs -o mode=0755 tmpfs ${shellQuote(dir)}`);
  });
  lines.push('exec "$@"');
  return ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', lines.join('\n'), 'sh'];
}

module.exports = { twoContainers, canUnshare, shellQuote, namespaceWithDirs };
