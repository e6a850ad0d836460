/**
 * Platform API client (docs/protocol.md §1.3, §3, §4, §9): introspection, template lookup, prepare,
 * complete (with reconciliation of ambiguous failures) and build status.
 */
import { ActionError } from '../errors.js';
import { HttpStatusError, isSuccess } from './http-errors.js';
import { reconcileAmbiguousPost, type Ambiguous, type ReadBack, type Settled } from './reconcile.js';
import { HttpTransport, type HttpResponse } from './transport.js';
import { isTerminalStatus } from './retry.js';
import type { BuildStatus, CompleteRequest, CompleteResponse, JsonObject, PrepareRequest, PreparedBuild, Template } from './types.js';
import { Fields, parseJsonBody, statusText, bodyExcerpt, type ResponseContext } from './validate.js';
import { registerUrlSecrets } from './url-secrets.js';
import { encodePathSegment, trimBaseUrl } from './urls.js';

/** Validates a §3 template object (every field optional, known fields type-checked, unknown kept). */
export function validateTemplate(f: Fields): Template {
  f.optString('id');
  f.optString('name');
  f.optString('snapshotId');
  f.optString('snapshotSandboxId');
  f.optString('snapshotUri');
  f.optString('snapshotFormatVersion');
  f.optUint('snapshotSizeBytes');
  f.optUint('rootfsDiskBytes');
  f.optString('rootfsNodeKind');
  f.optBool('public');
  // Rust Option<T> decodes null as absent: drop nulls of known fields so callers see undefined.
  const out: Template = { ...f.obj };
  for (const k of [
    'id',
    'name',
    'snapshotId',
    'snapshotSandboxId',
    'snapshotUri',
    'snapshotFormatVersion',
    'snapshotSizeBytes',
    'rootfsDiskBytes',
    'rootfsNodeKind',
    'public',
  ]) {
    if (out[k] === null) delete out[k];
  }
  return out;
}

export function validatePrepared(ctx: ResponseContext, value: unknown): PreparedBuild {
  const f = Fields.root(ctx, value);
  const builder = f.reqObject('builder');
  const parentF = f.optObject('parent');
  const prepared: PreparedBuild = {
    buildId: f.reqString('buildId'),
    snapshotId: f.reqString('snapshotId'),
    rootfsNodeKind: f.reqString('rootfsNodeKind'),
    builder: {
      image: builder.reqString('image'),
      command: builder.reqString('command'),
      cpus: builder.reqNumber('cpus'),
      memoryMb: builder.reqInt('memoryMb'),
      diskMb: builder.reqUint('diskMb'),
    },
    parent: parentF
      ? { parentManifestUri: parentF.reqString('parentManifestUri'), ...optional('rootfsDiskBytes', parentF.optUint('rootfsDiskBytes')) }
      : null,
    raw: f.obj,
  };
  const snapshotUri = f.optString('snapshotUri');
  if (snapshotUri !== undefined) prepared.snapshotUri = snapshotUri;
  const rootfsFormat = f.optString('rootfsFormat');
  if (rootfsFormat !== undefined) prepared.rootfsFormat = rootfsFormat;
  const rel = f.optString('snapshotRelPath');
  if (rel !== undefined) prepared.snapshotRelPath = rel;
  return prepared;
}

export function validateBuildStatus(ctx: ResponseContext, value: unknown): BuildStatus {
  const f = Fields.root(ctx, value);
  const out: BuildStatus = { raw: f.obj };
  const status = f.optString('status');
  if (status !== undefined) out.status = status;
  const t = f.optObject('template');
  if (t) out.template = validateTemplate(t);
  // `error` is shown to the user; tolerate a non-string by rendering it.
  const err = f.obj.error;
  if (typeof err === 'string') out.error = err;
  else if (err !== undefined && err !== null) out.error = JSON.stringify(err);
  return out;
}

function optional<K extends string, V>(key: K, v: V | undefined): Partial<Record<K, V>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, V>);
}

const COMPLETE = 'complete sandbox image build';

/** The build failed on the platform (read back after an ambiguous completion). */
function admissionFailed(buildId: string, req: CompleteRequest, why: string): ActionError {
  const streaming = req.rootfsFormat === 'cas-streaming';
  return new ActionError(
    streaming
      ? `streaming image admission failed: ${why}`
      : `failed to complete sandbox image build: the platform reports the build as failed: ${why}`,
    { kind: streaming ? 'admission' : 'platform', buildId },
  );
}

export class PlatformApi {
  private readonly apiUrl: string;
  private scope?: { organizationId: string; projectId: string };

  constructor(
    private readonly transport: HttpTransport,
    apiUrl: string,
  ) {
    this.apiUrl = trimBaseUrl(apiUrl);
  }

  setScope(scope: { organizationId: string; projectId: string }): void {
    this.scope = { ...scope };
  }

  private scoped(path: string): string {
    if (!this.scope) {
      throw new ActionError('internal error: the platform scope (organization/project) is not known yet', { kind: 'internal' });
    }
    return `${this.apiUrl}/platform/v1/organizations/${this.scope.organizationId}/projects/${this.scope.projectId}${path}`;
  }

  private parse(res: HttpResponse, what: string, operation: string): unknown {
    return parseJsonBody(this.transport.context(res, what, operation));
  }

  /** §1.3: POST introspect, empty body, never with scope headers. */
  async introspect(signal?: AbortSignal): Promise<{ id?: string; organizationId: string; projectId: string }> {
    const operation = 'introspect the API key';
    const res = await this.transport.request({
      method: 'POST',
      url: `${this.apiUrl}/platform/v1/keys/introspect`,
      operation,
      retry: 'always', // a read: safe to repeat
      scopeHeaders: false,
      signal,
    });
    if (!isSuccess(res.status)) {
      const excerpt = bodyExcerpt(res.body, (s) => this.transport.secrets.redact(s));
      const auth = res.status >= 400 && res.status < 500;
      const advice = auth
        ? ['Check the api-key input (or TENSORLAKE_API_KEY): the key may be wrong, revoked, or for another environment than api-url.']
        : [];
      throw new HttpStatusError(`API key introspection failed (HTTP ${statusText(res.status)}): ${excerpt || '(empty body)'}`, {
        kind: auth ? 'auth' : 'platform',
        status: res.status,
        body: this.transport.secrets.redact(res.body.toString('utf8')),
        operation,
        advice,
      });
    }
    const ctx = this.transport.context(res, 'API key introspection', operation);
    const f = Fields.root(ctx, parseJsonBody(ctx));
    const out: { id?: string; organizationId: string; projectId: string } = {
      organizationId: f.reqString('organizationId'),
      projectId: f.reqString('projectId'),
    };
    const id = f.optString('id');
    if (id !== undefined) out.id = id;
    return out;
  }

  /** §3: GET by-name; 404 → null. */
  async lookupTemplate(ref: string, signal?: AbortSignal): Promise<Template | null> {
    const operation = `look up template '${ref}'`;
    const res = await this.transport.request({
      method: 'GET',
      url: this.scoped(`/sandbox-templates/by-name/${encodePathSegment(ref)}`),
      operation,
      headers: { accept: 'application/json' },
      retry: 'always',
      signal,
    });
    if (res.status === 404) return null;
    if (!isSuccess(res.status)) throw this.transport.statusError(res, operation);
    const ctx = this.transport.context(res, 'template lookup', operation);
    return validateTemplate(Fields.root(ctx, parseJsonBody(ctx)));
  }

  /**
   * §4: POST prepare, retried like a read (502/503, resets, timeouts): it allocates nothing a
   * retry could leak — at worst a prepared build nobody completes (docs/protocol.md, "Prepare is
   * retried like a read").
   */
  async prepare(req: PrepareRequest, signal?: AbortSignal): Promise<PreparedBuild> {
    const operation = 'prepare sandbox image build';
    const res = await this.transport.request({
      method: 'POST',
      url: this.scoped('/sandbox-template-builds'),
      operation,
      json: req,
      retry: 'always',
      signal,
    });
    if (!isSuccess(res.status)) throw this.transport.statusError(res, operation);
    const ctx = this.transport.context(res, 'prepare', operation);
    const prepared = validatePrepared(ctx, parseJsonBody(ctx));
    this.registerPreparedSecrets(prepared.raw);
    return prepared;
  }

  /** Pre-signed URLs in a legacy prepare answer (`upload`, `download` blocks) are secrets. */
  private registerPreparedSecrets(raw: JsonObject): void {
    registerUrlSecrets(raw, this.transport.secrets, '', true); // prepare carries pre-signed upload/download blocks
  }

  /**
   * §9.1 POST complete. An ambiguous failure (reset/timeout after sending, 5xx, 409) is reconciled
   * by reading the build: `ingesting` → {202, {status:'ingesting'}}, `completed` → {200, template},
   * `prepared` → the completion did not happen: send it again (within the retry policy),
   * `failed` → an error. Non-ambiguous 4xx fail at once.
   */
  async complete(buildId: string, req: CompleteRequest, signal?: AbortSignal): Promise<CompleteResponse> {
    const url = this.scoped(`/sandbox-template-builds/${encodePathSegment(buildId)}/complete`);
    return reconcileAmbiguousPost<CompleteResponse, BuildStatus>({
      operation: COMPLETE,
      transport: this.transport,
      signal,
      send: () => this.sendComplete(url, req, signal),
      readBack: this.completionOf(buildId, req, signal),
    });
  }

  /** One completion: settled by a 2xx, ambiguous on 408, 409 and a retryable 5xx, thrown otherwise. */
  private async sendComplete(url: string, req: CompleteRequest, signal?: AbortSignal): Promise<Settled<CompleteResponse> | Ambiguous> {
    const res = await this.transport.request({ method: 'POST', url, operation: COMPLETE, json: req, retry: 'if-unsent', signal });
    if (isSuccess(res.status)) {
      const ctx = this.transport.context(res, 'complete', COMPLETE);
      // 200 (durable): the registered template; 202: {"status":"ingesting"}. Both validate as a template.
      const body = validateTemplate(Fields.root(ctx, parseJsonBody(ctx)));
      registerUrlSecrets(body, this.transport.secrets);
      return { done: { httpStatus: res.status, body } };
    }
    const err = this.transport.statusError(res, COMPLETE);
    // 409 (already completing) and 408 (not processed) are reconciled by reading the build.
    if (res.status !== 409 && res.status !== 408 && (isTerminalStatus(res.status) || res.status < 500)) throw err;
    return { ambiguous: err };
  }

  /** After an ambiguous completion: did it go through? The build's state says. */
  private completionOf(buildId: string, req: CompleteRequest, signal?: AbortSignal): ReadBack<CompleteResponse, BuildStatus> {
    return {
      read: () => this.getBuild(buildId, signal),
      failed: (why) => `Reading build ${buildId} to check whether the completion went through also failed: ${why}`,
      settle: (state, ambiguous) => {
        this.transport.log.debug(
          `complete of build ${buildId} was ambiguous (${this.transport.secrets.redact(ambiguous.message)}); the build is now '${state.status ?? 'unknown'}'`,
        );
        if (state.status === 'ingesting') return { done: { httpStatus: 202, body: { status: 'ingesting' } } };
        if (state.status === 'completed') {
          if (!state.template)
            throw new ActionError('build completed but the status payload has no template', { kind: 'platform', buildId });
          return { done: { httpStatus: 200, body: state.template } };
        }
        if (state.status === 'failed') throw admissionFailed(buildId, req, state.error ?? 'admission failed');
        if (state.status !== 'prepared') throw ambiguous;
        // Not applied: send it again (within the retry policy), except after a 409: the platform
        // refused it (it is completing already), so the 409 is the answer (docs/protocol.md §9.1).
        if (ambiguous instanceof HttpStatusError && ambiguous.httpStatus === 409) throw ambiguous;
        return 'resend';
      },
      resendNote: (wait) => `build ${buildId} is still 'prepared': sending the completion again in ${wait} ms`,
    };
  }

  /** §9.2 GET build status, retried. */
  /** `withinMs`: what is left of the wait this poll belongs to (docs/protocol.md, "Request deadlines and caps"). */
  async getBuild(buildId: string, signal?: AbortSignal, withinMs?: number): Promise<BuildStatus> {
    const operation = 'poll sandbox image build';
    const res = await this.transport.request({
      method: 'GET',
      url: this.scoped(`/sandbox-template-builds/${encodePathSegment(buildId)}`),
      operation,
      retry: 'always',
      signal,
      deadline: withinMs !== undefined ? this.transport.now() + withinMs : undefined,
    });
    if (!isSuccess(res.status)) throw this.transport.statusError(res, operation);
    const ctx = this.transport.context(res, 'build status', operation);
    const st = validateBuildStatus(ctx, parseJsonBody(ctx));
    registerUrlSecrets(st.raw, this.transport.secrets);
    return st;
  }
}
