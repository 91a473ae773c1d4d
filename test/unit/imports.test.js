'use strict';

// The layout's rules, read from the sources' import statements (no build, no
// process): imports run one way, the two wings stay apart, files stay small.

const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('chai');

const SRC = path.join(__dirname, '..', '..', 'src');
/** The one file allowed past the size limit: the protocol codec. */
const SIZE_EXEMPT = new Set(['protocol/index.ts']);
const MAX_LINES = 350;

function sourceFiles(dir = SRC) {
  const files = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}

/** Module specifiers of every import/export ... from, import(), require() in a TypeScript file. */
function specifiers(text) {
  const found = [];
  const patterns = [/\bfrom\s+'([^']+)'/g, /\bimport\s+'([^']+)'/g, /\bimport\(\s*'([^']+)'\s*\)/g, /\brequire\(\s*'([^']+)'\s*\)/g];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The src-relative file a relative specifier names, or null for packages and node: modules. */
function resolveLocal(from, specifier) {
  if (!specifier.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) return path.relative(SRC, candidate);
  }
  // A relative import leaving src/ (types/ for the public contract).
  return path.relative(SRC, base);
}

function graph() {
  const edges = new Map();
  for (const file of sourceFiles()) {
    const rel = path.relative(SRC, file);
    const text = fs.readFileSync(file, 'utf8');
    edges.set(rel, specifiers(text).map((s) => resolveLocal(file, s)).filter((target) => target !== null));
  }
  return edges;
}

function wing(rel) {
  return rel.split(path.sep)[0];
}

describe('src/ layout', function () {
  const edges = graph();

  it('reads a non-trivial tree (the checks below see real files)', function () {
    expect(edges.size).to.be.greaterThan(20);
    expect(edges.get('client/spawn.ts')).to.include('client/child-process.ts');
  });

  it('has no import cycle', function () {
    const state = new Map();
    const cycles = [];
    const visit = (node, trail) => {
      if (state.get(node) === 'done' || !edges.has(node)) return;
      if (state.get(node) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
        return;
      }
      state.set(node, 'open');
      for (const next of edges.get(node)) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).to.deep.equal([]);
  });

  it('keeps the wings apart: nothing in server/ imports client/, nor the reverse', function () {
    const crossings = [];
    for (const [from, targets] of edges) {
      for (const target of targets) {
        const pair = [wing(from), wing(target)];
        if ((pair[0] === 'server' && pair[1] === 'client') || (pair[0] === 'client' && pair[1] === 'server')) {
          crossings.push(`${from} -> ${target}`);
        }
      }
    }
    expect(crossings).to.deep.equal([]);
  });

  it('lets only the package entry reach both wings', function () {
    const both = [...edges].filter(([, targets]) => targets.some((t) => wing(t) === 'server') && targets.some((t) => wing(t) === 'client'))
      .map(([from]) => from);
    expect(both.sort()).to.deep.equal(['index.ts']);
  });

  it('keeps the shared modules below the wings: signals, validate, errors, protocol, transport and binding import no wing', function () {
    const upward = [];
    for (const [from, targets] of edges) {
      if (['client', 'server', 'register', 'index.ts', 'contract.ts'].includes(wing(from))) continue;
      for (const target of targets) if (wing(target) === 'client' || wing(target) === 'server') upward.push(`${from} -> ${target}`);
    }
    expect(upward).to.deep.equal([]);
  });

  it('keeps the register preload on top: it imports the client only, and nothing imports it', function () {
    const wrong = [];
    for (const [from, targets] of edges) {
      for (const target of targets) {
        if (wing(target) === 'register' && wing(from) !== 'register') wrong.push(`${from} -> ${target}`);
        if (wing(from) === 'register' && wing(target) === 'server') wrong.push(`${from} -> ${target}`);
      }
    }
    expect(edges.get('register/index.ts')).to.include('register/routes.ts');
    expect(wrong).to.deep.equal([]);
  });

  it('reaches the addon only through binding/', function () {
    const direct = [];
    for (const file of sourceFiles()) {
      const rel = path.relative(SRC, file);
      if (wing(rel) === 'binding') continue;
      const text = fs.readFileSync(file, 'utf8');
      if (/node-gyp-build|\.node['"]/.test(text)) direct.push(rel);
    }
    expect(direct).to.deep.equal([]);
  });

  it(`has no file over ${MAX_LINES} lines but the protocol codec`, function () {
    const large = sourceFiles()
      .map((file) => [path.relative(SRC, file), fs.readFileSync(file, 'utf8').split('\n').length - 1])
      .filter(([rel, lines]) => lines > MAX_LINES && !SIZE_EXEMPT.has(rel))
      .map(([rel, lines]) => `${rel}: ${lines} lines`);
    expect(large).to.deep.equal([]);
  });
});
