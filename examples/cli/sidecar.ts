#!/usr/bin/env node
// sidecar: the command-line tool, built only on sidecar-exec's public API
// (imported by the package's own name, as any user of it would).
//
//   sidecar start [--mode MODE] [--parents] [options] PATH   (see usage.ts)
//   sidecar stop PATH
//   sidecar ping PATH
//   sidecar exec --connect PATH [-t | --tty] [--workdir DIR] [--env NAME[=VALUE]]... [--caller-env NAME]... [--] PROGRAM [ARG]...
//   sidecar install-shims [--connect PATH] [--env NAME]... DIR [NAME]...
//
// This file picks the subcommand and turns the CLI's own mistakes into exit
// 125; each subcommand lives in its own file.

import { stop, ping } from './admin';
import { exec } from './exec';
import { installShims } from './install-shims';
import { EXIT_USAGE } from './exit-status';
import { start } from './start';
import { say, USAGE, UsageError } from './usage';

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start': return start(rest);
      case 'stop': return await stop(rest);
      case 'ping': return await ping(rest);
      case 'exec': return exec(rest);
      case 'install-shims': return installShims(rest);
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return undefined;
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
    }
  } catch (error) {
    // A usage mistake, or an error with a code (a bad argument remoteSpawn
    // throws, a --parents directory that cannot be made): sidecar itself
    // failed. Anything else is a bug and keeps its stack trace.
    const coded = error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
    if (!(error instanceof UsageError) && !coded) throw error;
    say((error as Error).message);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exitCode = EXIT_USAGE;
    return undefined;
  }
}

void main(process.argv.slice(2));
