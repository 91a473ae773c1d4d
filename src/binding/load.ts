// Finding and loading the addon's .node file. node-gyp-build picks it: one
// built from source (build/Release) first, then the prebuilt one of this
// platform and architecture (prebuilds/linux-<arch>/node.napi.glibc.node,
// made by `npm run prebuild`). The package has no install script
// (docs/install.md), so where neither fits, the error says so here, at
// first use, with the one command that builds it and the tools it needs.
//
// The prebuilds are for glibc. node-gyp-build tells musl only by
// /etc/alpine-release; here the C library is read from the running Node.js
// binary itself (the dynamic loader it names), so that a glibc prebuild is
// never handed to a musl Node.js on any distribution.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { SidecarError } from '../errors/codes';

/** The command that builds the addon from source inside an installed package. */
export const BUILD_COMMAND = 'npm explore sidecar-exec -- npm run build:native';

/** What a from-source build runs: node-gyp (bundled with npm) needs these on PATH. */
const BUILD_TOOLS: ReadonlyArray<{ name: string; anyOf: string[] }> = [
  { name: 'python3', anyOf: ['python3', 'python'] },
  { name: 'make', anyOf: ['make'] },
  { name: 'g++', anyOf: [process.env.CXX ?? 'g++', 'g++', 'c++', 'clang++'] },
];

type Libc = 'glibc' | 'musl' | 'unknown';

interface ReportHeader {
  header?: { glibcVersionRuntime?: string };
  sharedObjects?: string[];
}

/**
 * The ELF interpreter (PT_INTERP) that `file` names, e.g.
 * /lib64/ld-linux-x86-64.so.2 or /lib/ld-musl-aarch64.so.1; null for a static
 * or unreadable file. 32 and 64-bit, either byte order.
 */
export function elfInterpreter(file: string): string | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const read = (position: number, length: number): DataView => {
      const bytes = Buffer.alloc(length);
      const got = fs.readSync(fd as number, bytes, 0, length, position);
      return new DataView(bytes.buffer, bytes.byteOffset, got);
    };
    const ident = read(0, 64);
    if (ident.byteLength < 52 || ident.getUint32(0) !== 0x7f454c46) return null;
    const is64 = ident.getUint8(4) === 2;
    const little = ident.getUint8(5) === 1;
    const word = (view: DataView, at: number): number => (is64 ? Number(view.getBigUint64(at, little)) : view.getUint32(at, little));
    const tableAt = word(ident, is64 ? 0x20 : 0x1c);
    const entrySize = ident.getUint16(is64 ? 0x36 : 0x2a, little);
    const count = ident.getUint16(is64 ? 0x38 : 0x2c, little);
    const table = read(tableAt, entrySize * count);
    for (let entry = 0; entry + entrySize <= table.byteLength; entry += entrySize) {
      if (table.getUint32(entry, little) !== 3) continue; // PT_INTERP
      const offset = word(table, entry + (is64 ? 8 : 4));
      const size = word(table, entry + (is64 ? 32 : 16));
      const text = read(offset, Math.min(size, 4096));
      return Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1').replace(/\0.*$/s, '');
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * The C library this Node.js runs on, from the dynamic loader its binary
 * names (musl's is ld-musl-<arch>.so.1, glibc's ld-linux*.so.* or ld64.so.*).
 * Where that says nothing (a static binary), Node's diagnostic report, which
 * is slower: glibc gives its version there, and musl's loader is among the
 * shared objects.
 */
export function runtimeLibc(execPath = process.execPath): Libc {
  const loader = path.basename(elfInterpreter(execPath) ?? '');
  if (loader.startsWith('ld-musl-')) return 'musl';
  if (/^ld(-linux.*|64)?\.so\.\d+$/.test(loader)) return 'glibc';
  const report = process.report.getReport() as ReportHeader;
  if (typeof report.header?.glibcVersionRuntime === 'string') return 'glibc';
  if ((report.sharedObjects ?? []).some((object) => /^(ld-musl-|libc\.musl-)/.test(path.basename(object)))) return 'musl';
  return 'unknown';
}

/** The tools of BUILD_TOOLS that no directory of PATH has. */
export function missingBuildTools(searchPath = process.env.PATH ?? ''): string[] {
  const dirs = searchPath.split(path.delimiter).filter((dir) => dir !== '');
  const found = (command: string): boolean => dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  return BUILD_TOOLS.filter((tool) => !tool.anyOf.some(found)).map((tool) => tool.name);
}

/** How to get an addon when none loads: the command, and what it needs that is missing here. */
function buildAdvice(): string {
  const missing = missingBuildTools();
  const needs = missing.length === 0 ? 'python3, make and g++ are all on PATH'
    : `it needs python3, make and g++; missing here: ${missing.join(', ')}`;
  return `build it from source with \`${BUILD_COMMAND}\` (${needs})`;
}

/** The C library a prebuild is tagged for (node.napi.glibc.node: glibc), or null for a file built from source. */
function prebuildLibc(file: string): string | null {
  if (path.basename(path.dirname(path.dirname(file))) !== 'prebuilds') return null;
  const tags = path.basename(file).split('.');
  return tags.includes('musl') ? 'musl' : tags.includes('glibc') ? 'glibc' : null;
}

/** Loads the addon from the package at `root`; throws ERR_SIDECAR_ADDON saying what to do when none fits. */
export function loadAddon<T>(root: string): T {
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  const target = `${process.platform}-${process.arch}`;
  let file: string | undefined;
  try {
    file = nodeGypBuild.resolve(root);
  } catch {
    file = undefined; // "No native build was found": neither built nor prebuilt for this target
  }
  const wanted = file === undefined ? null : prebuildLibc(file);
  // Asked only where it matters: a build from source is this system's own.
  const libc = file === undefined || wanted !== null ? runtimeLibc() : undefined;
  if (file === undefined || (wanted !== null && wanted !== libc)) {
    const shipped = 'the package ships linux-x64 and linux-arm64 for glibc 2.28 or later';
    throw new SidecarError('ERR_SIDECAR_ADDON', `sidecar-exec: no prebuilt native addon fits ${target} with ${libc} libc`
      + ` (${shipped}), and none was built from source: ${buildAdvice()}`, { platform: target, libc });
  }
  try {
    return require(file) as T;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new SidecarError('ERR_SIDECAR_ADDON', `sidecar-exec: the native addon ${file} cannot be loaded here (${reason}):`
      + ` ${buildAdvice()}`, { path: file }, error);
  }
}
