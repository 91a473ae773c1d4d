// remoteSpawn(): child_process.spawn's signature, running the program through
// a sidecar server. The `timeout` and `signal` options are wired here, as
// Node wires them in lib/child_process.js spawn().

import type { RemoteSpawnOptions } from '../../types/index';
import { AbortError } from '../errors';
import { RemoteChildProcess } from './child-process';
import { normalizeSpawnArguments } from './spawn-options';

/** Runs `command` with `args` on the server, as child_process.spawn runs it locally. */
export function remoteSpawn(command: string, args?: readonly string[] | RemoteSpawnOptions, options?: RemoteSpawnOptions): RemoteChildProcess {
  const plan = normalizeSpawnArguments(command, args, options);
  const child = new RemoteChildProcess(plan);

  if (plan.timeout > 0) {
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      timer = undefined;
      try {
        child.kill(plan.killSignal);
      } catch (error) {
        child.emit('error', error as Error);
      }
    }, plan.timeout);
    child.once('exit', () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    });
  }

  const { abortSignal } = plan;
  if (abortSignal !== undefined) {
    const onAbort = (): void => {
      try {
        if (child.kill(plan.killSignal)) child.emit('error', new AbortError(undefined, { cause: abortSignal.reason }));
      } catch (error) {
        child.emit('error', error as Error);
      }
    };
    if (abortSignal.aborted) {
      process.nextTick(onAbort);
    } else {
      abortSignal.addEventListener('abort', onAbort, { once: true });
      child.once('exit', () => abortSignal.removeEventListener('abort', onAbort));
    }
  }
  return child;
}
