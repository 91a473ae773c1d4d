// The preload's configuration, read once from the environment:
// SIDECAR_SOCKET (the server's socket) and SIDECAR_COMMANDS (comma-separated
// program basenames to route, or `*` for all). A configuration that cannot be
// followed routes nothing and says why in one line, so that a mistake in the
// environment never stops the host program.

export interface RegisterConfig {
  socket: string;
  /** null routes every command. */
  commands: ReadonlySet<string> | null;
}

export type ConfigResult = { config: RegisterConfig } | { problem: string };

/** Reads the configuration from `env`; a problem is one sentence for stderr. */
export function readConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const list = env.SIDECAR_COMMANDS;
  if (list === undefined || list.trim() === '') {
    return { problem: 'SIDECAR_COMMANDS is not set or empty, so no command is routed' };
  }
  const entries = list.split(',').map((entry) => entry.trim());
  if (entries.includes('')) {
    return { problem: `SIDECAR_COMMANDS has an empty entry (${JSON.stringify(list)}), so no command is routed` };
  }
  const withPath = entries.find((entry) => entry.includes('/'));
  if (withPath !== undefined) {
    return { problem: `SIDECAR_COMMANDS names basenames, not paths (${JSON.stringify(withPath)}), so no command is routed` };
  }
  const socket = env.SIDECAR_SOCKET;
  if (socket === undefined || socket === '') {
    return { problem: 'SIDECAR_SOCKET is not set, so no command is routed' };
  }
  if (socket.includes('\0')) {
    return { problem: 'SIDECAR_SOCKET contains a NUL byte, so no command is routed' };
  }
  return { config: { socket, commands: entries.includes('*') ? null : new Set(entries) } };
}
