/**
 * Sandbox lifecycle API (docs/protocol.md §1.5, §5): create (with reconciliation by name), get, list,
 * delete of the builder sandbox.
 */
import { ActionError } from '../errors.js';
import { isSuccess } from './http-errors.js';
import { reconcileAmbiguousPost, type Ambiguous, type ReadBack, type Settled } from './reconcile.js';
import { HttpTransport, type HttpResponse } from './transport.js';
import { LOCAL_HOSTS, encodePathSegment, trimBaseUrl } from './urls.js';
import { isTerminalStatus } from './retry.js';
import type { SandboxCreateRequest, SandboxCreated, SandboxInfo } from './types.js';
import { Fields, parseJsonBody, type ResponseContext } from './validate.js';

/**
 * §1.5 lifecycle base. `baseUrl` is the URL that `/sandboxes…` is appended to: for a localhost API
 * it already contains `/v1/namespaces/<namespace>` (`namespaced: true`).
 */
export function resolveLifecycle(apiUrl: string, namespace = 'default'): { baseUrl: string; namespaced: boolean } {
  let u: URL | undefined;
  try {
    u = new URL(apiUrl.trim());
  } catch {
    u = undefined;
  }
  if (u && LOCAL_HOSTS.has(u.hostname.toLowerCase())) {
    const ns = namespace.trim() || 'default';
    return { baseUrl: `${trimBaseUrl(apiUrl)}/v1/namespaces/${encodePathSegment(ns)}`, namespaced: true };
  }
  if (u && u.hostname.toLowerCase().startsWith('api.')) {
    return { baseUrl: `${u.protocol}//sandbox.${u.hostname.slice(4)}`, namespaced: false };
  }
  return { baseUrl: 'https://sandbox.tensorlake.ai', namespaced: false };
}

export function validateSandboxCreated(ctx: ResponseContext, value: unknown): SandboxCreated {
  const f = Fields.root(ctx, value);
  const out: SandboxCreated = { sandbox_id: f.reqString('sandbox_id'), status: f.reqString('status') };
  for (const k of ['sandbox_url', 'routing_hint', 'name', 'reason'] as const) {
    const v = f.optString(k);
    if (v !== undefined) out[k] = v;
  }
  f.optString('ingress_endpoint');
  f.optString('termination_reason');
  return out;
}

/**
 * §5.2 SandboxInfo. The fields the action reads are checked (`sandbox_id`/`id`, `status`, optional
 * strings); `namespace` and `resources` are type-checked when present but not required (the
 * reference SDK requires them; the action does not use them).
 */
export function validateSandboxInfo(f: Fields): SandboxInfo {
  const id = f.has('sandbox_id') ? f.reqString('sandbox_id') : f.has('id') ? f.reqString('id') : f.reqString('sandbox_id');
  const out: SandboxInfo = {
    sandbox_id: id,
    namespace: f.optString('namespace') ?? '',
    status: f.reqString('status'),
    raw: f.obj,
  };
  for (const k of ['sandbox_url', 'routing_hint', 'name', 'termination_reason'] as const) {
    const v = f.optString(k);
    if (v !== undefined) out[k] = v;
  }
  const r = f.optObject('resources');
  if (r) {
    r.optNumber('cpus');
    r.optInt('memory_mb');
    r.optInt('ephemeral_disk_mb');
  }
  return out;
}

const CREATE = 'create builder sandbox';

export class LifecycleApi {
  readonly baseUrl: string;
  readonly namespaced: boolean;

  constructor(
    private readonly transport: HttpTransport,
    apiUrl: string,
    namespace?: string,
  ) {
    const r = resolveLifecycle(apiUrl, namespace);
    this.baseUrl = r.baseUrl;
    this.namespaced = r.namespaced;
  }

  private url(path: string): string {
    return `${this.baseUrl}/sandboxes${path}`;
  }

  /**
   * §5.1 create. 2xx, or a 504 whose body decodes, is success. The POST is retried by the transport
   * only when it provably never reached the server. An ambiguous failure (sent but no answer,
   * 5xx) is reconciled when `req.name` is set: list the sandboxes, take the one with that name;
   * if none, create again (within the retry policy). After a create that followed an ambiguous
   * attempt, any other live sandbox with the same name (a late duplicate) is deleted.
   */
  async createSandbox(req: SandboxCreateRequest, signal?: AbortSignal): Promise<SandboxCreated> {
    const name = req.name;
    return reconcileAmbiguousPost<SandboxCreated, SandboxInfo | undefined>({
      operation: CREATE,
      transport: this.transport,
      signal,
      send: (resent) => this.sendCreate(req, resent, signal),
      readBack: name ? this.createdByName(name, signal) : undefined,
    });
  }

  /** One create; `resent`: an earlier one was ambiguous (its sandbox may exist). */
  private async sendCreate(req: SandboxCreateRequest, resent: boolean, signal?: AbortSignal): Promise<Settled<SandboxCreated> | Ambiguous> {
    const res = await this.transport.request({
      method: 'POST',
      url: this.url(''),
      operation: CREATE,
      json: req,
      retry: 'if-unsent',
      signal,
    });
    let created: SandboxCreated | undefined;
    try {
      created = this.decodeCreate(res, CREATE);
    } catch (e) {
      // A 2xx says the sandbox exists even when its answer cannot be read (truncated, empty,
      // HTML, other field names): find it by name; never create a second one.
      if (!req.name || (e instanceof ActionError && e.kind === 'cancelled')) throw e;
      const adopted = await this.awaitByName(req.name, signal);
      if (adopted) {
        this.transport.log.debug(`sandbox create answer was unreadable; found sandbox ${adopted.sandbox_id} named '${req.name}'`);
        await this.deleteDuplicates(req.name, adopted.sandbox_id, signal);
        return { done: adopted };
      }
      throw e;
    }
    if (created) {
      if (resent && req.name) {
        await this.deleteDuplicates(req.name, created.sandbox_id, signal);
        return { done: { ...created, reconciled: true } };
      }
      return { done: created };
    }
    const err = this.transport.statusError(res, CREATE);
    // After an ambiguous attempt, a 409 (name taken) means our first create went through.
    if (res.status === 409 && resent && req.name) {
      const adopted = await this.awaitByName(req.name, signal);
      if (adopted) return { done: adopted };
    }
    // 408: the server says it did not process the request; anything else terminal is final.
    if (res.status !== 408 && (isTerminalStatus(res.status) || res.status < 500)) throw err;
    return { ambiguous: err };
  }

  /** After an ambiguous create: the sandbox named `name` is ours (its duplicates go); none → create again. */
  private createdByName(name: string, signal?: AbortSignal): ReadBack<SandboxCreated, SandboxInfo | undefined> {
    return {
      read: () => this.findByName(name, signal),
      failed: (why) => `Listing sandboxes to find '${name}' also failed: ${why}`,
      settle: async (found) => {
        if (!found) return 'resend';
        this.transport.log.debug(`sandbox create was ambiguous; found sandbox ${found.sandbox_id} named '${name}'`);
        await this.deleteDuplicates(name, found.sandbox_id, signal);
        return { done: adopt(found) };
      },
      resendNote: (wait) => `no sandbox named '${name}' exists: creating it again in ${wait} ms`,
    };
  }

  private decodeCreate(res: HttpResponse, operation: string): SandboxCreated | undefined {
    if (isSuccess(res.status)) {
      const ctx = this.transport.context(res, 'sandbox create', operation);
      return validateSandboxCreated(ctx, parseJsonBody(ctx));
    }
    if (res.status === 504) {
      // §5.1: a 504 whose body decodes like a success is a success; otherwise it is ambiguous.
      try {
        const ctx = this.transport.context(res, 'sandbox create', operation);
        return validateSandboxCreated(ctx, parseJsonBody(ctx));
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** A 409 after an ambiguous create: the sandbox exists but a list may lag; look a few times. */
  private async awaitByName(name: string, signal?: AbortSignal): Promise<SandboxCreated | undefined> {
    for (let i = 1; i <= 5; i++) {
      const found = await this.findByName(name, signal).catch((e: unknown) => {
        if (e instanceof ActionError && e.kind === 'cancelled') throw e;
        return undefined;
      });
      if (found) return adopt(found);
      await this.transport.sleep(this.transport.backoff(i), signal, 'find the builder sandbox by name');
    }
    return undefined;
  }

  /**
   * Deletes every live sandbox with this name (the action's builder sandboxes carry a name derived
   * from the build): the sweep after a create whose answer never came. Throws if listing fails.
   */
  async deleteByName(name: string, signal?: AbortSignal, alreadyDeleted: ReadonlySet<string> = new Set()): Promise<string[]> {
    const deleted: string[] = [];
    let failure: unknown;
    for (const s of await this.listSandboxes(signal)) {
      if (s.name !== name || s.status === 'terminated' || alreadyDeleted.has(s.sandbox_id)) continue;
      try {
        await this.deleteSandbox(s.sandbox_id, signal);
        deleted.push(s.sandbox_id);
      } catch (e) {
        if (e instanceof ActionError && e.kind === 'cancelled') throw e;
        failure ??= e; // carry on with the others, report the first failure
      }
    }
    if (failure !== undefined) throw failure;
    return deleted;
  }

  private async findByName(name: string, signal?: AbortSignal): Promise<SandboxInfo | undefined> {
    const all = await this.listSandboxes(signal);
    return all.find((s) => s.name === name && s.status !== 'terminated');
  }

  /** Best effort: deletes other live sandboxes carrying our unique name (never the kept one). */
  private async deleteDuplicates(name: string, keepId: string, signal?: AbortSignal): Promise<void> {
    let all: SandboxInfo[];
    try {
      all = await this.listSandboxes(signal);
    } catch (e) {
      if (e instanceof ActionError && e.kind === 'cancelled') throw e;
      return;
    }
    for (const s of all) {
      if (s.name !== name || s.sandbox_id === keepId || s.status === 'terminated') continue;
      try {
        this.transport.log.debug(`deleting duplicate builder sandbox ${s.sandbox_id} (same name '${name}')`);
        await this.deleteSandbox(s.sandbox_id, signal);
      } catch (e) {
        if (e instanceof ActionError && e.kind === 'cancelled') throw e;
        this.transport.log.warning(
          `Failed to delete duplicate builder sandbox ${s.sandbox_id}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  }

  /** §5.2 GET. Errors keep status and body for the transient classification of §5.4. */
  /** `withinMs`: what is left of the wait this read belongs to (docs/protocol.md, "Request deadlines and caps"). */
  async getSandbox(id: string, signal?: AbortSignal, withinMs?: number): Promise<SandboxInfo> {
    const operation = `read builder sandbox ${id}`;
    const res = await this.transport.request({
      method: 'GET',
      url: this.url(`/${encodePathSegment(id)}`),
      operation,
      retry: 'always',
      signal,
      deadline: withinMs !== undefined ? this.transport.now() + withinMs : undefined,
    });
    if (!isSuccess(res.status)) throw this.transport.statusError(res, operation);
    const ctx = this.transport.context(res, 'sandbox', operation);
    return validateSandboxInfo(Fields.root(ctx, parseJsonBody(ctx)));
  }

  /** GET {lifecycle}/sandboxes → `{"sandboxes":[…]}`. */
  async listSandboxes(signal?: AbortSignal): Promise<SandboxInfo[]> {
    const operation = 'list sandboxes';
    const res = await this.transport.request({ method: 'GET', url: this.url(''), operation, retry: 'always', signal });
    if (!isSuccess(res.status)) throw this.transport.statusError(res, operation);
    const ctx = this.transport.context(res, 'sandbox list', operation);
    const f = Fields.root(ctx, parseJsonBody(ctx));
    return f.reqArray('sandboxes').map((v, i) => validateSandboxInfo(f.element('sandboxes', i, v)));
  }

  /** §5.5 DELETE; 2xx, and 404 (already gone) are fine. Retried. */
  async deleteSandbox(id: string, signal?: AbortSignal): Promise<void> {
    const operation = `delete builder sandbox ${id}`;
    const res = await this.transport.request({
      method: 'DELETE',
      url: this.url(`/${encodePathSegment(id)}`),
      operation,
      retry: 'always',
      signal,
    });
    if (isSuccess(res.status) || res.status === 404) return;
    throw this.transport.statusError(res, operation);
  }
}

function adopt(found: SandboxInfo): SandboxCreated {
  const out: SandboxCreated = { sandbox_id: found.sandbox_id, status: found.status, name: found.name, reconciled: true };
  if (found.sandbox_url !== undefined) out.sandbox_url = found.sandbox_url;
  if (found.routing_hint !== undefined) out.routing_hint = found.routing_hint;
  return out;
}
