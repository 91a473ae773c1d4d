// Admin requests: stopServer() behind `sidecar stop`, pingServer() behind
// `sidecar ping`. One record out, one record back.

import { getBinding } from '../binding';
import { MessageType, type ServerMessage, decodeServerMessage, encodePing, encodeStop } from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { disconnected, failedReplyError, invalidArgType, isNativeError, malformedReply } from '../errors';
import { CONNECT_RETRY_LIMIT_MS, CONNECT_RETRY_MS } from './connection';
import { connectFailure } from './socket-path';

/**
 * Sends `record` to the server at `path` and resolves with its one reply.
 * A full backlog (EAGAIN) is retried as remoteSpawn retries it: the server
 * is busy, not gone (clients it turns away may be filling the backlog).
 */
function ask(path: string, record: Buffer): Promise<ServerMessage> {
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
  const binding = getBinding();
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: SeqpacketSocket;
    const attempt = (): void => {
      try {
        socket = SeqpacketSocket.connect(path, binding, {
          onMessage(data) {
            settled = true;
            socket.destroy();
            try {
              resolve(decodeServerMessage(data));
            } catch (error) {
              reject(malformedReply(path, (error as Error).message));
            }
          },
          onEnd(cause) {
            if (!settled) reject(disconnected(path, 'it answered', cause));
          },
        }, false);
      } catch (error) {
        if (isNativeError(error) && error.code === 'EAGAIN' && Date.now() - startedAt < CONNECT_RETRY_LIMIT_MS) {
          setTimeout(attempt, CONNECT_RETRY_MS);
          return;
        }
        reject(connectFailure(error, path));
        return;
      }
      socket.send(record);
    };
    attempt();
  });
}

function unexpected(path: string, message: ServerMessage): Error {
  if (message.type === MessageType.Failed) return failedReplyError(message.failed, { kind: 'admin', socket: path });
  return malformedReply(path, `an answer of message type ${message.type}`);
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
