'use strict';
// The package's export lists: the names the CommonJS entry exports when
// loaded, the values types/index.d.ts declares (following its
// `export * from`) and the names src/index.mjs exports must be the same, so
// that a name added to one cannot be missing from another. The two files are
// parsed as text with TypeScript's parser (no type checking, no process);
// test/integration/package.test.js loads the entries as users do.

const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const { expect } = require('chai');

const ROOT = path.join(__dirname, '..', '..');
const manifest = require('../../package.json');

function parse(file) {
  return ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

function isExported(node) {
  const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) : undefined;
  return (modifiers || []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
}

/** Names bound by a declaration's name: an identifier, or every name of a destructuring pattern. */
function boundNames(name) {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : boundNames(element.name)));
}

/** Whether a namespace declares values (not only types): only then is it a value at run time. */
function isInstantiated(namespace) {
  const body = namespace.body;
  if (body === undefined) return false;
  if (ts.isModuleDeclaration(body)) return isInstantiated(body);
  return body.statements.some((statement) => ts.isVariableStatement(statement) || ts.isFunctionDeclaration(statement)
    || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)
    || (ts.isModuleDeclaration(statement) && isInstantiated(statement)));
}

/**
 * The value names a module exports (types and interfaces left out; the
 * default export too, which CommonJS has no name for), read from its text.
 * `export * from './x'` and `export { ... } from './x'` are followed into
 * ./x.d.ts (declarations) or ./x (any other file).
 */
function exportedValues(file) {
  const names = new Set();
  const source = parse(file);
  const target = (specifier) => {
    const base = path.resolve(path.dirname(file), specifier.text);
    return file.endsWith('.d.ts') && !base.endsWith('.d.ts') ? `${base}.d.ts` : base;
  };
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
      if (statement.exportClause === undefined) {
        for (const name of exportedValues(target(statement.moduleSpecifier))) names.add(name);
      } else if (ts.isNamedExports(statement.exportClause)) {
        for (const element of statement.exportClause.elements) if (!element.isTypeOnly) names.add(element.name.text);
      } else {
        names.add(statement.exportClause.name.text); // export * as name from
      }
      continue;
    }
    if (!isExported(statement)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) for (const name of boundNames(declaration.name)) names.add(name);
    } else if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) {
      const isDefault = (ts.getModifiers(statement) || []).some((modifier) => modifier.kind === ts.SyntaxKind.DefaultKeyword);
      if (!isDefault) names.add(statement.name.text);
    } else if (ts.isModuleDeclaration(statement) && isInstantiated(statement)) {
      names.add(statement.name.text);
    }
  }
  return [...names].sort();
}

describe('package export lists', function () {
  const cjs = Object.keys(require('../..')).sort();
  const types = exportedValues(path.join(ROOT, manifest.types));
  const esm = exportedValues(path.join(ROOT, manifest.exports['.'].import));

  /** Both ways: what only `a` has and what only `b` has, for a readable failure. */
  const missing = (from, names) => from.filter((name) => !names.includes(name));

  it('the entries and the types are the ones package.json names', function () {
    expect(manifest.main).to.equal(manifest.exports['.'].require);
    expect(manifest.types).to.equal(manifest.exports['.'].types);
    expect(require.resolve('../..')).to.equal(path.join(ROOT, manifest.main));
  });

  it('the CommonJS entry has the public API', function () {
    expect(cjs).to.include.members(['PROTOCOL_VERSION', 'RemoteChildProcess', 'SidecarError', 'SidecarServer', 'createServer',
      'isSidecarError', 'remoteSpawn', 'stopServer']);
    expect(require('../..').PROTOCOL_VERSION).to.equal(1);
  });

  it('types/index.d.ts declares exactly the values the CommonJS entry exports', function () {
    expect(missing(cjs, types), 'exported by the CommonJS entry, not declared in the types').to.deep.equal([]);
    expect(missing(types, cjs), 'declared in the types, not exported by the CommonJS entry').to.deep.equal([]);
    expect(types).to.deep.equal(cjs);
  });

  it('src/index.mjs exports exactly the names of the CommonJS entry', function () {
    expect(missing(cjs, esm), 'exported by the CommonJS entry, not by src/index.mjs').to.deep.equal([]);
    expect(missing(esm, cjs), 'exported by src/index.mjs, not by the CommonJS entry').to.deep.equal([]);
    expect(esm).to.deep.equal(cjs);
  });
});
