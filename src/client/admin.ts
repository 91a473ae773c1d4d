// Admin requests: stopServer() behind `sidecar stop`, pingServer() behind
// `sidecar ping`. One record out, one record back.

import { getBinding } from '../binding';
import { MessageType, type ServerMessage, decodeServerMessage, encodePing, encodeStop } from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { SidecarError, errnoNumber, invalidArgType } from '../errors';

/** Sends `record` to the server at `path` and resolves with its one reply. */
function ask(path: string, record: Buffer): Promise<ServerMessage> {
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
  const binding = getBinding();
  return new Promise((resolve, reject) => {
    let fd: number;
    try {
      fd = binding.connect(path);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EIO';
      reject(new SidecarError('ERR_SIDECAR_CONNECT', `cannot connect to the sidecar server at ${path}: ${code}`,
        { socket: path, errno: -(errnoNumber(code) ?? 5), syscall: 'connect' }, error));
      return;
    }
    let settled = false;
    const socket = new SeqpacketSocket(fd, binding, {
      onMessage(data, fds) {
        for (const received of fds) binding.close(received);
        settled = true;
        socket.destroy();
        try {
          resolve(decodeServerMessage(data));
        } catch (error) {
          reject(new SidecarError('ERR_SIDECAR_PROTOCOL', `sidecar server at ${path}: ${(error as Error).message}`, { socket: path }));
        }
      },
      onEnd(cause) {
        if (settled) return;
        reject(new SidecarError('ERR_SIDECAR_DISCONNECTED', `sidecar server at ${path} hung up without answering`, { socket: path }, cause));
      },
    });
    socket.send(record);
  });
}

function unexpected(path: string, message: ServerMessage): SidecarError {
  if (message.type === MessageType.Failed) {
    const code = message.failed.code === 'ERR_SIDECAR_DENIED' ? 'ERR_SIDECAR_DENIED' : 'ERR_SIDECAR_PROTOCOL';
    return new SidecarError(code, `sidecar server at ${path} refused: ${message.failed.message}`,
      { socket: path, errno: -Math.abs(message.failed.errno), syscall: message.failed.syscall });
  }
  return new SidecarError('ERR_SIDECAR_PROTOCOL', `sidecar server at ${path} answered with message type ${message.type}`, { socket: path });
}

/** Asks the server at `path` to stop; resolves once it acknowledged. */
export async function stopServer(path: string): Promise<void> {
  const reply = await ask(path, encodeStop());
  if (reply.type !== MessageType.Stopping) throw unexpected(path, reply);
}

/** Asks the server at `path` whether it is up; resolves with the protocol version it speaks. */
export async function pingServer(path: string): Promise<{ version: number }> {
  const reply = await ask(path, encodePing());
  if (reply.type !== MessageType.Pong) throw unexpected(path, reply);
  return { version: reply.version };
}
