/** docs/protocol.md §3: registry lookups of the Dockerfile's references → base or diff, local images. */
import { ActionError } from '../errors.js';
import type { BuildPlan } from '../dockerfile/plan.js';
import type { PlatformApi } from '../platform/platform-api.js';
import type { LocalImageEntry, RootfsNodeKind, Template } from '../platform/types.js';

export const STREAMING_BASE_ONLY_MESSAGE =
  '--streaming builds support only base images: the Dockerfile FROM (and any COPY --from references) must be unregistered OCI images, not registered Tensorlake templates';

export interface ResolvedReferences {
  rootfsNodeKind: RootfsNodeKind;
  parentTemplate: LocalImageEntry | null;
  additionalLocalImages: LocalImageEntry[];
  /** every reference looked up, with what it resolved to (for the summary) */
  lookups: { reference: string; templateId?: string }[];
}

/** §2.6 */
export function baseIsEligibleForLookup(plan: BuildPlan): boolean {
  return plan.mode === 'dockerfile' && !plan.baseImageIsInternalStage && !plan.baseImage.includes('$') && !plan.baseImage.includes('@');
}

export function toLocalImage(ref: string, t: Template): LocalImageEntry {
  const fail = (what: string) => new ActionError(`platform returned a template lookup for '${ref}' without ${what}`, { kind: 'platform' });
  if (!t.id) throw fail('an id');
  if (!t.name) throw fail('a name');
  if (!t.snapshotId) throw fail('a snapshot id');
  if (t.rootfsNodeKind !== undefined && t.rootfsNodeKind !== 'base') {
    throw new ActionError(
      `template '${ref}' cannot be used as a build image (only base templates are supported, got rootfsNodeKind='${t.rootfsNodeKind}'). Build a base image from this template first.`,
      { kind: 'usage' },
    );
  }
  if (t.snapshotFormatVersion !== undefined && t.snapshotFormatVersion !== 'durable_archive_v1') {
    throw new ActionError(
      `template '${ref}' uses snapshot format '${t.snapshotFormatVersion}', which the rootfs builder cannot materialize. Re-register the template with durable_archive_v1.`,
      { kind: 'usage' },
    );
  }
  return { templateId: t.id, name: t.name, reference: ref, snapshotId: t.snapshotId, public: t.public ?? false };
}

export async function resolveReferences(platform: PlatformApi, plan: BuildPlan, streaming: boolean): Promise<ResolvedReferences> {
  const lookups: { reference: string; templateId?: string }[] = [];
  let parentTemplate: LocalImageEntry | null = null;
  const additionalLocalImages: LocalImageEntry[] = [];
  if (plan.mode === 'dockerfile') {
    if (baseIsEligibleForLookup(plan)) {
      const t = await platform.lookupTemplate(plan.baseImage);
      if (t) parentTemplate = toLocalImage(plan.baseImage, t);
      lookups.push({ reference: plan.baseImage, templateId: parentTemplate?.templateId });
    }
    for (const ref of plan.additionalRefs) {
      const t = await platform.lookupTemplate(ref);
      const entry = t ? toLocalImage(ref, t) : undefined;
      if (entry) additionalLocalImages.push(entry);
      lookups.push({ reference: ref, templateId: entry?.templateId });
    }
  }
  if (streaming && (parentTemplate || additionalLocalImages.length > 0)) {
    const registered = [parentTemplate, ...additionalLocalImages].filter((x): x is LocalImageEntry => x !== null).map((x) => x.reference);
    throw new ActionError(STREAMING_BASE_ONLY_MESSAGE, {
      kind: 'usage',
      input: 'streaming',
      advice: [
        `Registered templates referenced: ${registered.join(', ')}. Build with streaming: false, or base the Dockerfile on an OCI image.`,
      ],
    });
  }
  return { rootfsNodeKind: parentTemplate ? 'diff' : 'base', parentTemplate, additionalLocalImages, lookups };
}
