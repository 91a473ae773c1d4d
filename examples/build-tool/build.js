#!/usr/bin/env node
// A small build driver, written against node:child_process only, as build
// tools are: it runs `make` in the output directory, then runs the program it
// built. Nothing here knows about sidecar-exec; run it with the register
// preload and `make` (with the compiler it calls) runs in the sidecar's
// container instead (see README.md).
//
// usage: node build.js [OUTPUT_DIR]   (default: ./out)

'use strict';

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const source = __dirname;
const output = path.resolve(process.argv[2] ?? path.join(source, 'out'));

function run(file, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} ${args.join(' ')} failed: ${signal ?? `exit status ${code}`}`));
    });
  });
}

async function main() {
  fs.mkdirSync(output, { recursive: true });
  const jobs = String(Math.max(1, Math.min(4, require('node:os').availableParallelism())));
  await run('make', ['-f', path.join(source, 'Makefile'), `SRC=${path.join(source, 'src')}`, '-j', jobs], { cwd: output });
  // The program is on the shared directory: it runs here like any other.
  const greeting = await new Promise((resolve, reject) => {
    execFile(path.join(output, 'hello'), ['build-tool'], (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  process.stdout.write(`built ${path.join(output, 'hello')}; it says: ${greeting}`);
}

main().catch((error) => {
  process.stderr.write(`build failed: ${error.message}\n`);
  process.exitCode = 1;
});
