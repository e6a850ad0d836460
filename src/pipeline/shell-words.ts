/**
 * POSIX-shell-like word splitting (quotes removed, backslash escapes), as the reference client uses
 * for the builder command (§7.3). Reuses the planner's shell lexer. Undefined on unbalanced quotes.
 */
import { splitRawWords, unquoteWord } from '../dockerfile/shell.js';

export function shellWords(text: string): string[] | undefined {
  const words: string[] = [];
  for (const raw of splitRawWords(text, '\\')) {
    const word = unquoteWord(raw.word, '\\');
    if (word === null) return undefined;
    words.push(word);
  }
  return words;
}
