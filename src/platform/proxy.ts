/**
 * Per-sandbox proxy (container daemon) API of docs/protocol.md §1.5 and §6: processes, output follow
 * (SSE), files, health, blob signing and the diagnostics run endpoint (§10.1).
 *
 * Over 350 lines on purpose: one client for one API (the sandbox's daemon); its SSE reader and
 * payload validators are used by nothing else.
 */
import type { IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ActionError, cancelledError } from '../errors.js';
import { anySignal } from '../signals.js';
import { mib } from './bodies.js';
import { TransportError, isSuccess } from './http-errors.js';
import { HttpTransport, type HttpResponse, type HttpStream, type RequestSpec } from './transport.js';
import { LOCAL_HOSTS, isLoopbackHost } from './urls.js';
import { registerBodySecrets, registerUrlSecrets } from './url-secrets.js';
import type { JsonObject, OutputEvent, ProcessInfo, ProcessStartPayload, RunEvent } from './types.js';
import { Fields, isJsonObject, parseJsonBody } from './validate.js';

export interface ProxyTarget {
  baseUrl: string;
  hostOverride?: string;
  sandboxId: string;
  routingHint?: string;
}

function clientError(message: string): ActionError {
  return new ActionError(message, { kind: 'sandbox' });
}

/**
 * §1.5 steps 1–4: the server's `sandbox_url` wins over the `TENSORLAKE_SANDBOX_PROXY_URL` override;
 * a localhost/127.0.0.1 base keeps its path and gets `Host: <id>.local`; any other host is reduced
 * to scheme://host[:port]. Plain http:// is refused for non-loopback hosts (the bearer token goes
 * to the proxy).
 */
export function resolveProxyTarget(
  sandboxUrl: string | undefined,
  sandboxId: string,
  envOverride?: string,
): { baseUrl: string; hostOverride?: string } {
  const server = sandboxUrl?.trim();
  const env = envOverride?.trim();
  const chosen = server ? server : env ? env : undefined;
  if (!chosen) throw clientError('server response did not include sandbox_url; refusing to derive a proxy URL');
  let u: URL;
  try {
    u = new URL(chosen);
  } catch {
    throw clientError(`invalid proxy url ${chosen}`);
  }
  if (!u.hostname) throw clientError(`proxy url ${chosen} is missing a host`);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw clientError(`invalid proxy url ${chosen}: unsupported scheme ${u.protocol}`);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw clientError(
      `refusing plain http:// proxy url ${chosen}: the token would travel unencrypted (http is only accepted for loopback hosts)`,
    );
  }
  if (LOCAL_HOSTS.has(u.hostname.toLowerCase())) {
    // Keep the path (and the exact text), drop trailing slashes, query and fragment.
    const base = `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
    return { baseUrl: base, hostOverride: `${sandboxId}.local` };
  }
  return { baseUrl: `${u.protocol}//${u.host}` };
}

export function validateProcessInfo(f: Fields): ProcessInfo {
  const out: ProcessInfo = {
    pid: f.reqInt('pid'),
    status: f.reqString('status'),
    command: f.reqString('command'),
    args: f.optStringArray('args') ?? [],
    oom_killed: f.optBool('oom_killed') ?? false,
  };
  const exit = f.optInt('exit_code');
  if (exit !== undefined) out.exit_code = exit;
  const sig = f.optInt('signal');
  if (sig !== undefined) out.signal = sig;
  const managed = f.optObject('managed');
  const lastExit = managed?.optObject('last_exit');
  const mOom = lastExit?.optBool('oom_killed');
  if (mOom !== undefined) out.managed_oom_killed = mOom;
  return out;
}

/** §6.2: `{"line": string, "timestamp": any, "stream"?: "stdout"|"stderr"}`; anything else → undefined. */
export function parseOutputPayload(data: string): OutputEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isJsonObject(v) || typeof v.line !== 'string') return undefined;
  if (v.stream !== undefined && v.stream !== null && v.stream !== 'stdout' && v.stream !== 'stderr') return undefined;
  const ev: OutputEvent = { line: v.line, stream: v.stream === 'stderr' ? 'stderr' : 'stdout' };
  if (v.timestamp !== undefined) ev.timestamp = v.timestamp;
  return ev;
}

function optIntField(o: JsonObject, k: string): number | undefined | null {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

/** §10.1 run events (untagged, first match wins); undefined = skip. */
export function parseRunPayload(data: string): RunEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isJsonObject(v)) return undefined;
  if ('pid' in v && 'started_at' in v && typeof v.pid === 'number' && Number.isInteger(v.pid)) return { type: 'started', pid: v.pid };
  if (typeof v.line === 'string' && 'timestamp' in v) {
    return { type: 'output', line: v.line, stream: v.stream === 'stderr' ? 'stderr' : 'stdout' };
  }
  const exit = optIntField(v, 'exit_code');
  const signal = optIntField(v, 'signal');
  if (exit === null || signal === null) return undefined;
  if (exit === undefined && signal === undefined) return undefined;
  const oom = v.oom_killed === true;
  const ev: RunEvent = { type: 'exited', oom_killed: oom };
  if (exit !== undefined) ev.exit_code = exit;
  if (signal !== undefined) ev.signal = signal;
  return ev;
}

/** Largest SSE event held in memory (a builder log line is one event). */
export const MAX_EVENT_BYTES = 8 * 1024 * 1024;

/** Signals the SSE reader that the stream went idle for too long (treated as a clean end). */
class IdleEnd extends Error {}

/**
 * Reads an SSE body and yields each event's data. Ends when the server closes the stream (or,
 * with idleMs, when nothing arrives for that long); throws a TransportError when the connection
 * breaks off mid-stream.
 */
export async function* sseData(
  body: NodeJS.ReadableStream,
  operation: string,
  opts: { idleMs?: number; signal?: AbortSignal; maxEventBytes?: number } = {},
): AsyncGenerator<string> {
  const queue: string[] = [];
  const maxEvent = opts.maxEventBytes ?? MAX_EVENT_BYTES;
  /** bytes received since the last complete event: what the parser may be holding */
  let pending = 0;
  const parser = createParser({
    onEvent: (e: EventSourceMessage) => {
      pending = 0;
      queue.push(e.data);
    },
  });
  const decoder = new TextDecoder();
  const msg = body as IncomingMessage;
  let timer: NodeJS.Timeout | undefined;
  let idled = false;
  const arm = (): void => {
    if (!opts.idleMs) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      idled = true;
      (body as unknown as { destroy(e?: Error): void }).destroy(new IdleEnd('idle'));
    }, opts.idleMs);
    timer.unref?.();
  };
  arm();
  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      arm();
      pending += chunk.length;
      if (pending > maxEvent) {
        throw new ActionError(
          `failed to ${operation}: an event larger than ${mib(maxEvent)} (or one that never ends) arrived on the event stream`,
          {
            kind: 'platform',
          },
        );
      }
      parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
      while (queue.length) yield queue.shift() as string;
    }
    parser.feed(decoder.decode());
    while (queue.length) yield queue.shift() as string;
    if (typeof msg.complete === 'boolean' && !msg.complete) {
      throw new TransportError(`failed to ${operation}: the event stream broke off`, { code: 'ECONNRESET', unsent: false });
    }
  } catch (e) {
    if (idled) return;
    if (opts.signal?.aborted) throw cancelledError(`trying to ${operation}`, e);
    if (e instanceof ActionError) throw e;
    const code = (e as { code?: unknown }).code;
    throw new TransportError(`failed to ${operation}: the event stream broke off (${e instanceof Error ? e.message : String(e)})`, {
      code: typeof code === 'string' ? code : undefined,
      unsent: false,
      cause: e,
    });
  } finally {
    if (timer) clearTimeout(timer);
    (body as unknown as { destroy(): void }).destroy();
  }
}

export interface SandboxProxyOptions {
  /** A follow stream silent for this long is ended (and, by runCommand, reattached). Default 10 min; 0 = never. */
  followIdleTimeoutMs?: number;
}

export class SandboxProxy {
  readonly target: ProxyTarget;
  private readonly baseUrl: string;
  private readonly followIdleMs: number;

  constructor(
    private readonly transport: HttpTransport,
    target: ProxyTarget,
    opts: SandboxProxyOptions = {},
  ) {
    this.target = { ...target };
    this.baseUrl = target.baseUrl.replace(/\/+$/, '');
    this.followIdleMs = opts.followIdleTimeoutMs ?? 10 * 60_000;
  }

  get sandboxId(): string {
    return this.target.sandboxId;
  }

  /** Sleeps through the transport's (injectable) sleep, honouring the run-level signal. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.transport.sleep(ms, signal, 'wait for the builder sandbox');
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { 'x-tensorlake-sandbox-id': this.target.sandboxId };
    if (this.target.routingHint) h['x-tensorlake-route-hint'] = this.target.routingHint;
    if (this.target.hostOverride) h.host = this.target.hostOverride;
    return { ...h, ...(extra ?? {}) };
  }

  private fail(res: HttpResponse, operation: string): ActionError {
    return this.transport.statusError(res, operation, res.status === 401 || res.status === 403 ? 'auth' : 'sandbox');
  }

  private async req(
    spec: Omit<RequestSpec, 'url' | 'headers'> & { path: string; headers?: Record<string, string> },
  ): Promise<HttpResponse> {
    const { path, headers, ...rest } = spec;
    return this.transport.request({ ...rest, url: `${this.baseUrl}${path}`, headers: this.headers(headers) });
  }

  private parseObject(res: HttpResponse, what: string, operation: string): Fields {
    const ctx = this.transport.context(res, what, operation);
    return Fields.root(ctx, parseJsonBody(ctx));
  }

  /** POST /api/v1/processes. Retried only when unsent; runCommand recovers ambiguous starts by listing. */
  async startProcess(p: ProcessStartPayload, signal?: AbortSignal): Promise<ProcessInfo> {
    const operation = `start process '${p.command}'`;
    const res = await this.req({ method: 'POST', path: '/api/v1/processes', operation, json: p, retry: 'if-unsent', signal });
    if (!isSuccess(res.status)) throw this.fail(res, operation);
    return validateProcessInfo(this.parseObject(res, 'process', operation));
  }

  async listProcesses(signal?: AbortSignal): Promise<ProcessInfo[]> {
    const operation = 'list processes';
    const res = await this.req({ method: 'GET', path: '/api/v1/processes', operation, retry: 'always', signal });
    if (!isSuccess(res.status)) throw this.fail(res, operation);
    const f = this.parseObject(res, 'process list', operation);
    return f.reqArray('processes').map((v, i) => validateProcessInfo(f.element('processes', i, v)));
  }

  async getProcess(pid: number, signal?: AbortSignal): Promise<ProcessInfo> {
    const operation = `read status of process ${pid}`;
    const res = await this.req({ method: 'GET', path: `/api/v1/processes/${pid}`, operation, retry: 'always', signal });
    if (!isSuccess(res.status)) throw this.fail(res, operation);
    return validateProcessInfo(this.parseObject(res, 'process', operation));
  }

  private async openSse(spec: Omit<RequestSpec, 'url' | 'headers'> & { path: string }): Promise<HttpStream> {
    const { path, ...rest } = spec;
    const s = await this.transport.stream({
      ...rest,
      url: `${this.baseUrl}${path}`,
      headers: this.headers({ accept: 'text/event-stream' }),
    });
    if (!isSuccess(s.status)) {
      const body = await collect(s.body, 64 * 1024).catch(() => Buffer.alloc(0));
      s.close();
      registerBodySecrets(body, this.transport.secrets);
      throw this.fail({ status: s.status, headers: s.headers, body }, spec.operation);
    }
    const ctRaw = s.headers['content-type'];
    const ct = Array.isArray(ctRaw) ? ctRaw.join(', ') : (ctRaw ?? '');
    if (!ct.toLowerCase().includes('text/event-stream')) {
      s.close();
      throw new ActionError(`expected text/event-stream response from ${path}, got content-type: ${ct || '(none)'}`, {
        kind: 'sandbox',
        httpStatus: s.status,
      });
    }
    return s;
  }

  /**
   * GET …/output/follow as SSE. Yields output events (heartbeats and other payloads skipped); ends
   * when the server closes the stream (or after followIdleTimeoutMs of silence); throws a
   * TransportError when the connection breaks off mid-stream.
   */
  async *followOutput(pid: number, signal?: AbortSignal): AsyncGenerator<OutputEvent> {
    const operation = `follow output of process ${pid}`;
    const path = `/api/v1/processes/${pid}/output/follow`;
    const s = await this.openSse({ method: 'GET', path, operation, retry: 'always', signal });
    const sig = anySignal(this.transport.signal, signal);
    for await (const data of sseData(s.body, operation, { idleMs: this.followIdleMs, signal: sig })) {
      const ev = parseOutputPayload(data);
      if (ev) yield ev;
    }
  }

  /** PUT /api/v1/files?path=… with an explicit Content-Length, streamed, no Content-Type. Retried (idempotent). */
  async putFile(path: string, body: RequestSpec['body'], signal?: AbortSignal): Promise<void> {
    const operation = `upload ${path} to the builder sandbox`;
    const res = await this.req({
      method: 'PUT',
      path: `/api/v1/files?${new URLSearchParams({ path }).toString()}`,
      operation,
      body: body ?? '',
      retry: 'always',
      signal,
    });
    if (!isSuccess(res.status)) throw this.fail(res, operation);
  }

  async getFile(path: string, signal?: AbortSignal): Promise<Buffer> {
    const operation = `download ${path} from the builder sandbox`;
    const res = await this.req({
      method: 'GET',
      path: `/api/v1/files?${new URLSearchParams({ path }).toString()}`,
      operation,
      retry: 'always',
      signal,
    });
    if (!isSuccess(res.status)) throw this.fail(res, operation);
    return res.body;
  }

  /** DELETE /api/v1/files?path=…; a 404 (already gone, e.g. after a retried delete) is fine. */
  async deleteFile(path: string, signal?: AbortSignal): Promise<void> {
    const operation = `delete ${path} in the builder sandbox`;
    const res = await this.req({
      method: 'DELETE',
      path: `/api/v1/files?${new URLSearchParams({ path }).toString()}`,
      operation,
      retry: 'always',
      signal,
    });
    if (isSuccess(res.status) || res.status === 404) return;
    throw this.fail(res, operation);
  }

  /** GET /api/v1/health → healthy flag. Never throws except on cancellation (keepalive ignores errors). */
  async health(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.req({
        method: 'GET',
        path: '/api/v1/health',
        operation: 'check builder sandbox health',
        retry: 'never',
        signal,
      });
      if (!isSuccess(res.status)) return false;
      const v: unknown = JSON.parse(res.body.toString('utf8'));
      return isJsonObject(v) && v.healthy === true;
    } catch (e) {
      if (e instanceof ActionError && e.kind === 'cancelled') throw e;
      return false;
    }
  }

  /**
   * POST /api/v1/blob/sign (§6.6). The answer is opaque; every pre-signed URL in it (and its query
   * string) is registered as a secret before it is returned. Retried: signing has no lasting
   * effect that a repeat would harm.
   */
  async signBlob(req: JsonObject, signal?: AbortSignal): Promise<JsonObject> {
    const operation = 'sign blob access';
    const res = await this.req({ method: 'POST', path: '/api/v1/blob/sign', operation, json: req, retry: 'always', signal });
    if (!isSuccess(res.status)) {
      // An error body may echo a signed URL: register URLs before anything formats it.
      try {
        registerUrlSecrets(JSON.parse(res.body.toString('utf8')), this.transport.secrets, '', true);
      } catch {
        /* not JSON */
      }
      throw this.fail(res, operation);
    }
    const ctx = this.transport.context(res, 'blob sign', operation);
    let parsed: unknown;
    try {
      parsed = parseJsonBody(ctx);
    } finally {
      // Register whatever we can before a validation error could print the body.
      const text = res.body.toString('utf8');
      for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*\?[^\s"'<>]*/gi)) this.transport.secrets.add(m[0]);
    }
    registerUrlSecrets(parsed, this.transport.secrets, '', true); // a signing answer: its URLs are pre-signed
    const f = Fields.root(ctx, parsed);
    return f.obj;
  }

  /** POST /api/v1/processes/run (SSE, §10.1): started / output / exited events. Diagnostics only. */
  async *runProcess(payload: JsonObject, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const operation = `run '${typeof payload.command === 'string' ? payload.command : 'process'}' in the builder sandbox`;
    const s = await this.openSse({ method: 'POST', path: '/api/v1/processes/run', operation, json: payload, retry: 'if-unsent', signal });
    const sig = anySignal(this.transport.signal, signal);
    for await (const data of sseData(s.body, operation, { signal: sig })) {
      const ev = parseRunPayload(data);
      if (ev) yield ev;
    }
  }
}

function collect(body: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    body.on('data', (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      if (n < max) chunks.push(b);
      n += b.length;
    });
    body.on('end', () => resolve(Buffer.concat(chunks)));
    body.on('error', reject);
  });
}
