/**
 * Many images in one step. Does not build anything itself: it decides what to build (skip-unchanged:
 * the build digest of each image against the one recorded with its template, before any builder
 * sandbox exists), then runs the single-image pipeline (runBuild) once per image, in dependency
 * order, at most `maxParallel` at a time, each with its own events sink and abort signal. A failed
 * image's dependents are skipped; with failFast the others are cancelled (their sandboxes deleted
 * by their own pipelines). No state outside one call.
 */
import { ActionError, toActionError } from '../errors.js';
import { createContextArchive } from '../context/archive.js';
import { PlatformApi } from '../platform/platform-api.js';
import type { Template } from '../platform/types.js';
import { baseIsEligibleForLookup } from '../pipeline/references.js';
import { runBuild, type BuildDeps } from '../pipeline/pipeline.js';
import type { BuildResult } from '../pipeline/result.js';
import { transportFor } from '../platform/transport.js';
import type { BuildEvents } from '../pipeline/events.js';
import type { Log } from '../log.js';
import { buildDigest, recordedDigest, shortDigest, type ParentIdentity } from './build-record.js';
import type { ImageEntry } from './entries.js';

export interface ImagesPlan {
  entries: ImageEntry[];
  maxParallel: number;
  failFast: boolean;
  skipUnchanged: boolean;
  /** decide only: nothing is built (the matrix output) */
  planOnly: boolean;
}

export type ImageStatus = 'registered' | 'ingesting' | 'failed' | 'cancelled' | 'skipped' | 'planned';

export interface ImageOutcome {
  entry: ImageEntry;
  status: ImageStatus;
  cacheHit: boolean;
  /** why the image was skipped, rebuilt, cancelled or not built */
  reason?: string;
  digest?: string;
  previousDigest?: string;
  result?: BuildResult;
  ms: number;
}

export interface OrchestratorDeps extends Omit<BuildDeps, 'events'> {
  /** the events sink of one image's build */
  eventsFor(entry: ImageEntry): BuildEvents;
  /** the debug/info log of one image's build (its HTTP calls), when it differs from `log` */
  logFor?(entry: ImageEntry): Log;
  /** a line about the whole run, or about one image */
  note(message: string, entry?: ImageEntry): void;
  /** builds one image: the single-image pipeline unless another build plane is plugged in */
  build?: typeof runBuild;
  /** an image's build starts (a commit status can go pending) */
  onStart?(entry: ImageEntry): void;
  /** an image has its outcome: built, unchanged, failed, cancelled or skipped (one status/comment per image) */
  onOutcome?(outcome: ImageOutcome): void;
}

interface Decision {
  build: boolean;
  reason: string;
  digest?: string;
  previousDigest?: string;
  template?: Template;
}

/** The skip-unchanged decisions, in dependency order, before any builder sandbox exists. */
async function decide(plan: ImagesPlan, deps: OrchestratorDeps): Promise<Map<string, Decision>> {
  const decisions = new Map<string, Decision>();
  const ordered = [...plan.entries].sort((a, b) => a.layer - b.layer || a.index - b.index);
  if (!plan.skipUnchanged) {
    for (const e of ordered) decisions.set(e.name, { build: true, reason: 'skip-unchanged is off' });
    return decisions;
  }
  const first = plan.entries[0].inputs;
  if (!first.auth) {
    // a plan-only run without credentials (a fork's pull request): nothing to compare with, and no request
    for (const e of ordered) decisions.set(e.name, { build: true, reason: 'no credentials to look up the registered templates' });
    return decisions;
  }
  const auth = first.auth;
  const transport = transportFor(auth, {
    userAgent: deps.userAgent,
    secrets: deps.secrets,
    log: deps.log,
    retry: deps.retry,
    signal: deps.signal,
    sleep: deps.sleep,
  });
  const platform = new PlatformApi(transport, first.apiUrl);
  if (auth.kind === 'api-key') platform.setScope(await platform.introspect(deps.signal));
  else platform.setScope({ organizationId: auth.organizationId, projectId: auth.projectId });
  const lookups = new Map<string, Promise<Template | null>>();
  const lookup = (ref: string) => {
    let p = lookups.get(ref);
    if (!p) lookups.set(ref, (p = platform.lookupTemplate(ref, deps.signal)));
    return p;
  };
  const inStep = new Map(plan.entries.map((e) => [e.name, e]));

  for (const e of ordered) {
    const src = e.inputs.source;
    let contextDigest: string | undefined;
    if (src.kind === 'dockerfile') {
      const archive = await createContextArchive(src.context, {
        dockerfilePath: src.dockerfile,
        tmpDir: deps.env.RUNNER_TEMP || undefined,
        signal: deps.signal,
        gzipLevel: 0,
      });
      contextDigest = archive.digest;
      await archive.cleanup().catch(() => undefined);
    }
    const parents: Record<string, ParentIdentity> = {};
    const refs =
      e.plan.mode === 'dockerfile' ? [...(baseIsEligibleForLookup(e.plan) ? [e.plan.baseImage] : []), ...e.plan.additionalRefs] : [];
    for (const ref of refs) {
      const own = ref !== e.name ? inStep.get(ref) : undefined;
      if (own) {
        parents[ref] = { kind: 'in-step', digest: decisions.get(own.name)!.digest! };
        continue;
      }
      const t = await lookup(ref);
      parents[ref] = t
        ? { kind: 'template', digest: recordedDigest(t), templateId: typeof t.id === 'string' ? t.id : undefined, snapshotId: t.snapshotId }
        : { kind: 'registry' };
    }
    const digest = buildDigest({ plan: e.plan, inputs: e.inputs, contextDigest, parents });
    const existing = await lookup(e.name);
    const previous = recordedDigest(existing);
    const rebuiltParent = e.deps.find((d) => decisions.get(d)?.build);
    let d: Decision;
    if (!existing) d = { build: true, reason: `no template named '${e.name}' exists yet`, digest };
    else if (!previous) d = { build: true, reason: `template '${e.name}' (${String(existing.id)}) has no build digest recorded`, digest };
    else if (previous !== digest)
      d = {
        build: true,
        reason: `inputs changed: digest ${shortDigest(previous)} → ${shortDigest(digest)}`,
        digest,
        previousDigest: previous,
      };
    else if (rebuiltParent)
      d = {
        build: true,
        reason: `'${rebuiltParent}' is rebuilt in this step, and this image builds on it`,
        digest,
        previousDigest: previous,
      };
    else
      d = {
        build: false,
        reason: `unchanged: template '${e.name}' (${String(existing.id)}) was built from digest ${shortDigest(digest)}`,
        digest,
        previousDigest: previous,
        template: existing,
      };
    decisions.set(e.name, d);
    deps.note(`${d.build ? (plan.planOnly ? 'needs a build' : 'rebuilding') : 'skipping the build'}: ${d.reason}`, e);
  }
  return decisions;
}

/** A cache hit's outputs: the registered template, as a build would have returned it. */
function cachedResult(e: ImageEntry, t: Template): BuildResult {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    status: 'registered',
    name: e.name,
    mode: e.plan.mode,
    rootfsFormat: t.snapshotFormatVersion === 'content_addressed_streaming_v1' ? 'cas-streaming' : 'ext4',
    rootfsNodeKind: t.rootfsNodeKind,
    baseImage: e.plan.baseImage,
    sandboxDeleted: true,
    snapshotId: t.snapshotId,
    template: t,
    templateId: str(t.id),
    templateName: str(t.name) ?? e.name,
    manifestUri: str(t.manifestUri) ?? t.snapshotUri,
    imageDigest: str(t.imageDigest),
    imageSizeBytes: t.snapshotSizeBytes,
    rootfsDiskBytes: t.rootfsDiskBytes,
    warnings: [],
    timings: [],
    admissionPolls: 0,
  };
}

export async function runImages(plan: ImagesPlan, deps: OrchestratorDeps): Promise<ImageOutcome[]> {
  const t0 = Date.now();
  const outcomes = new Map<string, ImageOutcome>();
  const settle = (o: ImageOutcome): void => {
    outcomes.set(o.entry.name, o);
    deps.onOutcome?.(o);
  };
  let decisions: Map<string, Decision>;
  try {
    decisions = await decide(plan, deps);
  } catch (e) {
    const err = toActionError(e);
    const cancelled = err.kind === 'cancelled' || deps.signal?.aborted === true;
    for (const entry of plan.entries) {
      const result: BuildResult = {
        status: cancelled ? 'cancelled' : 'failed',
        name: entry.name,
        mode: entry.plan.mode,
        rootfsFormat: entry.inputs.streaming ? 'cas-streaming' : 'ext4',
        sandboxDeleted: false,
        warnings: [],
        timings: [],
        admissionPolls: 0,
        error: err,
      };
      settle({
        entry,
        status: result.status,
        cacheHit: false,
        reason: `skip-unchanged check failed: ${err.message}`,
        result,
        ms: Date.now() - t0,
      });
    }
    return plan.entries.map((x) => outcomes.get(x.name)!);
  }

  for (const entry of plan.entries) {
    const d = decisions.get(entry.name)!;
    if (!d.build && d.template) {
      settle({
        entry,
        status: 'registered',
        cacheHit: true,
        reason: d.reason,
        digest: d.digest,
        previousDigest: d.previousDigest,
        result: cachedResult(entry, d.template),
        ms: 0,
      });
    }
  }
  if (plan.planOnly) {
    // the local phases of each image that needs a build (plan, package): what a build would check first
    for (const entry of plan.entries) {
      if (outcomes.has(entry.name)) continue;
      const d = decisions.get(entry.name)!;
      const s0 = Date.now();
      const result = await runBuild(
        { ...entry.inputs, dryRun: entry.inputs.dryRun ?? { reason: 'input' } },
        { ...deps, log: deps.logFor?.(entry) ?? deps.log, events: deps.eventsFor(entry) },
      );
      settle({
        entry,
        status: result.status,
        cacheHit: false,
        reason: result.status === 'planned' ? d.reason : (result.error?.message.split('\n')[0] ?? result.status),
        digest: d.digest,
        previousDigest: d.previousDigest,
        result,
        ms: Date.now() - s0,
      });
    }
    return plan.entries.map((x) => outcomes.get(x.name)!);
  }

  const stop = new AbortController();
  let firstFailure: string | undefined;
  const signal = deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal;
  const running = new Map<string, Promise<void>>();
  const pending = plan.entries.filter((e) => !outcomes.has(e.name));
  const ok = (name: string) => {
    const o = outcomes.get(name);
    return o !== undefined && o.status === 'registered';
  };

  const start = (entry: ImageEntry): void => {
    const d = decisions.get(entry.name)!;
    const s0 = Date.now();
    const events = deps.eventsFor(entry);
    if (plan.skipUnchanged) events.status(`Build digest ${d.digest}; building because ${d.reason}`);
    deps.onStart?.(entry);
    const p = (deps.build ?? runBuild)(
      { ...entry.inputs, buildRecord: plan.skipUnchanged ? d.digest : undefined },
      { ...deps, log: deps.logFor?.(entry) ?? deps.log, events, signal },
    )
      .then((result) => {
        let reason = plan.skipUnchanged ? d.reason : undefined;
        if (result.status === 'cancelled' && !deps.signal?.aborted && firstFailure)
          reason = `cancelled by fail-fast: '${firstFailure}' failed`;
        for (const dep of entry.deps) {
          const parent = outcomes.get(dep)?.result?.templateId;
          if (result.status === 'registered' && parent && result.parentTemplate && result.parentTemplate !== parent) {
            events.warning(
              `'${entry.name}' was built on template ${result.parentTemplate}, not on ${parent} that '${dep}' registered in this step`,
            );
          }
        }
        settle({
          entry,
          status: result.status,
          cacheHit: false,
          reason,
          digest: d.digest,
          previousDigest: d.previousDigest,
          result,
          ms: Date.now() - s0,
        });
        if (result.status === 'failed' && plan.failFast && !firstFailure) {
          firstFailure = entry.name;
          deps.note(`'${entry.name}' failed; fail-fast: cancelling the other builds`);
          stop.abort();
        }
      })
      .finally(() => running.delete(entry.name));
    running.set(entry.name, p);
  };

  for (;;) {
    for (let i = 0; i < pending.length; i++) {
      const e = pending[i];
      const blocked = e.deps.find((dep) => outcomes.has(dep) && !ok(dep));
      let reason: string | undefined;
      if (blocked)
        reason = `not built: it builds on '${blocked}', which ${outcomes.get(blocked)!.status === 'skipped' ? 'was not built' : outcomes.get(blocked)!.status}`;
      else if (signal.aborted)
        reason =
          firstFailure && !deps.signal?.aborted ? `not started: fail-fast, '${firstFailure}' failed` : 'not started: the run was cancelled';
      if (reason) {
        settle({ entry: e, status: blocked ? 'skipped' : 'cancelled', cacheHit: false, reason, ms: 0 });
        deps.note(reason, e);
        pending.splice(i--, 1);
      }
    }
    for (let i = 0; i < pending.length && running.size < plan.maxParallel; i++) {
      const e = pending[i];
      if (e.deps.every(ok)) {
        pending.splice(i--, 1);
        start(e);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (pending.length) {
    // cannot happen: the graph has no cycle and every dependency ends in an outcome
    throw new ActionError(`internal: images left unscheduled: ${pending.map((e) => e.name).join(', ')}`, { kind: 'internal' });
  }
  return plan.entries.map((x) => outcomes.get(x.name)!);
}
