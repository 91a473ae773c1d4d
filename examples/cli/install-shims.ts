// `sidecar install-shims DIR [NAME]...`: copies the static native client
// into DIR and writes one shim per NAME beside it, for an init container to
// run into a volume that a tool container puts on its PATH. A shim runs
// NAME in the server's container with the caller's stdio, working
// directory, exit status and signals, and passes on the caller's values of
// the variables its --env lines name.

import { closeSync, chmodSync, copyFileSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { list, parseFlags, single } from './args';
import { UsageError } from './usage';

/**
 * The caller's variables every shim passes on unless --no-default-env:
 * reproducible builds (SOURCE_DATE_EPOCH), ccache's settings, the locale,
 * the time zone and the terminal's colours, which a build's output depends
 * on and which the server's own environment cannot know. A server under
 * allowEnv or allowCommands still drops what it does not allow.
 */
export const DEFAULT_SHIM_ENV: readonly string[] = [
  'SOURCE_DATE_EPOCH', 'CCACHE_*', 'LANG', 'LC_*', 'TZ', 'TERM', 'NO_COLOR', 'FORCE_COLOR', 'CLICOLOR_FORCE',
];

/** The client's file name in DIR; shims run it from their own directory. */
const CLIENT_NAME = 'sidecar-client';

/** A program name a shim may take: one file name, no quoting needed. */
const SHIM_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;
/** A variable name, or a prefix ending in '*'. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

/** The static client of this machine's architecture in the package, or the one node-gyp built. */
function packagedClient(): string {
  const root = dirname(require.resolve('sidecar-exec/package.json'));
  const candidates = [join(root, 'prebuilds', `linux-${process.arch}`, CLIENT_NAME), join(root, 'build', 'Release', CLIENT_NAME)];
  for (const candidate of candidates) {
    if (isElf(candidate)) return candidate;
  }
  throw new UsageError(`no ${CLIENT_NAME} for linux-${process.arch} in ${root} (npm run build:client builds it; --client FILE names another)`);
}

function isElf(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === '\x7fELF';
  } finally {
    closeSync(fd);
  }
}

/** The text of the shim for `name`. */
export function shimText(name: string, socketPath: string | undefined, env: readonly string[]): string {
  const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
  const connect = socketPath === undefined ? '' : ` --connect "\${SIDECAR_SOCKET:-${socketPath.replace(/["$`\\]/g, '\\$&')}}"`;
  const lines = [
    '#!/bin/sh',
    `# ${name}, run by the sidecar server: written by \`sidecar install-shims\`.`,
    `# The client is the ${CLIENT_NAME} in this shim's own directory.`,
    `exec "\${0%/*}/${CLIENT_NAME}"${connect} \\`,
    ...env.map((entry) => `  --env ${quote(entry)} \\`),
    `  -- ${quote(name)} "$@"`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes `text` (or copies `from`) to `target` through a temporary name, so that no caller runs a half-written file. */
function putInPlace(target: string, write: (partial: string) => void): void {
  const partial = join(dirname(target), `.${CLIENT_NAME}.${process.pid}.tmp`);
  try {
    write(partial);
    chmodSync(partial, 0o755);
    renameSync(partial, target);
  } finally {
    rmSync(partial, { force: true });
  }
}

export function installShims(argv: readonly string[]): void {
  const flags = parseFlags(argv, { values: ['connect', 'env', 'client'], switches: ['no-default-env'] });
  const [dir, ...names] = flags.operands;
  if (dir === undefined) throw new UsageError('install-shims needs a DIR');
  const socketPath = single(flags, 'connect');
  if (socketPath === '') throw new UsageError('--connect needs a PATH');
  const extra = list(flags, 'env') ?? [];
  const env = [...new Set([...(flags.switches.has('no-default-env') ? [] : DEFAULT_SHIM_ENV), ...extra])];
  for (const entry of env) {
    if (!ENV_NAME.test(entry)) throw new UsageError(`--env takes a variable name or a PREFIX*: ${entry}`);
  }
  for (const name of names) {
    if (!SHIM_NAME.test(name) || name === CLIENT_NAME) throw new UsageError(`not a program name for a shim: ${name}`);
  }
  const client = single(flags, 'client') ?? packagedClient();

  mkdirSync(dir, { recursive: true, mode: 0o755 });
  putInPlace(join(dir, CLIENT_NAME), (partial) => copyFileSync(client, partial));
  for (const name of names) {
    putInPlace(join(dir, name), (partial) => writeFileSync(partial, shimText(name, socketPath, env), { mode: 0o755 }));
  }
  process.stdout.write(`installed ${CLIENT_NAME} (from ${client})${names.length > 0 ? ` and shims for ${names.join(', ')}` : ''} in ${dir}\n`);
}
