/** Step outputs from a build result (never a secret: every value passes through the redactor). */
import type { BuildResult } from '../pipeline/result.js';

export function resultOutputs(r: BuildResult): Record<string, string> {
  const out: Record<string, string> = {
    status: r.status === 'cancelled' ? 'failed' : r.status,
    'rootfs-format': r.rootfsFormat,
  };
  const set = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') out[k] = String(v);
  };
  set('template-id', r.templateId);
  set('template-name', r.templateName);
  set('manifest-uri', r.manifestUri);
  set('image-digest', r.imageDigest);
  set('build-id', r.buildId);
  set('snapshot-id', r.snapshotId);
  set('image-size-bytes', r.imageSizeBytes);
  set('builder-sandbox-id', r.builderSandboxId);
  set('context-digest', r.context?.digest);
  if (r.template) out.template = JSON.stringify(r.template);
  return out;
}
