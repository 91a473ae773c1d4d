'use strict';
// native/client/protocol.h, the C client's copy of the protocol constants,
// must be exactly what its generator makes of src/protocol today: the header
// is committed (node-gyp compiles the C client before any script can run), so
// a change to src/protocol/index.ts without regenerating it would go unseen.

const fs = require('node:fs');
const { expect } = require('chai');
const { render, HEADER_PATH, COMMAND } = require('../../native/client/protocol-header');

describe('native/client/protocol.h', function () {
  it('is what native/client/protocol-header.js generates from dist/protocol', function () {
    const committed = fs.readFileSync(HEADER_PATH);
    const generated = Buffer.from(render(), 'utf8');
    if (!committed.equals(generated)) {
      expect.fail(`native/client/protocol.h is out of date with src/protocol/index.ts: run \`${COMMAND}\` and commit the result`);
    }
  });

  it('defines every message type, request flag and exit reason of the protocol', function () {
    const protocol = require('../../dist/protocol');
    const text = render(protocol);
    expect(text).to.include(`#define SIDECAR_PROTOCOL_VERSION ${protocol.PROTOCOL_VERSION}\n`);
    expect(text).to.include('#define SIDECAR_MESSAGE_EXEC_MORE 2\n');
    expect(text).to.include('#define SIDECAR_REQUEST_SERVER_ENV 2\n');
    expect(text).to.include('#define SIDECAR_EXIT_REASON_MAX_RUNTIME 3\n');
    expect(text).to.include('#define SIDECAR_NO_ID (-1)\n');
    for (const [name, prefix] of [['MessageType', 'MESSAGE_'], ['RequestFlag', 'REQUEST_'], ['ExitReasonCode', 'EXIT_REASON_']]) {
      const values = Object.values(protocol[name]).filter((value) => typeof value === 'number');
      const defined = [...text.matchAll(new RegExp(`^#define SIDECAR_${prefix}\\w+ (\\d+)$`, 'gm'))].map((match) => Number(match[1]));
      expect(defined, name).to.deep.equal(values);
    }
  });

  it('refuses a protocol module whose enums do not exist at run time (const enums)', function () {
    const protocol = { ...require('../../dist/protocol'), MessageType: undefined };
    expect(() => render(protocol)).to.throw(/MessageType.*regular enum/);
  });
});
