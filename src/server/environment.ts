// The program's environment on the server, as one Map from the decoded
// request to the spawn: parsed once from the request's NAME=value strings,
// laid over the server's own when the request asks for it, narrowed by the
// policy, and turned back into strings only for execve.

import type { ExecRequest } from '../protocol';

/** Variable name -> value. Insertion order is the order execve gets. */
export type Environment = Map<string, string>;

/** Parses NAME=value strings; a later entry for a name replaces an earlier one. */
export function parseEnvironment(pairs: readonly string[]): Environment {
  const env: Environment = new Map();
  for (const pair of pairs) {
    const cut = pair.indexOf('=');
    // The codec guarantees a '='; a string without one is a name with no value.
    if (cut === -1) env.set(pair, '');
    else env.set(pair.slice(0, cut), pair.slice(cut + 1));
  }
  return env;
}

/** An environment from an object such as process.env (own properties, undefined values skipped). */
export function environmentFrom(source: Readonly<Record<string, string | undefined>>): Environment {
  const env: Environment = new Map();
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value !== undefined) env.set(name, String(value));
  }
  return env;
}

/** NAME=value strings, as execve(2) takes them. */
export function environmentPairs(env: Environment): string[] {
  const pairs: string[] = [];
  for (const [name, value] of env) pairs.push(`${name}=${value}`);
  return pairs;
}

/** A null-prototype object of the environment, for the authorize() hook. */
export function environmentObject(env: Environment): Record<string, string> {
  const object: Record<string, string> = Object.create(null);
  for (const [name, value] of env) object[name] = value;
  return object;
}

/** The environment a request asks for: its own, laid over the server's when `serverEnv` is set. */
export function requestedEnvironment(request: Pick<ExecRequest, 'serverEnv'>, asked: Environment, own: Environment): Environment {
  if (!request.serverEnv) return new Map(asked);
  const merged = new Map(own);
  for (const [name, value] of asked) merged.set(name, value);
  return merged;
}
