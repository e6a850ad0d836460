/**
 * What a build tells the outside world while it runs. The pipeline only emits; the reporter (GitHub
 * log groups, annotations) or a test collects. One sink per build, so several builds can run at once.
 */
import type { PlanWarning } from '../dockerfile/plan.js';

export type Phase = 'plan' | 'package' | 'prepare' | 'sandbox' | 'upload' | 'build' | 'complete' | 'admission' | 'cleanup';

export const PHASE_TITLES: Record<Phase, string> = {
  plan: 'Plan',
  package: 'Package',
  prepare: 'Prepare',
  sandbox: 'Builder sandbox',
  upload: 'Upload context',
  build: 'Build',
  complete: 'Complete',
  admission: 'Admission',
  cleanup: 'Cleanup',
};

export interface TransferProgress {
  kind: 'archive' | 'upload';
  bytes: number;
  totalBytes: number;
  percent: number;
  /** bytes per second since the transfer began */
  rate: number;
  files?: number;
  totalFiles?: number;
}

export interface BuildEvents {
  phaseStart(phase: Phase): void;
  phaseEnd(phase: Phase, outcome: 'ok' | 'failed' | 'skipped', ms: number): void;
  status(message: string): void;
  buildLog(stream: 'stdout' | 'stderr', line: string): void;
  progress(p: TransferProgress): void;
  planWarning(w: PlanWarning, file?: string): void;
  warning(message: string): void;
  /** About to create a builder sandbox with this name: record it so that a sandbox whose create
   * answer never arrived (cancelled, killed) can still be found by name and deleted. */
  sandboxNaming(name: string): void;
  /** No sandbox with this name can be left (deleted, or swept by name). */
  sandboxNameSettled(name: string): void;
  /** The builder sandbox exists: record it so a post step can delete it if this process dies. */
  sandboxCreated(id: string): void;
  sandboxDeleted(id: string): void;
}
