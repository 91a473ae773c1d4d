'use strict';
// examples/build-tool through the register preload: its `make`, and the
// compiler the Makefile names, run in the server's namespace, where that
// compiler (`mycc`) is the only one by that name; the program it built then
// runs here, from the shared directory.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');
const {
  useToolServers, startToolServer, clientEnv, runNode, tempDir, PACKAGE_ROOT,
} = require('../helpers');

const BUILD = path.join(PACKAGE_ROOT, 'examples', 'build-tool', 'build.js');

describe('examples/build-tool through register', function () {
  this.timeout(60000);
  const servers = useToolServers();

  it('builds two C files with the server\'s make and compiler, and runs the result here', async function () {
    const { server, toolDir } = await startToolServer(servers, {
      tools: { mycc: 'echo "mycc $*" >&2\nexec cc "$@"' },
    });
    const out = tempDir('sidecar-build-');
    try {
      const env = clientEnv({
        PATH: `${toolDir}:${process.env.PATH}`,
        SIDECAR_SOCKET: server.path,
        SIDECAR_COMMANDS: 'make',
        CC: 'mycc',
      });
      const result = await runNode(['-r', 'sidecar-exec/register', BUILD, out], { env });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.include('mycc -O2 -Wall -Wextra');
      expect(result.stdout).to.match(/it says: hello, build-tool\n$/);
      expect(result.stderr.match(/^mycc /gm)).to.have.length(3);
      expect(fs.readdirSync(out).sort()).to.deep.equal(['greet.o', 'hello', 'main.o']);
      const ran = server.events('exit').map((event) => [event.argv[0], event.exitCode]);
      expect(ran).to.deep.equal([['make', 0]]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
