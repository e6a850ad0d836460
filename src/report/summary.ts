/**
 * The job summary as Markdown: result, identity of the image, sizes, context, timings, warnings and
 * the error with its advice. Written on success, failure and cancellation; redacted as a whole.
 */
import type { BuildResult } from '../pipeline/result.js';
import { PHASE_TITLES } from '../pipeline/events.js';
import { formatBytes } from '../format.js';
import { LARGE_CONTEXT_BYTES, describeEntries } from '../context/footprint.js';
import { formatError } from '../errors.js';
import { escapeHtml, fencedBlock, oneLine } from './untrusted.js';

/** A table cell: `|` would end it and a line break would end the table. Values are escaped already. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** Plain text from outside (warnings quoting file names, ...): no HTML, no line breaks. */
export function plain(text: string): string {
  return escapeHtml(oneLine(text));
}

/** An inline code span: Markdown renders its content literally, so only backticks and breaks matter. */
export function code(text: string): string {
  return '`' + oneLine(text).replace(/`/g, "'") + '`';
}

/**
 * Text from outside as a paragraph that wraps (a code block would keep a long message on one
 * unbroken line): an HTML block of escaped text, each line ended by `<br>` so that no line is blank
 * (a blank line would end the block and hand the rest to Markdown).
 */
export function wrappingText(text: string): string {
  const body = text
    .split(/\r\n|\r|\n/)
    .map((l) => `${escapeHtml(oneLine(l))}<br>`)
    .join('\n');
  return `<p>\n${body}\n</p>`;
}

export function renderSummary(r: BuildResult, extraWarnings: string[], redact: (s: string) => string, logTail: string[] = []): string {
  const icon =
    r.status === 'registered' || r.status === 'planned' ? '✅' : r.status === 'ingesting' ? '⏳' : r.status === 'cancelled' ? '🚫' : '❌';
  const headline =
    r.status === 'registered'
      ? 'registered'
      : r.status === 'ingesting'
        ? 'submitted, admission in progress'
        : r.status === 'planned'
          ? 'planned (plan only: nothing was built)'
          : r.status === 'cancelled'
            ? 'cancelled'
            : r.dryRun
              ? 'failed (plan only)'
              : 'failed';
  const lines: string[] = [];
  lines.push(`## ${icon} Tensorlake sandbox image ${r.name ? code(r.name) + ' ' : ''}${headline}`, '');
  const rows: [string, string | undefined][] = [
    ['Result', r.status],
    ['Failed in', r.error?.phase ? (PHASE_TITLES[r.error.phase as keyof typeof PHASE_TITLES] ?? r.error.phase) : undefined],
    ['Template id', r.templateId && code(r.templateId)],
    ['Template name', r.templateName && code(r.templateName)],
    // ext4 builds register a snapshot; cas-streaming builds a content-addressed manifest
    [r.rootfsFormat === 'cas-streaming' ? 'Manifest URI' : 'Snapshot URI', r.manifestUri && code(r.manifestUri)],
    ['Image digest', r.imageDigest && code(r.imageDigest)],
    ['Build id', r.buildId && code(r.buildId)],
    [
      'Builder sandbox',
      r.builderSandboxId && `${code(r.builderSandboxId)}${r.sandboxDeleted ? ' (deleted)' : ' (NOT deleted: the post step retries)'}`,
    ],
    ['Format', r.rootfsFormat === 'cas-streaming' ? 'cas-streaming (content-addressed streaming)' : 'ext4'],
    [
      'Mode',
      r.mode === 'import'
        ? 'import'
        : r.rootfsNodeKind
          ? `Dockerfile, ${r.rootfsNodeKind}${r.parentTemplate ? ` of ${code(r.parentTemplate)}` : ''}`
          : 'Dockerfile',
    ],
    ['Base image', r.baseImage && code(r.baseImage)],
    ['Other images', r.additionalRefs?.length ? r.additionalRefs.map(code).join(', ') : undefined],
    [
      'Plan only',
      r.dryRun
        ? r.dryRun.reason === 'input'
          ? 'dry-run: true'
          : 'a pull request from a fork, without credentials (dry-run: auto)'
        : undefined,
    ],
    ['Snapshot id', r.snapshotId && code(r.snapshotId)],
    ['Image size', r.imageSizeBytes !== undefined ? `${formatBytes(r.imageSizeBytes)} (${r.imageSizeBytes} bytes)` : undefined],
    ['Target rootfs', r.rootfsDiskBytes !== undefined ? formatBytes(r.rootfsDiskBytes) : undefined],
    ['Admission polls', r.admissionPolls ? String(r.admissionPolls) : undefined],
  ];
  const f = r.contextFootprint;
  if (f) {
    // the files are in the Largest files row (from the archive); the directories come from planning
    rows.push([
      'Context size',
      `${formatBytes(f.totalBytes)} in ${f.fileCount} files${f.totalBytes > LARGE_CONTEXT_BYTES ? ` (more than ${formatBytes(LARGE_CONTEXT_BYTES)})` : ''}` +
        (f.largestDirectories.length ? `; largest directories: ${plain(describeEntries(f.largestDirectories))}` : ''),
    ]);
  }
  if (r.context) {
    const c = r.context;
    rows.push(
      ['Context digest', code(c.digest)],
      [
        'Context',
        `${c.fileCount} files, ${c.dirCount} directories, ${c.symlinkCount} symlinks; ${formatBytes(c.uncompressedBytes)} → ${formatBytes(c.compressedBytes)} compressed`,
      ],
      [
        'Largest files',
        c.largestFiles.length ? c.largestFiles.map((f) => `${code(f.path)} (${formatBytes(f.bytes)})`).join(', ') : undefined,
      ],
    );
  }
  // the first row is the table's header: no empty header row above the facts
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '');
  shown.forEach(([k, v], i) => {
    lines.push(`| ${k} | ${cell(v)} |`);
    if (i === 0) lines.push('|---|---|');
  });
  lines.push('');
  if (r.error) {
    lines.push('### Error', '', wrappingText(formatError(r.error)), '');
    if (logTail.length) {
      lines.push(
        `<details><summary>Last ${logTail.length} builder log lines</summary>`,
        '',
        fencedBlock(logTail.join('\n')),
        '',
        '</details>',
        '',
      );
    }
  }
  if (r.status === 'planned') {
    const ignored = r.warnings.filter((w) => w.kind === 'ignored-instruction');
    lines.push(
      '### What a build would do',
      '',
      `- ${r.mode === 'import' ? `Import ${r.baseImage ? code(r.baseImage) : 'the image'}` : `Build from ${r.baseImage ? code(r.baseImage) : 'the Dockerfile'}`} as ${r.name ? code(r.name) : 'the image'}, ${r.rootfsFormat}; whether it is a base or a diff build depends on the templates the platform has registered.`,
      `- Ignored instructions: ${ignored.length ? ignored.map((w) => (w.line !== undefined ? `line ${w.line}` : w.kind)).join(', ') : 'none'}.`,
      '- Not checked without the platform: credentials, registered templates, sizes, the builder run and admission.',
      '',
    );
  }
  if (r.timings.length) {
    lines.push('### Timings', '', '| Phase | Time | Outcome |', '|---|---:|---|');
    for (const t of r.timings) {
      const alongside = t.alongsideMs !== undefined ? ` (took ${(t.alongsideMs / 1000).toFixed(2)} s alongside the phases before it)` : '';
      lines.push(`| ${PHASE_TITLES[t.phase]} | ${(t.ms / 1000).toFixed(2)} s${alongside} | ${t.outcome} |`);
    }
    lines.push('');
  }
  const warnings = [
    ...r.warnings.map((w) => `${w.line !== undefined && !w.message.startsWith('line ') ? `line ${w.line}: ` : ''}${w.message}`),
    ...extraWarnings.filter((w) => !r.warnings.some((pw) => w.endsWith(pw.message))),
  ];
  if (r.context?.skipped.length) for (const s of r.context.skipped) warnings.push(`context: skipped ${s.path}: ${s.reason}`);
  if (warnings.length) {
    lines.push(`### Warnings (${warnings.length})`, '');
    for (const w of warnings) lines.push(`- ${plain(w)}`);
    lines.push('');
  }
  return redact(lines.join('\n'));
}
