/**
 * The build pipeline: CONTRACT.md §1–§10 in order. One call builds one image; it holds no global
 * state, so several builds can run at once. It never throws: the result carries the error, and the
 * builder sandbox is deleted on every path (a post step covers a process that dies).
 */
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { ActionError, toActionError } from '../errors.js';
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import type { ActionInputs } from '../inputs.js';
import { planDockerfile, planImport, decodeDockerfile, MAX_DOCKERFILE_BYTES, type BuildPlan } from '../dockerfile/plan.js';
import { createContextArchive, type ContextArchive } from '../context/archive.js';
import { formatBytes } from '../context/format.js';
import { HttpTransport } from '../platform/http.js';
import type { RetryPolicy } from '../platform/retry.js';
import { PlatformApi } from '../platform/platform-api.js';
import { LifecycleApi } from '../platform/lifecycle-api.js';
import { SandboxProxy, resolveProxyTarget } from '../platform/proxy.js';
import { runCommand, commandFailureMessage } from '../platform/process.js';
import type { CompleteRequest, JsonObject, PreparedBuild, ProcessStartPayload, Template } from '../platform/types.js';
import type { BuildEvents, Phase } from './events.js';
import type { BuildResult } from './result.js';
import { resolveReferences } from './references.js';
import { computeSizes, multipartHint, type BuildSizes } from './sizes.js';
import { buildSpec, builderPayload } from './spec.js';
import { loadRegistryCredentials } from './credentials.js';
import { completeRequestFromMetadata, parseMetadata } from './completion.js';
import { gatherDiagnostics, hasDiskSpaceEvidence } from './diagnostics.js';
import { BUILD_DIR, CONTEXT_ARCHIVE, CONTEXT_DIR, METADATA_PATH, SPEC_PATH } from './remote-paths.js';

export type BuildRequest = Omit<ActionInputs, 'summary' | 'annotations' | 'secrets'>;

export interface BuildLimits {
  sandboxRunningMs: number;
  sandboxPollMs: number;
  readinessMs: number;
  keepaliveMs: number;
  /** time allowed for deleting the builder sandbox (short when cancelled: GitHub kills 7.5 s after SIGINT) */
  cleanupMs: number;
  cancelledCleanupMs: number;
}

export const CONTRACT_LIMITS: BuildLimits = {
  sandboxRunningMs: 120_000,
  sandboxPollMs: 1_000,
  readinessMs: 120_000,
  keepaliveMs: 120_000,
  cleanupMs: 60_000,
  cancelledCleanupMs: 5_000,
};

export interface BuildDeps {
  events: BuildEvents;
  secrets: SecretRegistry;
  log: Log;
  env: Record<string, string | undefined>;
  /** aborts the build (SIGINT/SIGTERM) */
  signal?: AbortSignal;
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  limits?: Partial<BuildLimits>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function cancelled(): ActionError {
  return new ActionError('the run was cancelled', { kind: 'cancelled' });
}

function seconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}

/** Registers every signed URL (a URL with a query string) found in a platform answer as a secret. */
export function registerSignedUrls(value: unknown, secrets: SecretRegistry): void {
  if (typeof value === 'string') {
    if (/^https?:\/\/[^\s]*\?/.test(value)) secrets.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) registerSignedUrls(v, secrets);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) registerSignedUrls(v, secrets);
}

/** A stable, valid sandbox name derived from the build, so an ambiguous create can be found again. */
export function builderSandboxName(buildId: string): string {
  const slug = buildId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `sbx-image-${slug}`.slice(0, 63).replace(/-+$/, '');
}

function isTransientSandboxError(e: unknown): boolean {
  if (!(e instanceof ActionError)) return false;
  if (e.kind === 'transport') return true;
  const s = e.httpStatus;
  if (s === 502 || s === 503 || s === 504) return true;
  if (s === 400 && /not running/i.test(e.message)) return true;
  return /PROXY_ERROR|Failed to proxy request/.test(e.message);
}

/** Reads at most MAX_DOCKERFILE_BYTES + 1 bytes, so a huge file is refused without reading it all. */
async function readDockerfile(path: string, display: string): Promise<string> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new ActionError(`Dockerfile not found: ${display} (${e.code ?? e.message})`, { kind: 'input', input: 'dockerfile' });
  });
  try {
    const buf = Buffer.alloc(MAX_DOCKERFILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    try {
      return decodeDockerfile(buf.subarray(0, length));
    } catch (e) {
      throw toActionError(e, 'plan').addAdvice(`Check the dockerfile input (${display}).`);
    }
  } finally {
    await fh.close();
  }
}

export async function runBuild(req: BuildRequest, deps: BuildDeps): Promise<BuildResult> {
  const { events, secrets, log } = deps;
  const limits: BuildLimits = { ...CONTRACT_LIMITS, sandboxRunningMs: req.sandboxTimeoutMs, readinessMs: req.sandboxTimeoutMs, ...deps.limits };
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  const signal = deps.signal;
  const result: BuildResult = {
    status: 'failed',
    mode: req.source.kind,
    rootfsFormat: req.streaming ? 'cas-streaming' : 'ext4',
    sandboxDeleted: false,
    warnings: [],
    timings: [],
    admissionPolls: 0,
  };

  let current: Phase | undefined;
  async function phase<T>(p: Phase, fn: () => Promise<T>): Promise<T> {
    if (signal?.aborted) throw cancelled();
    current = p;
    events.phaseStart(p);
    const t0 = now();
    try {
      const r = await fn();
      const ms = now() - t0;
      result.timings.push({ phase: p, ms, outcome: 'ok' });
      events.phaseEnd(p, 'ok', ms);
      return r;
    } catch (e) {
      const ms = now() - t0;
      result.timings.push({ phase: p, ms, outcome: 'failed' });
      events.phaseEnd(p, 'failed', ms);
      throw toActionError(e).annotate({ phase: p });
    }
  }

  const scopeHeaders = req.auth.kind === 'pat' ? { organizationId: req.auth.organizationId, projectId: req.auth.projectId } : undefined;
  const transport = new HttpTransport({
    token: req.auth.token,
    userAgent: deps.userAgent,
    scopeHeaders,
    secrets,
    log,
    retry: deps.retry,
    signal,
    sleep: deps.sleep,
    onRetry: (i) => events.status(`${i.operation}: ${i.reason}; retrying in ${seconds(i.delayMs)} (attempt ${i.attempt + 1})`),
  });
  const platform = new PlatformApi(transport, req.apiUrl);
  const lifecycle = new LifecycleApi(transport, req.apiUrl, req.namespace);

  let plan: BuildPlan | undefined;
  let prepared: PreparedBuild | undefined;
  let sizes: BuildSizes | undefined;
  let sandboxId: string | undefined;
  let proxy: SandboxProxy | undefined;
  let ready = false;
  let sawDiskEvidence = false;
  let archive: ContextArchive | undefined;

  const exec = async (payload: ProcessStartPayload, forward: boolean, runSignal = signal) => {
    const res = await runCommand(proxy!, payload, {
      signal: runSignal,
      sleep: deps.sleep,
      onOutput: forward ? (e) => events.buildLog(e.stream, e.line) : undefined,
      onNotice: forward ? (m) => events.status(m) : undefined,
    });
    if (res.exitCode !== 0) {
      throw new ActionError(commandFailureMessage(payload.command, res), { kind: 'builder' });
    }
    return res;
  };

  try {
    // ---------------------------------------------------------------- plan (local, no network)
    plan = await phase('plan', async () => {
      let p: BuildPlan;
      if (req.source.kind === 'import') {
        events.status(`Importing registry image ${req.source.image}`);
        p = planImport({ reference: req.source.image, name: req.name });
      } else {
        events.status(`Loading Dockerfile ${req.source.dockerfileInput}`);
        const text = await readDockerfile(req.source.dockerfile, req.source.dockerfileInput);
        p = planDockerfile({ text, dockerfilePath: req.source.dockerfile, contextDir: req.source.context, name: req.name });
        p.dockerfilePath = req.source.dockerfileInput;
      }
      for (const w of p.warnings) events.planWarning(w, p.dockerfilePath);
      result.warnings = p.warnings;
      if (req.dockerCompat) events.warning('Docker compatibility mode enabled: uses Docker/BuildKit export for rootfs materialisation; can be slower and may need a larger builder disk.');
      events.status(`Selected image name ${p.name}`);
      events.status(`Base image ${p.baseImage}${p.additionalRefs.length ? `; other images: ${p.additionalRefs.join(', ')}` : ''}`);
      return p;
    });
    result.name = plan.name;
    result.baseImage = plan.baseImage;
    const thePlan = plan;

    // ---------------------------------------------------------------- prepare
    prepared = await phase('prepare', async () => {
      if (req.auth.kind === 'api-key') {
        const scope = await platform.introspect();
        platform.setScope(scope);
        events.status(`Authenticated with an API key for organization ${scope.organizationId}, project ${scope.projectId}`);
      } else {
        platform.setScope({ organizationId: req.auth.organizationId, projectId: req.auth.projectId });
        events.status(`Using a personal access token for organization ${req.auth.organizationId}, project ${req.auth.projectId}`);
      }
      const refs = await resolveReferences(platform, thePlan, req.streaming);
      for (const l of refs.lookups) events.status(l.templateId ? `Reference ${l.reference} is registered template ${l.templateId}` : `Reference ${l.reference} is not a registered template (pulled from its registry)`);
      result.rootfsNodeKind = refs.rootfsNodeKind;
      result.parentTemplate = refs.parentTemplate?.templateId;
      events.status('Preparing rootfs build...');
      const prep = await platform.prepare({
        name: thePlan.name,
        dockerfile: thePlan.dockerfileText,
        baseImage: thePlan.baseImage,
        public: req.public,
        rootfsNodeKind: refs.rootfsNodeKind,
        parentTemplate: refs.parentTemplate,
        additionalLocalImages: refs.additionalLocalImages,
        ...(req.streaming ? { rootfsFormat: 'cas-streaming' as const } : {}),
      });
      registerSignedUrls(prep.raw, secrets);
      result.buildId = prep.buildId;
      result.snapshotId = prep.snapshotId;
      events.status(`Build ${prep.buildId} prepared. Build mode: ${prep.rootfsNodeKind === 'diff' ? 'RootfsDiff' : 'RootfsBase'}${prep.rootfsFormat === 'cas-streaming' ? ' (content-addressed streaming)' : ''}`);
      sizes = computeSizes(prep, req);
      result.rootfsDiskBytes = sizes.rootfsDiskBytes;
      events.status(`Builder resources: ${sizes.builder.cpus.toFixed(2)} CPUs, ${formatBytes(sizes.builder.memoryMb * 1024 * 1024)} memory, ${formatBytes(sizes.builder.diskMb * 1024 * 1024)} disk; target rootfs ${formatBytes(sizes.rootfsDiskBytes)}`);
      return prep;
    });
    const prep = prepared;
    const sz = sizes!;

    // ---------------------------------------------------------------- builder sandbox
    await phase('sandbox', async () => {
      events.status(`Creating rootfs builder sandbox from ${prep.builder.image}...`);
      const created = await lifecycle.createSandbox({
        image: prep.builder.image,
        resources: { cpus: sz.builder.cpus, memory_mb: sz.builder.memoryMb, disk_mb: sz.builder.diskMb },
        timeout_secs: 300,
        name: builderSandboxName(prep.buildId),
      });
      sandboxId = created.sandbox_id;
      result.builderSandboxId = sandboxId;
      events.sandboxCreated(sandboxId);
      events.status(`Builder sandbox ${sandboxId} created (${created.status})`);
      let sandboxUrl = created.sandbox_url;
      let routingHint = created.routing_hint;
      const t0 = now();
      for (;;) {
        if (now() - t0 >= limits.sandboxRunningMs) {
          throw new ActionError(`Sandbox ${sandboxId} did not reach 'running' within ${seconds(limits.sandboxRunningMs)} (sandbox-timeout)`, {
            kind: 'timeout',
            input: 'sandbox-timeout',
            advice: ['The platform may be out of capacity: re-run the job later, or raise the sandbox-timeout input.'],
          });
        }
        try {
          const info = await lifecycle.getSandbox(sandboxId);
          if (info.status === 'running') {
            sandboxUrl = sandboxUrl?.trim() ? sandboxUrl : info.sandbox_url;
            routingHint ??= info.routing_hint;
            break;
          }
          if (info.status === 'terminated') {
            throw new ActionError(`Sandbox ${sandboxId} terminated before reaching 'running'${info.termination_reason ? ` (${info.termination_reason})` : ''}`, { kind: 'sandbox' });
          }
        } catch (e) {
          if (!isTransientSandboxError(e)) throw e;
        }
        await sleep(limits.sandboxPollMs, signal);
      }
      events.status(`Rootfs builder sandbox ${sandboxId} is running`);
      const target = resolveProxyTarget(sandboxUrl, sandboxId, deps.env.TENSORLAKE_SANDBOX_PROXY_URL);
      proxy = new SandboxProxy(transport, { ...target, sandboxId, routingHint });
      const r0 = now();
      for (;;) {
        try {
          await exec({ command: '/bin/true', args: [] }, false);
          break;
        } catch (e) {
          if (!isTransientSandboxError(e) || now() - r0 >= limits.readinessMs) {
            const err = toActionError(e);
            if (isTransientSandboxError(e)) err.addAdvice(`The sandbox proxy did not become ready within ${seconds(limits.readinessMs)} (sandbox-timeout); raise the sandbox-timeout input if the platform is slow.`);
            throw err;
          }
          await sleep(1000, signal);
        }
      }
      ready = true;
    });

    // ---------------------------------------------------------------- upload context + spec
    const spec = await phase('upload', async () => {
      let signedUpload: JsonObject | undefined;
      let parentDownload: JsonObject | undefined;
      if (prep.snapshotRelPath !== undefined) {
        signedUpload = await proxy!.signBlob({
          target: { kind: 'artifact', rel_path: prep.snapshotRelPath },
          op: { kind: 'put_artifact', multipart_hint: multipartHint(sz.targetMiB) },
        });
        registerSignedUrls(signedUpload, secrets);
        if (typeof signedUpload.uri !== 'string') {
          throw new ActionError('dataplane signed upload response is missing uri', { kind: 'platform' });
        }
        if (prep.parent) {
          parentDownload = await proxy!.signBlob({ target: { kind: 'blob', uri: prep.parent.parentManifestUri }, op: { kind: 'get_blob' } });
          registerSignedUrls(parentDownload, secrets);
        }
      }
      await exec({ command: 'mkdir', args: ['-p', BUILD_DIR], user: 'root' }, false);
      await exec({ command: 'chmod', args: ['0777', BUILD_DIR], user: 'root' }, false);
      if (thePlan.mode === 'dockerfile' && thePlan.contextDir) {
        events.status('Uploading build context...');
        events.status(`Creating build context archive from ${thePlan.contextDir}`);
        const a0 = now();
        archive = await createContextArchive(thePlan.contextDir, {
          dockerfilePath: req.source.kind === 'dockerfile' ? req.source.dockerfile : undefined,
          signal,
          onProgress: (p) => {
            const el = Math.max(1, now() - a0);
            events.progress({ kind: 'archive', bytes: p.bytes, totalBytes: p.totalBytes, percent: p.percent, rate: (p.bytes * 1000) / el, files: p.files, totalFiles: p.totalFiles });
          },
        });
        for (const s of archive.skipped) events.warning(`Build context: skipped ${s.path}: ${s.reason}`);
        result.context = {
          digest: archive.digest,
          archiveDigest: archive.archiveDigest,
          fileCount: archive.fileCount,
          dirCount: archive.dirCount,
          symlinkCount: archive.symlinkCount,
          uncompressedBytes: archive.uncompressedBytes,
          compressedBytes: archive.compressedBytes,
          skipped: archive.skipped,
        };
        events.status(`Build context archive: ${archive.fileCount} files, ${formatBytes(archive.uncompressedBytes)} uncompressed, ${formatBytes(archive.compressedBytes)} compressed (${archive.digest})${archive.ignoreFile ? `; ignore rules from ${archive.ignoreFile}` : ''}`);
        await exec({ command: 'mkdir', args: ['-p', BUILD_DIR] }, false);
        const u0 = now();
        let lastDecile = -1;
        const total = archive.compressedBytes;
        const archivePath = archive.path;
        await proxy!.putFile(CONTEXT_ARCHIVE, {
          open: () => createReadStream(archivePath),
          length: total,
          onProgress: (sent) => {
            const percent = total === 0 ? 100 : Math.floor((sent * 100) / total);
            const decile = Math.floor(percent / 10);
            if (decile > lastDecile || sent === total) {
              if (decile === lastDecile && sent !== total) return;
              lastDecile = decile;
              const el = Math.max(1, now() - u0);
              events.progress({ kind: 'upload', bytes: sent, totalBytes: total, percent, rate: (sent * 1000) / el });
            }
          },
        });
        await exec({ command: 'mkdir', args: ['-p', CONTEXT_DIR] }, false);
        events.status('Untarring build context archive in builder sandbox...');
        await exec({ command: 'tar', args: ['-xzf', CONTEXT_ARCHIVE, '-C', CONTEXT_DIR] }, true);
        await proxy!.deleteFile(CONTEXT_ARCHIVE);
        events.status('Build context extracted; removed remote archive');
      }
      let dockerConfigJson: string | undefined;
      if (req.registryCredentials) {
        const creds = await loadRegistryCredentials(deps.env, secrets);
        dockerConfigJson = creds.dockerConfigJson;
        if (dockerConfigJson) secrets.add(dockerConfigJson);
        if (creds.registries.length) events.status(`Forwarding registry credentials for ${creds.registries.join(', ')} to the builder`);
        for (const h of creds.helpersSkipped) events.warning(`Docker credential helper not forwarded: ${h}; only inline credentials (docker/login-action) reach the builder`);
      }
      const s = buildSpec({ prepared: prep.raw, plan: thePlan, rootfsDiskBytes: sz.rootfsDiskBytes, signedUpload, parentDownload, dockerConfigJson, dockerCompat: req.dockerCompat });
      await exec({ command: 'mkdir', args: ['-p', BUILD_DIR] }, false);
      await proxy!.putFile(SPEC_PATH, Buffer.from(JSON.stringify(s, null, 2)));
      return { signedUri: typeof signedUpload?.uri === 'string' ? signedUpload.uri : undefined };
    });

    // ---------------------------------------------------------------- builder run
    await phase('build', async () => {
      events.status('Running offline rootfs builder...');
      const payload = builderPayload(prep.builder.command);
      const ctl = new AbortController();
      const onAbort = () => ctl.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, req.buildTimeoutMs);
      const keepalive = setInterval(() => {
        proxy!.health().catch(() => undefined);
      }, limits.keepaliveMs);
      try {
        const res = await runCommand(proxy!, payload, {
          signal: ctl.signal,
          sleep: deps.sleep,
          onOutput: (e) => {
            if (hasDiskSpaceEvidence(e.line)) sawDiskEvidence = true;
            events.buildLog(e.stream, e.line);
          },
          onNotice: (m) => events.status(m),
        });
        if (res.exitCode !== 0) throw new ActionError(commandFailureMessage(payload.command, res), { kind: 'builder' });
      } catch (e) {
        if (timedOut && !signal?.aborted) {
          throw new ActionError(`the builder did not finish within ${seconds(req.buildTimeoutMs)} (build-timeout)`, {
            kind: 'timeout',
            input: 'build-timeout',
            advice: ['Raise the build-timeout input if the build legitimately takes longer.'],
          });
        }
        throw e;
      } finally {
        clearTimeout(timer);
        clearInterval(keepalive);
        signal?.removeEventListener('abort', onAbort);
      }
    });

    // ---------------------------------------------------------------- complete
    const completion = await phase('complete', async () => {
      const meta = parseMetadata(await proxy!.getFile(METADATA_PATH));
      const body: CompleteRequest = completeRequestFromMetadata(meta, prep, { signedUri: spec.signedUri, clientRootfsDiskBytes: sz.rootfsDiskBytes });
      result.snapshotId = body.snapshotId;
      result.imageSizeBytes = body.snapshotSizeBytes;
      result.rootfsFormat = body.rootfsFormat === 'cas-streaming' ? 'cas-streaming' : 'ext4';
      events.status(body.rootfsFormat === 'cas-streaming'
        ? 'Submitting the image for verification and admission into the streaming CAS...'
        : 'Completing image registration...');
      const res = await platform.complete(prep.buildId, body);
      return { body, res };
    });

    let template: Template | undefined;
    const polling = completion.body.rootfsFormat === 'cas-streaming' && (completion.res.httpStatus === 202 || completion.res.body.status === 'ingesting');
    if (!polling) {
      template = completion.res.body as Template;
    } else if (!req.wait) {
      events.status('Admission in progress; not waiting (wait: false).');
      result.status = 'ingesting';
    } else {
      template = await phase('admission', async () => {
        events.status('Verifying and admitting the image into the streaming CAS; this may take minutes for large images...');
        const t0 = now();
        for (;;) {
          const st = await platform.getBuild(prep.buildId);
          result.admissionPolls++;
          const elapsed = now() - t0;
          if (st.status === 'completed') {
            if (!st.template) throw new ActionError('build completed but the status payload has no template', { kind: 'platform' });
            events.status(`Admission: completed after ${seconds(elapsed)} (${result.admissionPolls} polls)`);
            return st.template;
          }
          if (st.status === 'failed') {
            throw new ActionError(`streaming image admission failed: ${st.error ?? 'admission failed'}`, {
              kind: 'admission',
              advice: ['The builder staged an image the platform could not verify; re-run the build. If it fails again, report the build id to Tensorlake.'],
            });
          }
          if (st.status !== 'ingesting' && st.status !== 'prepared') {
            throw new ActionError(`unexpected build status ${st.status === undefined ? 'None' : `Some(${JSON.stringify(st.status)})`}`, { kind: 'platform' });
          }
          if (elapsed >= req.admissionTimeoutMs) {
            throw new ActionError(`timed out waiting for the streaming image admission after ${seconds(req.admissionTimeoutMs)} (admission-timeout)`, {
              kind: 'timeout',
              input: 'admission-timeout',
              advice: ['Raise the admission-timeout input, or set wait: false to return while admission continues.'],
            });
          }
          const next = Math.min(req.pollIntervalMs, Math.max(0, req.admissionTimeoutMs - elapsed));
          events.status(`Admission: ${st.status}, ${seconds(elapsed)} elapsed, next poll in ${seconds(next)}`);
          await sleep(next, signal);
        }
      });
    }
    if (template) {
      result.status = 'registered';
      result.template = template;
      const id = typeof template.id === 'string' ? template.id : typeof template.templateId === 'string' ? template.templateId : undefined;
      result.templateId = id;
      result.templateName = typeof template.name === 'string' ? template.name : plan.name;
      const manifest = typeof template.manifestUri === 'string' ? template.manifestUri : undefined;
      result.manifestUri = manifest ?? (typeof template.snapshotUri === 'string' ? template.snapshotUri : completion.body.snapshotUri);
      if (typeof template.imageDigest === 'string') result.imageDigest = template.imageDigest;
      if (typeof template.snapshotId === 'string') result.snapshotId = template.snapshotId;
      if (typeof template.snapshotSizeBytes === 'number') result.imageSizeBytes = template.snapshotSizeBytes;
      events.status(`Image '${result.templateName}' registered (${id ?? '-'})`);
    }
  } catch (e) {
    const err = toActionError(e);
    if (signal?.aborted) {
      result.status = 'cancelled';
    }
    err.annotate({ buildId: result.buildId, sandboxId, phase: current });
    if (ready && proxy && !signal?.aborted && err.kind !== 'cancelled') {
      const diag = await gatherDiagnostics(proxy, { errorText: err.message, sawDiskEvidenceInLog: sawDiskEvidence, signal: AbortSignal.timeout(30_000) });
      err.addAdvice(...diag.advice);
    }
    if (err.kind === 'cancelled') result.status = 'cancelled';
    else if (result.status !== 'cancelled') result.status = 'failed';
    result.error = err;
  } finally {
    if (archive) await archive.cleanup().catch(() => undefined);
    if (sandboxId) {
      await cleanup(sandboxId);
    }
  }
  return result;

  async function cleanup(id: string): Promise<void> {
    const wasCancelled = signal?.aborted === true;
    const budget = wasCancelled ? limits.cancelledCleanupMs : limits.cleanupMs;
    events.phaseStart('cleanup');
    const t0 = now();
    const cleanupTransport = new HttpTransport({
      token: req.auth.token,
      userAgent: deps.userAgent,
      scopeHeaders,
      secrets,
      log,
      retry: { ...deps.retry, maxElapsedMs: Math.min(budget, deps.retry?.maxElapsedMs ?? budget) },
      signal: AbortSignal.timeout(budget),
      sleep: deps.sleep,
    });
    try {
      await new LifecycleApi(cleanupTransport, req.apiUrl, req.namespace).deleteSandbox(id);
      result.sandboxDeleted = true;
      events.sandboxDeleted(id);
      events.status(`Deleted builder sandbox ${id}`);
      const ms = now() - t0;
      result.timings.push({ phase: 'cleanup', ms, outcome: 'ok' });
      events.phaseEnd('cleanup', 'ok', ms);
    } catch (e) {
      events.warning(`Failed to terminate builder sandbox ${id} during cleanup: ${toActionError(e).message}. The post step will try again.`);
      const ms = now() - t0;
      result.timings.push({ phase: 'cleanup', ms, outcome: 'failed' });
      events.phaseEnd('cleanup', 'failed', ms);
    }
  }
}
