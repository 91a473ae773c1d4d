// `sidecar ping PATH` and `sidecar stop PATH`: one question to a server.
// Exit 0 when it answered, 1 with one line when it did not.

import { pingServer, stopServer } from 'sidecar-exec';
import { parseFlags } from './args';
import { say, UsageError } from './usage';

/** The one PATH operand of `name`. */
function socketOperand(name: string, argv: readonly string[]): string {
  const { operands } = parseFlags(argv, { values: [], switches: [] });
  const [socketPath] = operands;
  if (operands.length !== 1 || socketPath === undefined) throw new UsageError(`${name} takes exactly one PATH`);
  return socketPath;
}

export async function ping(argv: readonly string[]): Promise<void> {
  const socketPath = socketOperand('ping', argv);
  try {
    const { version } = await pingServer(socketPath);
    process.stdout.write(`${socketPath}: up, protocol version ${version}\n`);
  } catch (error) {
    say((error as Error).message);
    process.exitCode = 1;
  }
}

export async function stop(argv: readonly string[]): Promise<void> {
  const socketPath = socketOperand('stop', argv);
  try {
    await stopServer(socketPath);
  } catch (error) {
    say((error as Error).message);
    process.exitCode = 1;
  }
}
