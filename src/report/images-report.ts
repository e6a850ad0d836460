/** The job summary of a step with several images: one row per image, then each failure. Redacted as a whole. */
import type { ImageOutcome } from '../images/orchestrator.js';
import { formatError } from '../errors.js';
import { PHASE_TITLES } from '../pipeline/events.js';
import { fencedBlock } from './untrusted.js';
import { cell, code, plain, wrappingText } from './summary.js';

export interface ImageReport {
  outcome: ImageOutcome;
  /** warnings that did not become annotations, and the builder log tail of a failed build */
  overflow: string[];
  logTail: string[];
}

const ICON: Record<string, string> = { registered: '✅', ingesting: '⏳', failed: '❌', cancelled: '🚫', skipped: '⏭️', planned: '📝' };

export function renderImagesSummary(reports: ImageReport[], redact: (s: string) => string, planOnly = false): string {
  const outcomes = reports.map((r) => r.outcome);
  const count = (s: string) => outcomes.filter((o) => o.status === s).length;
  const hits = outcomes.filter((o) => o.cacheHit).length;
  const failed = count('failed') + count('cancelled') + count('skipped');
  const headIcon = failed ? '❌' : planOnly ? '📝' : count('ingesting') ? '⏳' : '✅';
  const parts = [
    count('registered') && `${count('registered')} registered${hits ? ` (${hits} unchanged)` : ''}`,
    count('planned') && `${count('planned')} to build`,
    count('ingesting') && `${count('ingesting')} admitting`,
    count('failed') && `${count('failed')} failed`,
    count('cancelled') && `${count('cancelled')} cancelled`,
    count('skipped') && `${count('skipped')} skipped`,
  ].filter(Boolean);
  const lines = [`## ${headIcon} Tensorlake sandbox images${planOnly ? ' (dry run)' : ''}: ${parts.join(', ')}`, ''];
  lines.push('| Image | Result | Cache | Template | Mode | Layer | Time | Why |', '|---|---|---|---|---|---:|---:|---|');
  for (const o of outcomes) {
    const r = o.result;
    const mode =
      o.entry.plan.mode === 'import'
        ? 'import'
        : `${o.entry.inputs.streaming ? 'cas-streaming' : 'ext4'}${r?.rootfsNodeKind ? `, ${r.rootfsNodeKind}` : ''}${o.entry.deps.length ? ` on ${o.entry.deps.map(code).join(', ')}` : ''}`;
    const failedIn = r?.error?.phase ? ` in ${PHASE_TITLES[r.error.phase as keyof typeof PHASE_TITLES] ?? r.error.phase}` : '';
    lines.push(
      `| ${cell(code(o.entry.name))} | ${ICON[o.status] ?? ''} ${o.status}${cell(failedIn)} | ${o.cacheHit ? 'hit' : o.digest ? 'miss' : '-'} | ${r?.templateId ? cell(code(r.templateId)) : '-'} | ${cell(mode)} | ${o.entry.layer} | ${o.ms ? `${(o.ms / 1000).toFixed(1)} s` : '-'} | ${cell(plain(o.reason ?? ''))} |`,
    );
  }
  lines.push('');
  for (const rep of reports) {
    const o = rep.outcome;
    if (!o.result?.error || o.status === 'cancelled') continue;
    lines.push(`### ${ICON[o.status]} ${code(o.entry.name)}`, '', wrappingText(formatError(o.result.error)), '');
    if (rep.logTail.length) {
      lines.push(
        `<details><summary>Last ${rep.logTail.length} builder log lines</summary>`,
        '',
        fencedBlock(rep.logTail.join('\n')),
        '',
        '</details>',
        '',
      );
    }
  }
  const warnings = reports.flatMap((rep) => [
    ...(rep.outcome.result?.warnings ?? []).map(
      (w) => `${rep.outcome.entry.name}: ${w.line !== undefined && !w.message.startsWith('line ') ? `line ${w.line}: ` : ''}${w.message}`,
    ),
    ...rep.overflow
      .filter((x) => !(rep.outcome.result?.warnings ?? []).some((w) => x.endsWith(w.message)))
      .map((x) => `${rep.outcome.entry.name}: ${x}`),
  ]);
  if (warnings.length) {
    lines.push(`### Warnings (${warnings.length})`, '');
    for (const w of warnings) lines.push(`- ${cell(plain(w))}`);
    lines.push('');
  }
  return redact(lines.join('\n'));
}
