/**
 * BuildKit's `Node.Dump` of the parse tree, to compare this parser with BuildKit's `result` files
 * (the upstream parser tests). The dumped values are quoted and keywords hold no space, so the
 * ends `strings.TrimSpace` cuts are plain ASCII whitespace: JavaScript's trim() cuts the same.
 */
import { goQuote, type DockerNode, type ParsedDockerfile } from '../../../src/dockerfile/parse.js';

export function dumpNode(node: DockerNode): string {
  let s = node.value.toLowerCase();
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(' ')}]`;
  for (const c of node.children) s += `(${dumpNode(c)})\n`;
  for (let n = node.next; n; n = n.next) s += ` ${n.children.length > 0 ? dumpNode(n) : goQuote(n.value)}`;
  return s.trim();
}

/** The dump of a whole file, as BuildKit's `result` files hold it (without the final newline). */
export function dumpDockerfile(parsed: ParsedDockerfile): string {
  return parsed.instructions
    .map((i) => `(${dumpNode(i.node)})\n`)
    .join('')
    .trim();
}
