/** docs/protocol.md §10.1: failure diagnostics (OOM and disk evidence) and the advice they produce. */
import type { SandboxProxy } from '../platform/proxy.js';
import { BUILD_DIR } from './remote-paths.js';

export const DISK_ADVICE_THRESHOLD = 95;

export const OOM_ADVICE = 'The builder ran out of memory: retry with a larger builder memory (the memory-mb input).';
export const DISK_ADVICE = 'The builder ran out of disk space: retry with a larger builder disk (the builder-disk-mb input).';

export function hasDiskSpaceEvidence(text: string): boolean {
  const t = text.toLowerCase();
  return t.includes('enospc') || t.includes('no space');
}

export function hasOomEvidence(dmesg: string): boolean {
  const t = dmesg.toLowerCase();
  return t.includes('out of memory') || t.includes('oom-kill') || t.includes('killed process');
}

/** Maximum use% across `df -P` lines (5th field ending in %); header lines ignored. */
export function maxDiskUsePercent(df: string): number | undefined {
  let max: number | undefined;
  for (const line of df.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const m = /^(\d+)%$/.exec(fields[4]);
    if (!m) continue;
    const n = Number(m[1]);
    if (max === undefined || n > max) max = n;
  }
  return max;
}

export const DMESG_SCRIPT = 'dmesg 2>/dev/null || true';
export const DF_SCRIPT = `for p in ${BUILD_DIR} /var/lib/docker /; do [ -e "$p" ] && df -P "$p" 2>/dev/null; done || true`;

export interface DiagnosticEvidence {
  oom: boolean;
  diskPercent?: number;
  diskEvidence: boolean;
}

async function collectStdout(proxy: SandboxProxy, script: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const lines: string[] = [];
    for await (const ev of proxy.runProcess({ command: '/bin/sh', args: ['-lc', script], user: 'root', timeout: 5 }, signal)) {
      if (ev.type === 'output' && ev.stream !== 'stderr') lines.push(ev.line);
    }
    return lines.join('\n');
  } catch {
    return undefined;
  }
}

export async function gatherDiagnostics(
  proxy: SandboxProxy,
  opts: { errorText: string; sawDiskEvidenceInLog: boolean; processOomKilled?: boolean; signal?: AbortSignal },
): Promise<{ evidence: DiagnosticEvidence; advice: string[] }> {
  const dmesg = await collectStdout(proxy, DMESG_SCRIPT, opts.signal);
  const df = await collectStdout(proxy, DF_SCRIPT, opts.signal);
  const evidence: DiagnosticEvidence = {
    // Departure: the reference client gives memory advice only on dmesg evidence; a builder the
    // platform reports OOM-killed is evidence enough (dmesg may be unreadable or rotated).
    oom: (dmesg !== undefined && hasOomEvidence(dmesg)) || opts.processOomKilled === true,
    diskPercent: df === undefined ? undefined : maxDiskUsePercent(df),
    diskEvidence: opts.sawDiskEvidenceInLog || hasDiskSpaceEvidence(opts.errorText),
  };
  const advice: string[] = [];
  if (evidence.oom) advice.push(OOM_ADVICE);
  if ((evidence.diskPercent ?? 0) >= DISK_ADVICE_THRESHOLD || evidence.diskEvidence) advice.push(DISK_ADVICE);
  return { evidence, advice };
}
