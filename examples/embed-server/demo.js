// `npm start`: the main job on an embedded default. A server listens on a
// socket in a fresh temporary directory, a command runs through it with the
// caller's stdout and stderr, and the exit code comes back.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createServer, remoteSpawn } = require('../..');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-demo-'));
const socketPath = path.join(dir, 'sidecar.sock');
const script = 'echo "hello from pid $$, run by the sidecar server"; uname -sr; exit 3';

const server = createServer();
server.listen(socketPath, () => {
  console.log(`server listening on ${socketPath}`);
  console.log(`running: sh -c '${script}'`);
  const child = remoteSpawn('sh', ['-c', script], { connect: socketPath, stdio: 'inherit' });
  child.on('spawn', () => console.log(`started remote pid ${child.pid}`));
  child.on('error', (error) => {
    console.error(`failed: ${error.message}`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    console.log(`exit code ${code}${signal ? `, signal ${signal}` : ''} (3 expected)`);
    if (code !== 3) process.exitCode = 1;
    server.close(() => fs.rmSync(dir, { recursive: true, force: true }));
  });
});
