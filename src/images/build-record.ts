/**
 * skip-unchanged: the build digest of an image and where it is recorded.
 *
 * The digest covers everything that determines the image: the deterministic context archive's
 * digest, the Dockerfile text, the base image and what every reference it builds on resolved to
 * (the digest of a parent built in this step, else the parent template's recorded digest or its
 * id and snapshot), the mode, the sizes and builder resources, and the action's major version.
 *
 * The record needs no service beyond the platform: the digest travels as a comment line appended
 * to the Dockerfile text sent to prepare; the platform stores that text with the template it
 * registers and returns it from the by-name lookup (README, "Skip unchanged"). The builder ignores
 * it: it is a Dockerfile comment.
 */
import { createHash } from 'node:crypto';
import type { ActionInputs } from '../inputs.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import type { Template } from '../platform/types.js';
import { ACTION_VERSION } from '../version.js';

export const BUILD_RECORD_PREFIX = '# sbx-image-action build-digest: ';
const RECORD_RE = /^# sbx-image-action build-digest: (sha256:[0-9a-f]{64})\s*$/gm;

/** The Dockerfile text with the record line appended (on a line of its own). */
export function withBuildRecord(dockerfileText: string, digest: string): string {
  const text = dockerfileText.replace(RECORD_RE, '').replace(/\n+$/, '\n');
  return `${text.endsWith('\n') || text === '' ? text : text + '\n'}${BUILD_RECORD_PREFIX}${digest}\n`;
}

/** The digest recorded in a template's Dockerfile text (the last record line), if any. */
export function recordedDigest(template: Template | null | undefined): string | undefined {
  const text = template?.dockerfile;
  if (typeof text !== 'string') return undefined;
  let last: string | undefined;
  for (const m of text.matchAll(RECORD_RE)) last = m[1];
  return last;
}

/** What a reference the Dockerfile builds on resolved to, as it enters the digest. */
export type ParentIdentity =
  | { kind: 'in-step'; digest: string }
  | { kind: 'template'; digest?: string; templateId?: string; snapshotId?: string }
  | { kind: 'registry' };

export interface DigestInput {
  plan: BuildPlan;
  inputs: ActionInputs;
  /** the context archive's digest (Dockerfile builds) */
  contextDigest?: string;
  parents: Record<string, ParentIdentity>;
}

export function actionMajorVersion(): string {
  return ACTION_VERSION.split('.')[0];
}

/** sha256 over a canonical JSON document of everything that determines the image. */
export function buildDigest(d: DigestInput): string {
  const i = d.inputs;
  const parents = Object.keys(d.parents)
    .sort()
    .map((ref) => {
      const p = d.parents[ref];
      // a parent template known by its recorded digest is the same parent however it was built
      if (p.kind === 'registry') return [ref, 'registry'];
      if (p.kind === 'in-step' || p.digest) return [ref, `digest:${p.digest}`];
      return [ref, `template:${p.templateId}:${p.snapshotId}`];
    });
  const doc = {
    action: actionMajorVersion(),
    mode: d.plan.mode,
    dockerfile: d.plan.dockerfileText.replace(RECORD_RE, ''),
    context: d.contextDigest ?? null,
    baseImage: d.plan.baseImage,
    parents,
    name: d.plan.name,
    streaming: i.streaming,
    public: i.public,
    dockerCompat: i.dockerCompat,
    sizes: { diskMb: i.diskMb ?? null, builderDiskMb: i.builderDiskMb ?? null, cpus: i.cpus ?? null, memoryMb: i.memoryMb ?? null },
  };
  return `sha256:${createHash('sha256').update(JSON.stringify(doc)).digest('hex')}`;
}

/** `sha256:0123456789ab` — enough to tell digests apart in a log line. */
export function shortDigest(d: string | undefined): string {
  return d ? d.slice(0, 'sha256:'.length + 12) : '-';
}
