'use strict';
// The `sidecar` CLI's shape, read from files (no process is started): its
// TypeScript sources use only node:* modules, each other and the package's
// public entry point by name, so that the CLI can only do what any user of
// sidecar-exec can; tsc checks every one of them; bin.sidecar-client is the
// launcher of the static native client; and bin.sidecar is the
// compiled entry, so `npm install -g` gets a working command.

const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const { expect } = require('chai');

const ROOT = path.join(__dirname, '..', '..');
const CLI_DIR = path.join(ROOT, 'examples', 'cli');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Every file under dir, as paths relative to it. */
function filesUnder(dir) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)));
}

/** What the CLI's own tsconfig compiles, as tsc reads it (comments allowed). */
function cliProject() {
  const file = path.join(CLI_DIR, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config, ts.sys, CLI_DIR, undefined, file);
}

describe('sidecar CLI structure', function () {
  const sources = filesUnder(CLI_DIR).filter((file) => file.endsWith('.ts'));

  it('is written in TypeScript: .ts sources and no JavaScript source left', function () {
    expect(sources).to.include('sidecar.ts');
    expect(filesUnder(CLI_DIR).filter((file) => /\.[cm]?js$/.test(file))).to.deep.equal([]);
  });

  it('imports only node:* modules, sibling CLI files and \'sidecar-exec\' (the public entry point)', function () {
    const siblings = new Set(sources.filter((file) => !file.includes(path.sep)).map((file) => `./${file.slice(0, -'.ts'.length)}`));
    const offending = [];
    for (const file of sources) {
      // preProcessFile lists import, import type, export ... from, require() and import().
      const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(CLI_DIR, file), 'utf8'), true, true);
      for (const { fileName: specifier } of importedFiles) {
        const allowed = specifier.startsWith('node:') || specifier === 'sidecar-exec' || siblings.has(specifier);
        if (!allowed) offending.push(`${file}: '${specifier}'`);
      }
    }
    expect(offending, 'imports outside node:*, ./sibling and sidecar-exec').to.deep.equal([]);
  });

  it('every source is checked by the CLI\'s tsconfig, which builds into dist/cli as part of build:ts', function () {
    const project = cliProject();
    expect(project.errors.map((error) => ts.flattenDiagnosticMessageText(error.messageText, '\n'))).to.deep.equal([]);
    const compiled = project.fileNames.map((file) => path.relative(CLI_DIR, file)).sort();
    expect(compiled).to.deep.equal([...sources].sort());
    expect(project.options.strict).to.equal(true);
    expect(path.resolve(project.options.outDir)).to.equal(path.join(ROOT, 'dist', 'cli'));
    expect(PACKAGE.scripts['build:ts']).to.include('examples/cli/tsconfig.json');
  });

  it('bin.sidecar is the compiled dist/cli/sidecar.js, shipped, present after the build, with its shebang and executable', function () {
    expect(path.normalize(PACKAGE.bin.sidecar)).to.equal(path.join('dist', 'cli', 'sidecar.js'));
    expect(PACKAGE.files).to.include('dist/');
    const bin = path.join(ROOT, PACKAGE.bin.sidecar);
    expect(fs.existsSync(bin), `${PACKAGE.bin.sidecar} does not exist: run npm run build:ts`).to.equal(true);
    expect(fs.readFileSync(bin, 'utf8').split('\n')[0]).to.equal('#!/usr/bin/env node');
    expect(fs.statSync(bin).mode & 0o111, 'not executable').to.not.equal(0);
  });

  it('bin.sidecar-client is the POSIX sh launcher, shipped with prebuilds/ (npm run build:client fills it), executable', function () {
    expect(path.normalize(PACKAGE.bin['sidecar-client'])).to.equal(path.join('bin', 'sidecar-client'));
    expect(PACKAGE.files).to.include.members(['bin/', 'prebuilds/', 'scripts/build-client.js']);
    expect(PACKAGE.scripts['build:client']).to.equal('node scripts/build-client.js');
    const launcher = path.join(ROOT, PACKAGE.bin['sidecar-client']);
    const text = fs.readFileSync(launcher, 'utf8');
    expect(text.split('\n')[0]).to.equal('#!/bin/sh');
    expect(text).to.include('prebuilds/linux-$arch/sidecar-client');
    expect(fs.statSync(launcher).mode & 0o111, 'not executable').to.not.equal(0);
  });
});
