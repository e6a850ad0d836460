/** Step outputs from a build result (never a secret: every value passes through the redactor). */
import type { BuildResult } from '../pipeline/result.js';
import type { ImageOutcome } from '../images/orchestrator.js';
import { formatError } from '../errors.js';

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

/** One image's outputs, as in `results`: the single-image outputs plus status, cache-hit and why. */
export function imageOutputs(o: ImageOutcome): Record<string, unknown> {
  const out: Record<string, unknown> = o.result ? { ...resultOutputs(o.result) } : {};
  if (o.result?.template) out.template = o.result.template;
  out.status = o.status;
  out['cache-hit'] = o.cacheHit ? 'true' : 'false';
  out.layer = o.entry.layer;
  if (o.digest) out['build-digest'] = o.digest;
  if (o.reason) out.reason = o.reason;
  if (o.result?.error) out.error = formatError(o.result.error);
  return out;
}

function resultsOutput(outcomes: ImageOutcome[]): string {
  return JSON.stringify(Object.fromEntries(outcomes.map((o) => [o.entry.name, imageOutputs(o)])));
}

/** The images that need a build, for `strategy.matrix`: the entry's own inputs, its name and layer. */
function matrixOutput(outcomes: ImageOutcome[]): string {
  return JSON.stringify(
    outcomes
      .filter((o) => o.status === 'planned')
      .map((o) => ({
        ...o.entry.given,
        name: o.entry.name,
        layer: o.entry.layer,
        ...(o.entry.deps.length ? { needs: o.entry.deps.join(',') } : {}),
      })),
  );
}

/** The step's overall status: registered when every image is registered (built or unchanged). */
function overallStatus(outcomes: ImageOutcome[]): string {
  if (outcomes.every((o) => o.status === 'planned' || o.status === 'registered'))
    return outcomes.some((o) => o.status === 'planned') ? 'planned' : 'registered';
  if (outcomes.every((o) => o.status === 'registered' || o.status === 'ingesting')) return 'ingesting';
  return 'failed';
}

/**
 * The outputs of a step run through the orchestrator: `results` (several images), `matrix` (dry
 * run), and for a single image its outputs as a single-image step sets them, plus `cache-hit`.
 */
export function imagesStepOutputs(outcomes: ImageOutcome[], opts: { many: boolean; dryRun: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  if (!opts.many || outcomes.length === 1) {
    const only = outcomes[0];
    if (only.result) Object.assign(out, resultOutputs(only.result));
    out['cache-hit'] = only.cacheHit ? 'true' : 'false';
    if (only.digest) out['build-digest'] = only.digest;
  }
  if (opts.many) out.results = resultsOutput(outcomes);
  if (opts.dryRun) out.matrix = matrixOutput(outcomes);
  out.status = overallStatus(outcomes);
  return out;
}
