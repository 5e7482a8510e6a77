/**
 * A rough reader of shell scripts, enough to list the commands a set-up script runs
 * (test/setup-scripts.test.ts). Not a shell parser: it knows quoting, substitutions,
 * heredocs, redirections, case patterns and arrays, which is what the scripts here use.
 *
 *   simpleCommands('x="$(id -u)" && setsid nohup dockerd &').flatMap(commandsRun)
 *   // ['id', 'setsid', 'nohup', 'dockerd']
 */

/**
 * Splits shell source into simple commands (lists of words), the commands inside `$(...)`,
 * backticks and `<(...)` included. Rough but careful where it matters here: quoted text is
 * one word (awk programs, `sh -c` strings run inside a chroot), heredoc bodies and comments
 * are skipped, case patterns are dropped, and redirections with their targets are removed.
 */
export function simpleCommands(src: string): string[][] {
  const out: string[][] = [];
  let i = 0;
  const heredocs: { delim: string; strip: boolean }[] = [];

  const skipHeredocBodies = () => {
    for (const { delim, strip } of heredocs.splice(0)) {
      while (i < src.length) {
        const end = src.indexOf('\n', i);
        const line = src.slice(i, end < 0 ? src.length : end);
        i = end < 0 ? src.length : end + 1;
        if ((strip ? line.replace(/^\t+/, '') : line) === delim) break;
      }
    }
  };

  // Skips a ${...} or $((...)) that starts at i, returning its text.
  const skipBalanced = (open: string, close: string): string => {
    const start = i;
    let depth = 0;
    while (i < src.length) {
      if (src.startsWith(open, i)) { depth++; i += open.length; continue; }
      if (src.startsWith(close, i)) { depth--; i += close.length; if (depth === 0) break; continue; }
      i++;
    }
    return src.slice(start, i);
  };

  function parse(closer: ')' | '`' | null): void {
    let cmd: string[] = [];
    let word = '';
    let inWord = false;
    let dropNext = false; // the next word is a redirection's target
    let heredocNext: boolean | null = null; // the next word is a heredoc's delimiter (<<- strips tabs)
    let subshells = 0;
    let casePattern = false; // after `case ... in` or `;;`: a pattern up to `)`, or `esac`
    const endWord = () => {
      if (!inWord) return;
      if (heredocNext !== null) heredocs.push({ delim: word, strip: heredocNext });
      else if (word === 'in' && cmd[0] === 'case') { cmd = []; casePattern = true; }
      else if (!dropNext) cmd.push(word);
      heredocNext = null;
      dropNext = false;
      word = '';
      inWord = false;
    };
    const endCmd = () => {
      endWord();
      if (cmd.length) out.push(cmd);
      cmd = [];
    };
    const substitution = (skip: number, inner: ')' | '`') => {
      i += skip;
      parse(inner);
      word += '$(…)';
      inWord = true;
    };

    while (i < src.length) {
      const c = src[i];
      if (casePattern && !inWord) {
        if (/\s/.test(c)) { i++; if (c === '\n') skipHeredocBodies(); continue; }
        if (c === '#') { while (i < src.length && src[i] !== '\n') i++; continue; }
        if (/^esac\b/.test(src.slice(i, i + 5))) { casePattern = false; continue; }
        while (i < src.length && src[i] !== ')') i++;
        i++;
        casePattern = false;
        continue;
      }
      if (closer === ')' && c === ')' && subshells === 0) { endCmd(); i++; return; }
      if (closer === '`' && c === '`') { endCmd(); i++; return; }
      if (c === '\\') {
        if (src[i + 1] !== '\n') { word += src[i + 1] ?? ''; inWord = true; }
        i += 2;
        continue;
      }
      if (c === "'") {
        const end = src.indexOf("'", i + 1);
        word += src.slice(i + 1, end);
        inWord = true;
        i = end + 1;
        continue;
      }
      if (c === '"') {
        i++;
        inWord = true;
        while (i < src.length && src[i] !== '"') {
          if (src[i] === '\\') { word += src[i + 1]; i += 2; continue; }
          if (src.startsWith('$((', i)) { word += skipBalanced('((', '))'); continue; }
          if (src.startsWith('$(', i)) { substitution(2, ')'); continue; }
          if (src[i] === '`') { substitution(1, '`'); continue; }
          if (src.startsWith('${', i)) { word += skipBalanced('{', '}'); continue; }
          word += src[i++];
        }
        i++;
        continue;
      }
      if (src.startsWith('$((', i) || src.startsWith('((', i) && !inWord) { word += skipBalanced('((', '))'); inWord = true; continue; }
      if (src.startsWith('$(', i)) { substitution(2, ')'); continue; }
      if (src.startsWith('${', i)) { word += skipBalanced('{', '}'); inWord = true; continue; }
      if (c === '`') { substitution(1, '`'); continue; }
      if (c === '#' && !inWord) {
        while (i < src.length && src[i] !== '\n') i++;
        continue;
      }
      if (c === '<' || c === '>') {
        if (/^\d+$/.test(word)) { word = ''; inWord = false; } // a file descriptor: 2>/dev/null
        endWord();
        if (src.startsWith('<(', i)) { i += 2; dropNext = false; parse(')'); continue; } // process substitution: the target of `< <(...)`
        if (src.startsWith('<<<', i)) { i += 3; dropNext = true; continue; }
        if (src.startsWith('<<', i)) {
          i += 2;
          heredocNext = src[i] === '-';
          if (heredocNext) i++;
          continue;
        }
        i++;
        if (src[i] === '>' || src[i] === '|') i++;
        if (src[i] === '&') { // >&2, 2>&1, <&-: a descriptor, not a file
          i++;
          while (/[\d-]/.test(src[i] ?? '')) i++;
          continue;
        }
        dropNext = true;
        continue;
      }
      if (src.startsWith(';;', i)) { endCmd(); i += src[i + 2] === '&' ? 3 : 2; casePattern = true; continue; }
      if (c === '(' && inWord && word.endsWith('=')) { word += skipBalanced('(', ')'); continue; } // an array: a=(x y)
      if (c === '\n' || c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
        endCmd();
        if (c === '(') subshells++;
        if (c === ')') subshells--;
        i++;
        if (c === '\n') skipHeredocBodies();
        continue;
      }
      if (c === ' ' || c === '\t') { endWord(); i++; continue; }
      word += c;
      inWord = true;
      i++;
    }
    endCmd();
  }
  parse(null);
  return out;
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'esac', '{', '}', '!', '[[', 'time', 'function', 'coproc']);
/** Commands that run the rest of their arguments as a command, and how many arguments of their own come first. */
const RUNS_NEXT: Record<string, number> = { exec: 0, nohup: 0, setsid: 0, xargs: 0, env: 0, nice: 0, sudo: 0, timeout: 1, logged: 1 };
/** Options of those that take a value as the next word. */
const OPTION_WITH_VALUE = /^-(a|n|I|L|P|d|s|E|u|g|k|-signal|-kill-after)$/;

/** The commands a simple command runs: its first word, and the command a wrapper such as `setsid nohup` or `xargs` runs. */
export function commandsRun(words: string[]): string[] {
  const found: string[] = [];
  let k = 0;
  while (k < words.length) {
    const w = words[k];
    if (KEYWORDS.has(w) || /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(w)) { k++; continue; }
    if (['for', 'select', 'case', 'in'].includes(w)) return found; // the words after these are data
    if (w === 'command') {
      if (words[k + 1] === '-v' || words[k + 1] === '-V') return found; // a lookup, not a call
      k++;
      continue;
    }
    found.push(w);
    const skipOwn = RUNS_NEXT[w];
    if (skipOwn === undefined) return found;
    k++;
    while (k < words.length && words[k].startsWith('-')) k += OPTION_WITH_VALUE.test(words[k]) ? 2 : 1;
    k += skipOwn;
  }
  return found;
}
