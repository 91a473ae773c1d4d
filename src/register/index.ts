// sidecar-exec/register: loaded before the program (node -r, node --import,
// NODE_OPTIONS), it makes node:child_process run the configured commands
// through a sidecar server, for tools that import child_process themselves.
// Configuration is SIDECAR_SOCKET and SIDECAR_COMMANDS (./config.ts); the
// routing rule is in ./routes.ts, the command word in ./command-word.ts.

import * as childProcess from 'node:child_process';
import * as nodeModule from 'node:module';
import { readConfig } from './config';
import { ROUTES, wrapFunction } from './routes';
import { wrapKill } from './kill';

/** Marks child_process once wrapped, so that a second copy of the package (or a second preload) does not wrap again. */
const INSTALLED = Symbol.for('sidecar-exec.register');

function install(): void {
  const target = childProcess as unknown as Record<string | symbol, unknown>;
  if (target[INSTALLED] === true) return;
  const result = readConfig(process.env);
  if ('problem' in result) {
    process.stderr.write(`sidecar-exec/register: ${result.problem}; everything runs locally.\n`);
    return;
  }
  for (const route of ROUTES) {
    const original = target[route.name] as Parameters<typeof wrapFunction>[1];
    target[route.name] = wrapFunction(route, original, result.config);
  }
  process.kill = wrapKill(process.kill);
  Object.defineProperty(target, INSTALLED, { value: true });
  // The ES module facade of node:child_process copied the functions when it
  // was made; this makes `import { spawn } from 'node:child_process'` see the
  // wrappers too.
  nodeModule.syncBuiltinESMExports();
}

install();
