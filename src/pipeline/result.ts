import type { ActionError } from '../errors.js';
import type { Phase } from './events.js';
import type { PlanWarning } from '../dockerfile/plan.js';
import type { Template } from '../platform/types.js';
import type { DryRun } from '../inputs.js';
import type { ContextFootprint } from '../context/footprint.js';

/** `planned`: a plan-only run (dry-run) that found nothing a real build would fail on. */
export type BuildStatusOutcome = 'registered' | 'ingesting' | 'planned' | 'failed' | 'cancelled';

export interface ContextSummary {
  digest: string;
  archiveDigest: string;
  fileCount: number;
  dirCount: number;
  symlinkCount: number;
  uncompressedBytes: number;
  compressedBytes: number;
  largestFiles: { path: string; bytes: number }[];
  skipped: { path: string; reason: string }[];
}

export interface BuildResult {
  status: BuildStatusOutcome;
  name?: string;
  mode: 'dockerfile' | 'import';
  rootfsFormat: 'ext4' | 'cas-streaming';
  rootfsNodeKind?: string;
  baseImage?: string;
  /** the other images the Dockerfile names (COPY --from, later stages' FROM), in order */
  additionalRefs?: string[];
  /** set on a plan-only run: why it did not build */
  dryRun?: DryRun;
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
  /** the context measured while planning (size, largest entries) */
  contextFootprint?: ContextFootprint;
  warnings: PlanWarning[];
  /**
   * `ms`: how long the build spent in the phase. A phase whose work ran alongside others
   * (Package) also has `alongsideMs`, the time that work took while the others ran.
   */
  timings: { phase: Phase; ms: number; outcome: 'ok' | 'failed' | 'skipped'; alongsideMs?: number }[];
  admissionPolls: number;
  error?: ActionError;
}

/** The registered template into the result; `planName` and `completedUri` stand in for what it leaves out. */
export function recordTemplate(result: BuildResult, template: Template, fallback: { planName: string; completedUri: string }): void {
  const { planName, completedUri } = fallback;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  result.status = 'registered';
  result.template = template;
  result.templateId = str(template.id) ?? str(template.templateId);
  result.templateName = str(template.name) ?? planName;
  // cas-streaming: the admitted manifest; ext4: the snapshot URI.
  result.manifestUri = str(template.manifestUri) ?? str(template.snapshotUri) ?? completedUri;
  result.imageDigest = str(template.imageDigest);
  result.snapshotId = str(template.snapshotId) ?? result.snapshotId;
  if (typeof template.snapshotSizeBytes === 'number') result.imageSizeBytes = template.snapshotSizeBytes;
}
