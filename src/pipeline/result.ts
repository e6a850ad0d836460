import type { ActionError } from '../errors.js';
import type { Phase } from './events.js';
import type { PlanWarning } from '../dockerfile/plan.js';
import type { Template } from '../platform/types.js';

export type BuildStatusOutcome = 'registered' | 'ingesting' | 'failed' | 'cancelled';

export interface ContextSummary {
  digest: string;
  archiveDigest: string;
  fileCount: number;
  dirCount: number;
  symlinkCount: number;
  uncompressedBytes: number;
  compressedBytes: number;
  skipped: { path: string; reason: string }[];
}

export interface BuildResult {
  status: BuildStatusOutcome;
  name?: string;
  mode: 'dockerfile' | 'import';
  rootfsFormat: 'ext4' | 'cas-streaming';
  rootfsNodeKind?: string;
  baseImage?: string;
  parentTemplate?: string;
  buildId?: string;
  builderSandboxId?: string;
  sandboxDeleted: boolean;
  snapshotId?: string;
  template?: Template;
  templateId?: string;
  templateName?: string;
  manifestUri?: string;
  imageDigest?: string;
  imageSizeBytes?: number;
  rootfsDiskBytes?: number;
  context?: ContextSummary;
  warnings: PlanWarning[];
  timings: { phase: Phase; ms: number; outcome: 'ok' | 'failed' | 'skipped' }[];
  admissionPolls: number;
  error?: ActionError;
}
