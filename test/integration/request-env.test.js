'use strict';
// A raw request that names one variable twice: the server parses the
// environment once into a Map, so the program gets the name once, with the
// last value (the one the policy and authorize() see). Before, both strings
// reached execve, and getenv() returned the first: a value the policy never
// judged.

const net = require('node:net');
const { expect } = require('chai');
const { getBinding } = require('../../dist/binding');
const protocol = require('../../dist/protocol');
const { useServer, receiveRecord } = require('../helpers');

describe('a request naming a variable twice', function () {
  const ctx = useServer();

  it('runs the program with the name once and the last value', async function () {
    const binding = getBinding();
    const [readEnd, writeEnd] = binding.pipe();
    const fd = binding.connect(ctx.server.path);
    try {
      const payload = protocol.encodeExecPayload({
        // env(1) prints its environ as execve gave it (a shell would have merged the two).
        file: 'env',
        argv: ['env'],
        env: ['SIDECAR_TWICE=first', `PATH=${process.env.PATH}`, 'SIDECAR_TWICE=second'],
        cwd: '', fdMap: [-1, 0, -1], newSession: false, serverEnv: false, uid: -1, gid: -1,
      });
      const [record] = protocol.encodeExecRecords(payload);
      binding.send(fd, record, 0, record.length, [writeEnd]);
      binding.close(writeEnd);
      const output = await new Promise((resolve, reject) => {
        const chunks = [];
        const socket = new net.Socket({ fd: readEnd, readable: true, writable: false });
        socket.on('data', (chunk) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      expect(output.split('\n').filter((line) => line.startsWith('SIDECAR_TWICE='))).to.deep.equal(['SIDECAR_TWICE=second']);
      const started = await receiveRecord(binding, fd);
      expect(protocol.decodeServerMessage(started.data).type).to.equal(protocol.MessageType.Started);
      const exit = await receiveRecord(binding, fd);
      expect(protocol.decodeServerMessage(exit.data).exit.exitCode).to.equal(0);
    } finally {
      binding.close(fd);
    }
  });
});
