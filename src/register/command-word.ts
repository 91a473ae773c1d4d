// Which command a child_process call runs, as the routing decides it: the
// basename of `file`, or for a shell command line the first word that the
// shell would run. The line is read as sh reads a simple command: leading
// NAME=value assignments are skipped, quotes and backslashes are removed from
// the command word. A line whose command word the shell would work out only
// at run time (an expansion, a glob, a reserved word, a redirection or
// subshell first) has no word here, so that a name is never guessed.

/** Characters that end a word and start an operator. */
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')']);
const BLANKS = new Set([' ', '\t', '\n']);
/** Words that make the line a compound command, not a program to run. */
const RESERVED = new Set([
  '!', '{', '}', 'case', 'coproc', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'function', 'if', 'in',
  'select', 'then', 'time', 'until', 'while', '[[', ']]',
]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

interface Word {
  /** The word with its quoting removed. */
  text: string;
  /** The word as written. */
  raw: string;
  /** True when the shell would expand it ($, backquote, or an unquoted glob). */
  expands: boolean;
  end: number;
}

/** The characters a backslash keeps its meaning before, inside double quotes. */
const DOUBLE_QUOTED_ESCAPES = '$`"\\\n';

/** The word starting at `start`, or null for an unterminated quote. */
function readWord(line: string, start: number): Word | null {
  let text = '';
  let expands = false;
  let i = start;
  while (i < line.length) {
    const c = line[i]!;
    if (BLANKS.has(c) || OPERATORS.has(c)) break;
    if (c === '\\') {
      if (i + 1 < line.length && line[i + 1] !== '\n') text += line[i + 1];
      i += 2;
    } else if (c === '\'') {
      const close = line.indexOf('\'', i + 1);
      if (close === -1) return null;
      text += line.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        const d = line[i]!;
        if (d === '\\' && i + 1 < line.length && DOUBLE_QUOTED_ESCAPES.includes(line[i + 1]!)) {
          text += line[i + 1];
          i += 2;
          continue;
        }
        if (d === '$' || d === '`') expands = true;
        text += d;
        i++;
      }
      if (i >= line.length) return null;
      i++;
    } else {
      if ('$`*?['.includes(c)) expands = true;
      text += c;
      i++;
    }
  }
  return { text, raw: line.slice(start, i), expands, end: i };
}

/** The last path component of a program name; '' when it has none. */
export function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

/** The basename of the program a shell command line runs first, or null when it cannot be known before it runs. */
export function commandWord(line: string): string | null {
  let i = 0;
  for (;;) {
    while (i < line.length && BLANKS.has(line[i]!)) i++;
    if (i >= line.length || OPERATORS.has(line[i]!)) return null;
    const word = readWord(line, i);
    if (word === null) return null;
    i = word.end;
    if (ASSIGNMENT.test(word.raw)) continue;
    if (word.expands || RESERVED.has(word.raw) || word.text.startsWith('~')) return null;
    const name = baseName(word.text);
    return name === '' ? null : name;
  }
}
