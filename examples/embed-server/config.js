// The service's settings: each from a flag, else from the environment (as a
// container's manifest sets it), else a default.
'use strict';

const { parseArgs } = require('node:util');

const USAGE = `usage: node server.js --socket PATH [--port N] [--host ADDR] [--close-timeout MS] [--mode OCTAL] [--group GID]
  --socket PATH        the sidecar socket (env SIDECAR_SOCKET); required
  --port N             the HTTP port (env HTTP_PORT); default 0, any free port, said in the ready line
  --host ADDR          the HTTP address (env HTTP_HOST); default 127.0.0.1 (0.0.0.0 for a scraper outside the pod)
  --close-timeout MS   on SIGTERM, how long running programs may finish before they are signalled
                       (env SIDECAR_CLOSE_TIMEOUT); default 10000
  --mode OCTAL         the socket file's mode, e.g. 0660 (env SIDECAR_SOCKET_MODE); default 0600
  --group GID          the socket file's group (env SIDECAR_SOCKET_GROUP); default the service's`;

/** A bad flag or setting: said with the usage, exit status 2. */
class ConfigError extends Error {}

/** FLAG -> [environment variable, default]. */
const SETTINGS = {
  socket: ['SIDECAR_SOCKET', undefined],
  port: ['HTTP_PORT', '0'],
  host: ['HTTP_HOST', '127.0.0.1'],
  'close-timeout': ['SIDECAR_CLOSE_TIMEOUT', '10000'],
  mode: ['SIDECAR_SOCKET_MODE', undefined],
  group: ['SIDECAR_SOCKET_GROUP', undefined],
};

function integer(name, text, max) {
  if (!/^\d+$/.test(text) || Number(text) > max) throw new ConfigError(`--${name} must be an integer from 0 to ${max}: ${text}`);
  return Number(text);
}

/** { socketPath, port, host, serverOptions } from argv and env; throws ConfigError. */
function readConfig(argv = process.argv.slice(2), env = process.env) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(SETTINGS).map((name) => [name, { type: 'string' }])),
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError(error.message);
  }
  const setting = (name) => values[name] ?? (env[SETTINGS[name][0]] || SETTINGS[name][1]);
  const socketPath = setting('socket');
  if (socketPath === undefined) throw new ConfigError('--socket PATH (or SIDECAR_SOCKET) is required');
  const serverOptions = { closeTimeout: integer('close-timeout', setting('close-timeout'), 2 ** 31 - 1) };
  const mode = setting('mode');
  if (mode !== undefined) {
    if (!/^[0-7]{3,4}$/.test(mode) || Number.parseInt(mode, 8) > 0o777) throw new ConfigError(`--mode must be octal up to 0777, as 0660: ${mode}`);
    serverOptions.mode = Number.parseInt(mode, 8);
  }
  const group = setting('group');
  if (group !== undefined) serverOptions.group = integer('group', group, 2 ** 32 - 2);
  return { socketPath, port: integer('port', setting('port'), 65535), host: setting('host'), serverOptions };
}

module.exports = { ConfigError, USAGE, readConfig };
