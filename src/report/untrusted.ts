/**
 * Text the action did not write (the builder's log, which carries the output of the user's own RUN
 * steps; fields and messages from the platform; file and directory names) must never reach the
 * runner as a workflow command. The runner reads its stdout line by line, ending a line at `\n`,
 * `\r\n` **and a lone `\r`**, and runs a line as a command when, after leading whitespace, it starts
 * with `::` (e.g. `::add-mask::`, `::stop-commands::`), or when it contains `##[` anywhere (the legacy
 * form, matched without an anchor). A forged `::stop-commands::` would make every later
 * `::add-mask::` print its secret verbatim.
 *
 * So every line the action prints with `core.info` passes through {@link neutraliseLog}: it splits the
 * text where the runner would, and puts a zero-width space (U+200B, not whitespace to the runner, so
 * its trim keeps it) in front of a leading `::` and inside every `##[`. A person reading the log sees
 * the text unchanged; the runner sees no command. Commands the action means to issue go through
 * `@actions/core`'s command functions, which escape their data (`%`, `\r`, `\n`), never through here.
 */

const ZWSP = '\u200b';
/** where the runner ends a line */
const LINE_BREAK = /\r\n|\r|\n/;
/** the legacy command marker, matched anywhere in a line */
const LEGACY_MARKER = /##\[/g;

/** `##[` (the legacy command marker, read anywhere in a line) with a zero-width space inside. */
export function breakLegacyMarkers(text: string): string {
  return text.includes('##[') ? text.replace(LEGACY_MARKER, `##${ZWSP}[`) : text;
}

/** One physical line made inert: no leading `::` (after whitespace) and no `##[`. */
function neutraliseOneLine(line: string): string {
  let out = breakLegacyMarkers(line);
  const lead = out.length - out.trimStart().length;
  if (out.startsWith('::', lead)) out = out.slice(0, lead) + ZWSP + out.slice(lead);
  return out;
}

/**
 * Makes text safe to print as log lines: split where the runner splits (so a lone `\r` cannot hide a
 * command behind an innocent prefix), each line neutralised, joined with `\n`.
 */
export function neutraliseLog(text: string): string {
  if (!text.includes('::') && !text.includes('##[')) return text.replace(/\r\n?/g, '\n');
  return text.split(LINE_BREAK).map(neutraliseOneLine).join('\n');
}

/** C0 controls but tab, DEL, C1 controls and the Unicode line/paragraph separators */
const CONTROL_CHARS = '[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u2028\\u2029]';
const CONTROL = new RegExp(CONTROL_CHARS, 'g');
const HAS_CONTROL = new RegExp(CONTROL_CHARS);

/**
 * A value from outside (a sandbox status, a template name, an id, a file name) embedded in one line
 * the action writes: control characters become visible escapes (`\n`, `\r`, `\u001b`, ...), so the
 * value can neither start a new line nor look like one.
 */
export function oneLine(value: string): string {
  return value.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** True when a name holds characters that have no place in an image name or a log line. */
export function hasControlCharacters(value: string): boolean {
  return HAS_CONTROL.test(value);
}

/**
 * Text for the job summary (Markdown rendered as HTML by GitHub): HTML special characters escaped,
 * so no tag, image or link the text carries is rendered.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A fenced Markdown code block around untrusted text: the fence is longer than any backtick run in
 * the text, so the text cannot close it and continue as Markdown.
 */
export function fencedBlock(text: string, info = 'text'): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${text}\n${fence}`;
}
