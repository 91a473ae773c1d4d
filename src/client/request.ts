// The request records of one remote spawn, encoded once for both the async
// connection and the sync exchange, with the protocol's limits checked
// before anything travels.

import { MAX_FDS, MAX_REQUEST_BYTES, MAX_STRINGS, encodeExecPayload, encodeExecRecords } from '../protocol';
import { requestTooLarge } from '../errors';
import type { SpawnPlan } from './spawn-options';

/** The records to send (the first carries the fds), or the error that says why the request cannot go. */
export function requestRecords(plan: SpawnPlan, fdMap: number[]): Buffer[] | Error {
  const payload = encodeExecPayload({
    file: plan.file, argv: plan.argv, env: plan.env, cwd: plan.cwd, fdMap,
    newSession: plan.newSession, serverEnv: plan.serverEnv, callerEnv: plan.callerEnv, terminal: plan.terminal, uid: plan.uid, gid: plan.gid,
  });
  const strings = plan.argv.length + plan.env.length;
  if (payload.length > MAX_REQUEST_BYTES || fdMap.length > MAX_FDS || strings > MAX_STRINGS) {
    const what = payload.length > MAX_REQUEST_BYTES ? `${payload.length} bytes, more than ${MAX_REQUEST_BYTES}`
      : strings > MAX_STRINGS ? `${strings} argv and env strings, more than ${MAX_STRINGS}` : `${fdMap.length} stdio entries, more than ${MAX_FDS}`;
    return requestTooLarge(plan.file, plan.socketPath, what);
  }
  return encodeExecRecords(payload);
}
