// The service's log: one logfmt line on stdout per event
// (`time=... event=exit uid=1000 ...`), readable by people and by log
// shippers alike. Values from clients (a program's name, a reason) are
// quoted and escaped, so that no client can forge a line or send control
// characters to a terminal, and cut at MAX_VALUE characters.
'use strict';

/** At most this many characters of one value. */
const MAX_VALUE = 200;

/** A value as logfmt wants it: bare when it is plain, else a JSON string. */
function logValue(value) {
  let text = String(value);
  if (text.length > MAX_VALUE) text = `${text.slice(0, MAX_VALUE)}...`;
  return /^[^\s"=\\\u0000-\u001f\u007f]+$/.test(text) ? text : JSON.stringify(text).replace(/\u007f/g, '\\u007f');
}

/** Writes one line: the time, the event, then `fields` in their order (undefined ones left out). */
function log(event, fields = {}) {
  let line = `time=${new Date().toISOString()} event=${event}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${logValue(value)}`;
  }
  process.stdout.write(`${line}\n`);
}

module.exports = { log, logValue };
