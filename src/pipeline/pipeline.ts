/**
 * The build pipeline: docs/protocol.md §1–§10 in order, one phase per module. One call builds one
 * image; it holds no global state, so several builds can run at once. It never throws: the result
 * carries the error, and the builder sandbox is deleted on every path (a post step covers a
 * process that dies).
 *
 * The local phases come first: Plan (no network) checks the Dockerfile and walks the context before
 * the first request. A plan-only request (`req.dryRun`) then runs Package (the context archive)
 * and stops. A real build runs Package alongside Prepare and Builder sandbox instead (see
 * background-package.ts) and collects it when Upload needs the archive.
 */
import { ActionError, cancelledError, toActionError } from '../errors.js';
import { formatBytes, formatDuration } from '../format.js';
import { PlatformApi } from '../platform/platform-api.js';
import { LifecycleApi } from '../platform/lifecycle-api.js';
import type { SandboxProxy } from '../platform/proxy.js';
import type { HttpTransport } from '../platform/transport.js';
import type { PreparedBuild, Template } from '../platform/types.js';
import type { Auth } from '../connection.js';
import { PHASE_TITLES, type Phase } from './events.js';
import { recordTemplate, type BuildResult, type ContextSummary } from './result.js';
import { resolveReferences } from './references.js';
import { computeSizes, type BuildSizes } from './sizes.js';
import { completeRequestFromMetadata, parseMetadata } from './completion.js';
import { gatherDiagnostics } from './diagnostics.js';
import { METADATA_PATH } from './remote-paths.js';
import { measureBuildContext, planBuild } from './plan-phase.js';
import {
  startBuilderSandbox,
  cleanupBuilderSandbox,
  builderSandboxName,
  sweepFor,
  terminationReason,
  type CleanupTarget,
} from './sandbox.js';
import { uploadBuildInputs } from './upload.js';
import { archiveDir, packageBuild, registryCredentials, type PackageInput, type PackagedBuild } from './package-phase.js';
import { startBackgroundPackaging, type BackgroundPackaging } from './background-package.js';
import { runBuilder, type BuilderEvidence } from './builder-run.js';
import { waitForAdmission } from './admission.js';
import { transportFor } from '../platform/transport.js';
import { abortableSleep, anySignal } from '../signals.js';
import { DEFAULT_LIMITS, requireAuth, type BuildDeps, type BuildRequest, type BuildSession } from './session.js';

/** The build interface: what a caller passes to build one image. */
export type { BuildDeps, BuildRequest, BuildLimits } from './session.js';

export async function runBuild(req: BuildRequest, deps: BuildDeps): Promise<BuildResult> {
  const s: BuildSession = {
    req,
    deps,
    events: deps.events,
    limits: { ...DEFAULT_LIMITS, sandboxRunningMs: req.sandboxTimeoutMs, readinessMs: req.sandboxTimeoutMs, ...deps.limits },
    signal: deps.signal,
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? abortableSleep,
  };
  const { events, now, signal } = s;
  const result: BuildResult = {
    status: 'failed',
    mode: req.source.kind,
    rootfsFormat: req.streaming ? 'cas-streaming' : 'ext4',
    sandboxDeleted: false,
    warnings: [],
    timings: [],
    admissionPolls: 0,
    ...(req.dryRun ? { dryRun: req.dryRun } : {}),
  };

  let current: Phase | undefined;
  async function phase<T>(p: Phase, fn: () => Promise<T>, opts: { evenIfCancelled?: boolean } = {}): Promise<T> {
    if (signal?.aborted && !opts.evenIfCancelled) throw cancelledError();
    current = p;
    events.phaseStart(p);
    const t0 = now();
    let outcome: 'ok' | 'failed' = 'failed';
    try {
      const r = await fn();
      outcome = 'ok';
      return r;
    } catch (e) {
      throw toActionError(e).annotate({ phase: p });
    } finally {
      const ms = now() - t0;
      result.timings.push({ phase: p, ms, outcome });
      events.phaseEnd(p, outcome, ms);
    }
  }

  // Created only once a phase needs the platform: a plan-only run never builds a client.
  let remote: { transport: HttpTransport; platform: PlatformApi; lifecycle: LifecycleApi } | undefined;
  const connect = (auth: Auth) => {
    const transport = transportFor(auth, {
      userAgent: deps.userAgent,
      secrets: deps.secrets,
      log: deps.log,
      retry: deps.retry,
      signal,
      sleep: deps.sleep,
      now,
      onRetry: (i) => events.status(`${i.operation}: ${i.reason}; retrying in ${formatDuration(i.delayMs)} (attempt ${i.attempt + 1})`),
    });
    return (remote = {
      transport,
      platform: new PlatformApi(transport, req.apiUrl),
      lifecycle: new LifecycleApi(transport, req.apiUrl, req.namespace),
    });
  };

  let sandboxId: string | undefined;
  let sandboxReconciled = false;
  let createSent = false;
  let proxy: SandboxProxy | undefined;
  /** the builder sandbox was released (deleted, or its name swept) */
  let released = false;
  const evidence: BuilderEvidence = { sawDiskSpaceEvidence: false };
  let packaged: PackagedBuild | undefined;
  let background: BackgroundPackaging | undefined;

  try {
    // Plan and Package: local, no network.
    const {
      planned: plan,
      credentials,
      walk,
    } = await phase('plan', async () => {
      const planned = await planBuild(req, events);
      // the context's size and largest entries, before any builder sandbox exists
      const measured = await measureBuildContext(req, events, { tmpDir: archiveDir(s), signal });
      result.contextFootprint = measured?.footprint;
      // read now: their secrets are masked before any text from the platform is shown
      return { planned, credentials: await registryCredentials(s), walk: measured?.walk };
    });
    result.name = plan.name;
    result.baseImage = plan.baseImage;
    result.additionalRefs = plan.additionalRefs;
    result.warnings = plan.warnings;
    const packaging: PackageInput = { plan, credentials, walk, onArchived: (c: ContextSummary) => (result.context = c) };
    if (req.dryRun) {
      packaged = await phase('package', () => packageBuild(s, packaging));
      result.status = 'planned';
      events.status(`Plan only: ${plan.name} is ready to build; nothing was sent to the platform.`);
      return result;
    }
    // packaging runs while the platform prepares and the sandbox starts; Upload collects it
    const packing = (background = startBackgroundPackaging(s, packaging));
    const auth = requireAuth(req);
    const { transport, platform, lifecycle } = connect(auth);

    // Prepare: scope, template lookups (§3), prepare (§4), sizes (§4.3).
    const { prep, sizes } = await phase('prepare', async (): Promise<{ prep: PreparedBuild; sizes: BuildSizes }> => {
      if (auth.kind === 'api-key') {
        const scope = await platform.introspect(signal);
        platform.setScope(scope);
        events.status(`Authenticated with an API key for organization ${scope.organizationId}, project ${scope.projectId}`);
      } else {
        platform.setScope({ organizationId: auth.organizationId, projectId: auth.projectId });
        events.status(`Using a personal access token for organization ${auth.organizationId}, project ${auth.projectId}`);
      }
      const refs = await resolveReferences(platform, plan, req.streaming);
      for (const l of refs.lookups) {
        events.status(
          l.templateId
            ? `Reference ${l.reference} is registered template ${l.templateId}`
            : `Reference ${l.reference} is not a registered template (pulled from its registry)`,
        );
      }
      result.rootfsNodeKind = refs.rootfsNodeKind;
      result.parentTemplate = refs.parentTemplate?.templateId;
      events.status('Preparing rootfs build...');
      const prepared = await platform.prepare(
        {
          name: plan.name,
          dockerfile: plan.dockerfileText,
          baseImage: plan.baseImage,
          public: req.public,
          rootfsNodeKind: refs.rootfsNodeKind,
          parentTemplate: refs.parentTemplate,
          additionalLocalImages: refs.additionalLocalImages,
          ...(req.streaming ? { rootfsFormat: 'cas-streaming' as const } : {}),
        },
        signal,
      );
      result.buildId = prepared.buildId;
      result.snapshotId = prepared.snapshotId;
      events.status(
        `Build ${prepared.buildId} prepared. Build mode: ${prepared.rootfsNodeKind === 'diff' ? 'RootfsDiff' : 'RootfsBase'}` +
          (prepared.rootfsFormat === 'cas-streaming' ? ' (content-addressed streaming)' : ''),
      );
      const sz = computeSizes(prepared, req);
      result.rootfsDiskBytes = sz.rootfsDiskBytes;
      events.status(
        `Builder resources: ${sz.builder.cpus.toFixed(2)} CPUs, ${formatBytes(sz.builder.memoryMb * 1024 * 1024)} memory, ` +
          `${formatBytes(sz.builder.diskMb * 1024 * 1024)} disk; target rootfs ${formatBytes(sz.rootfsDiskBytes)}`,
      );
      return { prep: prepared, sizes: sz };
    });

    // a context that could not be archived stops the build before a sandbox exists, when it is known by then
    if (packing.failure() !== undefined) await phase('package', () => packing.collect(events));

    // Builder sandbox (§5, §6.3).
    proxy = (
      await phase('sandbox', () =>
        startBuilderSandbox(s, {
          transport,
          lifecycle,
          prep,
          sizes,
          onCreating: () => (createSent = true),
          onCreated: (id, reconciled) => {
            sandboxId = id;
            sandboxReconciled = reconciled;
            result.builderSandboxId = id;
            events.sandboxCreated(id);
          },
        }),
      )
    ).proxy;
    const ready = proxy;

    const pkg = (packaged = await phase('package', () => packing.collect(events)));
    const packageTiming = result.timings.find((t) => t.phase === 'package');
    if (packageTiming) packageTiming.alongsideMs = packing.elapsedMs();

    // Upload context and spec (§6.5–§7.1).
    const upload = await phase('upload', () =>
      uploadBuildInputs(s, ready, { plan, prep, sizes, packaged: pkg, footprint: result.contextFootprint }),
    );

    // Build (§7).
    await phase('build', () => runBuilder(s, { proxy: ready, prep, evidence }));

    // Complete (§8, §9.1).
    const completion = await phase('complete', async () => {
      const meta = parseMetadata(await ready.getFile(METADATA_PATH, signal));
      const body = completeRequestFromMetadata(meta, prep, { signedUri: upload.signedUri, clientRootfsDiskBytes: sizes.rootfsDiskBytes });
      result.snapshotId = body.snapshotId;
      result.imageSizeBytes = body.snapshotSizeBytes;
      result.rootfsFormat = body.rootfsFormat === 'cas-streaming' ? 'cas-streaming' : 'ext4';
      events.status(
        body.rootfsFormat === 'cas-streaming'
          ? 'Submitting the image for verification and admission into the streaming CAS...'
          : 'Completing image registration...',
      );
      return { body, res: await platform.complete(prep.buildId, body, signal) };
    });

    // Admission (§9.2): only for cas-streaming answered 202 / ingesting.
    let template: Template | undefined;
    const admitting =
      completion.body.rootfsFormat === 'cas-streaming' && (completion.res.httpStatus === 202 || completion.res.body.status === 'ingesting');
    if (!admitting) {
      template = completion.res.body;
    } else if (!req.wait) {
      events.status('Admission in progress; not waiting (wait: false).');
      result.status = 'ingesting';
    } else {
      // /complete was accepted: the platform holds everything admission reads, and nothing of the
      // builder is needed any more (docs/protocol.md, "Builder release point"). Release it now
      // instead of keeping it for the whole admission wait.
      await releaseBuilder();
      template = await phase('admission', () =>
        waitForAdmission(s, { platform, buildId: prep.buildId, onPoll: () => result.admissionPolls++ }),
      );
    }
    if (template) {
      recordTemplate(result, template, { planName: plan.name, completedUri: completion.body.snapshotUri });
      events.status(`Image '${result.templateName}' registered (${result.templateId ?? '-'})`);
    }
  } catch (e) {
    let err = toActionError(e).annotate({ buildId: result.buildId, sandboxId, phase: current });
    const cancelled = err.kind === 'cancelled' || signal?.aborted === true;
    // packaging is the runner's own work (it can fail after the sandbox exists): the builder explains nothing
    const builderMayExplain = !cancelled && current !== 'package';
    // A sandbox the platform terminated under us explains the failure better than the call that noticed
    // (not one the action released itself).
    const terminated =
      sandboxId && remote && !released && builderMayExplain ? await terminationReason(remote.lifecycle, sandboxId) : undefined;
    if (terminated !== undefined) {
      err = new ActionError(
        `the builder sandbox ${sandboxId} was terminated by the platform${terminated ? ` (${terminated})` : ''} during the ${current ? PHASE_TITLES[current] : 'build'} phase`,
        {
          kind: 'sandbox',
          cause: err,
          advice: ['Re-run the job. If it keeps happening, report the build id to Tensorlake.'],
        },
      ).annotate({ buildId: result.buildId, sandboxId, phase: current });
    }
    // §10.1: diagnostics only once the builder's proxy answered (and while it exists), not for a cancelled run.
    if (proxy && !released && builderMayExplain && terminated === undefined) {
      const diag = await gatherDiagnostics(proxy, {
        errorText: err.message,
        sawDiskEvidenceInLog: evidence.sawDiskSpaceEvidence,
        processOomKilled: evidence.processOomKilled,
        signal: anySignal(signal, AbortSignal.timeout(30_000)),
      });
      err.addAdvice(...diag.advice);
    }
    // a SIGINT during the diagnostics still makes the run cancelled
    result.status = cancelled || signal?.aborted ? 'cancelled' : 'failed';
    result.error = err;
  } finally {
    if (packaged) await packaged.archive?.cleanup().catch(() => undefined);
    else await background?.abandon();
    if (!released) await releaseBuilder();
  }
  return result;

  /**
   * Once a create was sent, a sandbox may exist: delete it by id, and sweep by name when its id
   * never arrived (cancelled or failed mid-create) or it was only found again by name. Runs once.
   */
  async function releaseBuilder(): Promise<void> {
    if (released) return;
    released = true;
    if (result.buildId && createSent) {
      const target: CleanupTarget = {
        id: sandboxId,
        name: builderSandboxName(result.buildId),
        sweep: sweepFor({ sandboxId, reconciled: sandboxReconciled, error: result.error }),
      };
      result.sandboxDeleted = await phase(
        'cleanup',
        async () => {
          if (!(await cleanupBuilderSandbox(s, target))) throw new Error('cleanup incomplete');
          return true;
        },
        { evenIfCancelled: true },
      ).catch(() => false);
    }
  }
}
