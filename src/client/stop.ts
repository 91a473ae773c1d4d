// stopServer(): the admin request behind `sidecar stop`.

import { getBinding } from '../binding';
import { MessageType, ProtocolError, decodeServerMessage, encodeStop } from '../protocol';
import { SeqpacketSocket } from '../transport/seqpacket';
import { SidecarError, errnoNumber, invalidArgType } from '../errors';

/** Asks the server at `path` to stop; resolves once it acknowledged. */
export function stopServer(path: string): Promise<void> {
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
          const message = decodeServerMessage(data);
          if (message.type === MessageType.Stopping) resolve();
          else if (message.type === MessageType.Failed) {
            reject(new SidecarError('ERR_SIDECAR_DENIED', `sidecar server at ${path} refused to stop: ${message.failed.message}`,
              { socket: path, errno: -Math.abs(message.failed.errno), syscall: 'stop' }));
          } else throw new ProtocolError(`unexpected reply type ${message.type}`);
        } catch (error) {
          reject(new SidecarError('ERR_SIDECAR_PROTOCOL', `sidecar server at ${path}: ${(error as Error).message}`, { socket: path }));
        }
      },
      onEnd(cause) {
        if (settled) return;
        reject(new SidecarError('ERR_SIDECAR_DISCONNECTED', `sidecar server at ${path} hung up without acknowledging stop`, { socket: path }, cause));
      },
    });
    socket.send(encodeStop());
  });
}
