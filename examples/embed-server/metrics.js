// A sidecar server's counters as a Prometheus scrape: stats() and the
// programs' exit reasons in the text exposition format, version 0.0.4 (one
// `# HELP` and one `# TYPE` line per metric, counters named `..._total`, the
// body ending with a newline).
'use strict';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Each field of server.stats(): its metric name, type and help text. */
const STATS_METRICS = {
  connections: ['sidecar_connections', 'gauge', 'Client connections open now.'],
  running: ['sidecar_programs_running', 'gauge', 'Programs running now.'],
  queued: ['sidecar_requests_queued', 'gauge', 'Requests waiting for a free slot (maxConcurrent).'],
  bufferedBytes: ['sidecar_buffered_bytes', 'gauge', 'Bytes held for requests whose programs have not started.'],
  maxConnections: ['sidecar_max_connections', 'gauge', 'Connections the server takes at once (the limit in force).'],
  spawned: ['sidecar_programs_spawned_total', 'counter', 'Programs started.'],
  failed: ['sidecar_requests_failed_total', 'counter', 'Requests that failed to start a program (spawn errors, protocol errors, busy).'],
  denied: ['sidecar_requests_denied_total', 'counter', 'Requests and connections the policy refused.'],
};

/**
 * Why programs end ('exit' event's reason). Listed up front so that every
 * series exists from the first scrape: a rate() over a series that appears
 * only at its first increment misses that increment.
 */
const EXIT_REASONS = ['exit', 'client-signal', 'disconnect', 'maxRuntime', 'close'];

/** A label value as the format wants it: backslash, double quote and newline escaped. */
function labelValue(text) {
  return String(text).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** camelCase to snake_case, for a stats() field this table does not know yet. */
function snakeCase(name) {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-zA-Z0-9_]/g, '_');
}

/** One metric: its HELP and TYPE lines and its samples ([labels text, value] pairs). */
function family(name, type, help, samples) {
  const lines = [`# HELP ${name} ${help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines.join('\n');
}

/** Counts the programs' ends by reason, from the server's 'exit' events. */
class ExitCounts {
  constructor(server) {
    this.counts = new Map(EXIT_REASONS.map((reason) => [reason, 0]));
    server.on('exit', ({ reason }) => this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1));
  }
}

/**
 * The scrape body: every numeric field of stats() (one this table does not
 * know is still shown, untyped), whether the socket listens, and the exits
 * by reason.
 */
function renderMetrics(server, exits) {
  const parts = [];
  for (const [field, value] of Object.entries(server.stats())) {
    if (typeof value !== 'number') continue;
    const [name, type, help] = STATS_METRICS[field] ?? [`sidecar_${snakeCase(field)}`, 'untyped', `stats().${field}`];
    parts.push(family(name, type, help, [['', value]]));
  }
  parts.push(family('sidecar_listening', 'gauge', 'Whether the sidecar socket accepts connections (1) or not (0).',
    [['', server.listening ? 1 : 0]]));
  parts.push(family('sidecar_program_exits_total', 'counter', 'Programs that ended, by why they ended.',
    [...exits.counts].map(([reason, count]) => [`{reason="${labelValue(reason)}"}`, count])));
  return `${parts.join('\n')}\n`;
}

module.exports = { CONTENT_TYPE, EXIT_REASONS, ExitCounts, renderMetrics };
