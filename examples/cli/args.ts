// Command-line flags of one subcommand, read with node:util's parseArgs.
//
// parseArgs splits the words (--name=value, --name value, -vv, --); the
// checks here keep the CLI's own rules, which parseArgs' strict mode would
// change: a value may start with '-' (`--workdir -dir`, as the native client
// takes it), a repeated single-valued flag is an error rather than "last one
// wins", and exec's options end at the first word that is not one of them.

import { parseArgs } from 'node:util';
import { UsageError } from './usage';

/** The flags a subcommand takes: those with a value (all repeatable) and switches. */
export interface FlagSpec {
  readonly values: readonly string[];
  readonly switches: readonly string[];
  /** One-letter forms of switches: { t: 'tty' } makes `-t` mean `--tty`. */
  readonly short?: Readonly<Record<string, string>>;
  /**
   * exec: the first word that is not a long option of ours (or the one after
   * `--`) is the PROGRAM, and everything from it on is the program's, as
   * env(1) reads its command line; `sidecar exec ls -l` needs no `--`.
   */
  readonly programFollows?: boolean;
}

export interface Flags {
  /** Every value given, per flag, in order. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** How many times each switch was given (`-vv` counts two). */
  readonly switches: ReadonlyMap<string, number>;
  readonly operands: readonly string[];
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple: true; short?: string }> = Object.create(null);
  for (const name of spec.values) options[name] = { type: 'string', multiple: true };
  for (const name of spec.switches) options[name] = { type: 'boolean', multiple: true };
  const shortForms = new Set<string>();
  for (const [letter, name] of Object.entries(spec.short ?? {})) {
    Object.assign(options[name], { short: letter });
    shortForms.add(`-${letter}`);
  }
  // Not strict: unknown flags and dash-led values come back as tokens, and
  // are judged below with the CLI's messages.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const values = new Map<string, string[]>();
  const switches = new Map<string, number>();
  const operands: string[] = [];
  for (const token of tokens) {
    if (spec.programFollows && (token.kind !== 'option' || !(token.rawName.startsWith('--') || shortForms.has(token.rawName)))) {
      // Slice argv itself: parseArgs also split the program's own arguments,
      // and those must reach it word for word.
      operands.push(...argv.slice(token.kind === 'option-terminator' ? token.index + 1 : token.index));
      break;
    }
    if (token.kind === 'positional') {
      operands.push(token.value);
    } else if (token.kind === 'option') {
      if (spec.values.includes(token.name)) {
        if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value`);
        values.set(token.name, [...(values.get(token.name) ?? []), token.value]);
      } else if (spec.switches.includes(token.name)) {
        if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
        switches.set(token.name, (switches.get(token.name) ?? 0) + 1);
      } else {
        throw new UsageError(`unknown option ${token.rawName}`);
      }
    }
    // An option terminator: the words after it arrive as positional tokens.
  }
  return { values, switches, operands };
}

/** The value of a flag that may be given once, or undefined. */
export function single(flags: Flags, name: string): string | undefined {
  const given = flags.values.get(name);
  if (given === undefined) return undefined;
  if (given.length > 1) throw new UsageError(`--${name} given more than once`);
  return given[0];
}

/** The values of a repeatable flag, each also split at commas (`--allow-uid 1,2`). */
export function list(flags: Flags, name: string): string[] | undefined {
  return flags.values.get(name)?.flatMap((value) => value.split(','));
}
