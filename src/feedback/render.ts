/**
 * What the PR features write: a commit status (state, ≤140-character description) and the sticky
 * comment's Markdown, from one image's build result. Everything passes through the run's redactor.
 */
import { formatBytes, formatDuration } from '../format.js';
import { formatError } from '../errors.js';
import { PHASE_TITLES } from '../pipeline/events.js';
import type { BuildResult } from '../pipeline/result.js';
import { cell, code } from '../report/summary.js';
import { fencedBlock } from '../report/untrusted.js';
import type { CommitState } from './github-api.js';

export const MAX_DESCRIPTION = 140;

/** One image's outcome, as the feedback reports it. */
export interface ImageOutcome {
  /** the image name the status context and the comment marker are keyed by */
  image: string;
  result: BuildResult;
  durationMs: number;
}

export function truncate(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

/** The status's context: the input (with `{image}` replaced) or `sandbox-image/<image name>`. */
export function statusContext(template: string, image: string): string {
  return template ? template.replace(/\{image\}/g, image) : `sandbox-image/${image}`;
}

/** The hidden marker that finds this image's comment again (no `--`, so it cannot end the HTML comment). */
export function commentMarker(image: string): string {
  return `<!-- sbx-image-action:image=${encodeURIComponent(image).replace(/-/g, '%2D')} -->`;
}

export function pendingStatus(image: string): { state: CommitState; description: string } {
  return { state: 'pending', description: truncate(`Building sandbox image ${image}…`, MAX_DESCRIPTION) };
}

export function finalStatus(o: ImageOutcome, redact: (s: string) => string): { state: CommitState; description: string } {
  const r = o.result;
  const d = (text: string) => truncate(redact(text), MAX_DESCRIPTION);
  switch (r.status) {
    case 'registered':
      return { state: 'success', description: d(`Registered ${r.templateId ?? r.templateName ?? o.image}`) };
    case 'ingesting':
      return { state: 'success', description: d(`Build ${r.buildId ?? ''} accepted; admission continues (wait: false)`) };
    case 'planned':
      return { state: 'success', description: d(`Plan only: ${o.image} checked, nothing built`) };
    case 'cancelled':
      return { state: 'error', description: d(`Cancelled${r.error?.phase ? ` during ${phaseTitle(r.error.phase)}` : ''}`) };
    default:
      return { state: 'failure', description: d((r.dryRun ? 'Plan only: ' : '') + (r.error?.message.split('\n')[0] ?? 'failed')) };
  }
}

function phaseTitle(phase: string): string {
  return PHASE_TITLES[phase as keyof typeof PHASE_TITLES] ?? phase;
}

function warningCount(r: BuildResult): number {
  return r.warnings.length + (r.context?.skipped.length ?? 0);
}

export function renderComment(o: ImageOutcome, opts: { runUrl?: string; sha?: string; redact: (s: string) => string }): string {
  const r = o.result;
  const icon = { registered: '✅', ingesting: '⏳', planned: '✅', cancelled: '🚫', failed: '❌' }[r.status];
  const what = {
    registered: 'registered',
    ingesting: 'accepted, admission in progress',
    planned: 'planned (plan only: nothing was built)',
    cancelled: 'cancelled',
    failed: r.dryRun ? 'failed (plan only)' : 'failed',
  }[r.status];
  const lines = [commentMarker(o.image), `### ${icon} Sandbox image ${code(o.image)} ${what}`, ''];
  const rows: [string, string | undefined][] = [
    ['Status', r.status + (r.error?.phase ? ` in ${phaseTitle(r.error.phase)}` : '')],
    ['Template', r.templateId ? `${code(r.templateId)}${r.templateName ? ` (${code(r.templateName)})` : ''}` : undefined],
    ['Manifest URI', r.manifestUri && code(r.manifestUri)],
    ['Image digest', r.imageDigest && code(r.imageDigest)],
    ['Format', r.rootfsFormat],
    ['Base image', r.baseImage && code(r.baseImage)],
    ['Other images', r.additionalRefs?.length ? r.additionalRefs.map(code).join(', ') : undefined],
    [
      'Context',
      r.context
        ? `${r.context.fileCount} files, ${formatBytes(r.context.uncompressedBytes)} (${code(r.context.digest)})${
            r.status === 'planned' && r.context.largestFiles.length
              ? `; largest: ${r.context.largestFiles.map((f) => `${code(f.path)} ${formatBytes(f.bytes)}`).join(', ')}`
              : ''
          }`
        : undefined,
    ],
    ['Duration', formatDuration(Math.max(0, Math.round(o.durationMs)))],
    ['Warnings', String(warningCount(r))],
    ['Commit', opts.sha ? code(opts.sha.slice(0, 12)) : undefined],
  ];
  lines.push('| | |', '|---|---|');
  for (const [k, v] of rows) if (v !== undefined && v !== '') lines.push(`| ${k} | ${cell(v)} |`);
  lines.push('');
  if (r.error) lines.push('**Error**', '', fencedBlock(formatError(r.error)), '');
  if (r.status === 'planned') {
    const ignored = r.warnings.filter((w) => w.kind === 'ignored-instruction');
    lines.push(
      `No image was built (${r.dryRun?.reason === 'input' ? 'dry-run: true' : 'no credentials on a pull request from a fork'}); the Dockerfile and the build context passed every local check.` +
        (ignored.length
          ? ` Ignored instructions: ${ignored.map((w) => (w.line !== undefined ? `line ${w.line}` : w.kind)).join(', ')}.`
          : ''),
      '',
    );
  }
  if (opts.runUrl) lines.push(`[Workflow run](${opts.runUrl})`, '');
  return opts.redact(lines.join('\n'));
}
