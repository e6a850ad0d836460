/**
 * The one HTTP layer every platform, lifecycle and proxy call goes through. It wraps
 * @actions/http-client's HttpClient (whose own retries and redirects are switched off) and adds:
 *
 * - the common headers of docs/protocol.md §1.4 (Authorization, User-Agent, fresh traceparent, scope
 *   headers for PAT auth unless a request opts out);
 * - one retry policy (retry.ts) with three modes:
 *     'always'    network errors and 408/429/500/502/503/504 are retried (GET, DELETE, polls,
 *                 idempotent PUTs);
 *     'if-unsent' only failures where the server provably did not act on the request are
 *                 retried: DNS failures and errors of the TCP connect itself (ECONNREFUSED,
 *                 EHOSTUNREACH, connect ETIMEDOUT — Node marks them `syscall: 'connect'` /
 *                 `'getaddrinfo'`), a 429 (the server refused without acting) and a 503 that
 *                 carries Retry-After (an explicit "not now"). A reset or timeout after the
 *                 connection was made, a 500/502/504 or a 503 without Retry-After is ambiguous
 *                 and is returned/thrown to the caller, which reconciles (complete, sandbox
 *                 create); prepare is 'always' (it allocates nothing a retry could leak);
 *     'never'     one attempt.
 *   400/401/403/404/409/422 are never retried. Retry-After (seconds or HTTP-date) is honoured
 *   even above the per-wait cap, but never past the policy's total-time cap.
 * - cancellation: the run-level signal and a per-request signal abort in-flight requests, body
 *   reads and retry waits, giving an ActionError of kind 'cancelled';
 * - limits: every attempt runs under a cap (2 min from sending to the last body byte; a stream's
 *   headers 60 s), cut to the deadline of the wait the call belongs to, and retries never start
 *   past that deadline; a response body over 32 MiB is an error, never buffered whole
 *   (docs/protocol.md, "Request deadlines and caps");
 * - one redacted debug line per attempt (method, path, status, duration, attempt).
 *
 * TLS verification is never disabled (ignoreSslError is never set).
 *
 * Over 350 lines on purpose: the attempt loop, its retry decisions and its connection handling are
 * one state machine; errors, bodies, URLs and the transient rule live in their own modules.
 */
import { randomBytes } from 'node:crypto';
import {
  Agent as HttpAgent,
  type IncomingMessage,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpClient } from '@actions/http-client';
import type { RequestHandler } from '@actions/http-client/lib/interfaces';
import { ActionError, cancelledError } from '../errors.js';
import { formatDuration } from '../format.js';
import { anySignal } from '../signals.js';
import type { Auth } from '../connection.js';
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import { USER_AGENT as DEFAULT_USER_AGENT } from '../version.js';
import { BodyTooLarge, destroyQuietly, openRequestBody, readBody, type StreamBody } from './bodies.js';
import { HttpStatusError, TransportError, isSuccess, statusError } from './http-errors.js';
import { backoffDelay, isRetryableStatus, isTerminalStatus, parseRetryAfter, resolvePolicy, type RetryPolicy } from './retry.js';
import { registerBodySecrets } from './url-secrets.js';
import { loggablePath } from './urls.js';
import { statusText, type ResponseContext } from './validate.js';

export type RetryMode = 'always' | 'if-unsent' | 'never';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** What the action is doing, as a verb phrase (`prepare sandbox image build`): used in messages. */
  operation: string;
  headers?: Record<string, string>;
  body?: string | Buffer | StreamBody;
  /** Convenience: serialised as the body with `Content-Type: application/json` (instead of `body`). */
  json?: unknown;
  retry: RetryMode;
  signal?: AbortSignal;
  /** Send the PAT scope headers (default true). Introspection sets false (§1.3). */
  scopeHeaders?: boolean;
  /**
   * End of the wait this call belongs to (transport clock, ms): no attempt, body read or retry
   * wait runs past it (docs/protocol.md, "Request deadlines and caps").
   */
  deadline?: number;
  /** Cap of one attempt, headers to last body byte (default: the transport's `requestTimeoutMs`; 0 = none). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: NodeJS.ReadableStream;
  close(): void;
}

export interface RetryInfo {
  operation: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface HttpTransportOptions {
  token: string;
  userAgent?: string;
  scopeHeaders?: { organizationId: string; projectId: string };
  secrets: SecretRegistry;
  log: Log;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onRetry?: (info: RetryInfo) => void;
  /** Clock used for the total-time cap (tests advance a fake clock in their `sleep`). */
  now?: () => number;
  /** Random source for the jitter. */
  random?: () => number;
  /** Idle limit of a non-stream request (no bytes either way for this long → network error). Default 5 min. */
  idleTimeoutMs?: number;
  /** how long a stream (SSE) may take to answer with its headers (default 60 s) */
  streamHeaderTimeoutMs?: number;
  /**
   * Cap of one attempt of a non-stream request, from sending to the last body byte (default 2 min;
   * requests that stream a body up have none by default: their time grows with their size).
   */
  requestTimeoutMs?: number;
  /** Largest response body read into memory (default 32 MiB); a larger one is an error. */
  maxBodyBytes?: number;
}

/** Default cap of one attempt (docs/protocol.md, "Request deadlines and caps"). */
export const REQUEST_TIMEOUT_MS = 120_000;
/** Default cap of a response body read into memory. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** W3C traceparent with fresh random ids. */
export function newTraceparent(): string {
  let trace = randomBytes(16).toString('hex');
  let span = randomBytes(8).toString('hex');
  // All-zero ids are invalid per W3C; astronomically unlikely, but cheap to rule out.
  if (/^0+$/.test(trace)) trace = `${trace.slice(0, 31)}1`;
  if (/^0+$/.test(span)) span = `${span.slice(0, 15)}1`;
  return `00-${trace}-${span}-01`;
}

interface NetFailure {
  code?: string;
  unsent: boolean;
  text: string;
}

const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function classifyNetworkError(e: unknown): NetFailure {
  const err = e as { code?: unknown; syscall?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const syscall = typeof err?.syscall === 'string' ? err.syscall : undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const unsent = syscall === 'connect' || syscall === 'getaddrinfo' || (code !== undefined && UNSENT_CODES.has(code));
  return { code, unsent, text: message };
}

function cancelled(operation: string, cause?: unknown): ActionError {
  return cancelledError(`trying to ${operation}`, cause);
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal ? { signal } : undefined);
}

function toHeaderRecord(h: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  return { ...h };
}

function headerValue(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

const STREAM_SOCKET_TIMEOUT = 2_147_483_647; // effectively none: SSE streams have no overall timeout

export class HttpTransport {
  readonly policy: RetryPolicy;
  readonly secrets: SecretRegistry;
  readonly log: Log;
  readonly signal?: AbortSignal;
  private readonly token: string;
  private readonly userAgent: string;
  private scope?: { organizationId: string; projectId: string };
  private readonly sleepImpl: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly onRetry?: (info: RetryInfo) => void;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly idleTimeoutMs: number;
  private readonly streamHeaderTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxBodyBytes: number;
  /** keep-alive agents shared by this transport's ordinary requests (one TLS handshake per host, not per request) */
  private readonly keepAliveAgents = new Map<string, HttpAgent>();

  constructor(opts: HttpTransportOptions) {
    this.token = opts.token;
    this.userAgent = opts.userAgent?.trim() || DEFAULT_USER_AGENT;
    this.scope = opts.scopeHeaders;
    this.secrets = opts.secrets;
    this.log = opts.log;
    this.policy = resolvePolicy(opts.retry);
    this.signal = opts.signal;
    this.sleepImpl = opts.sleep ?? defaultSleep;
    this.onRetry = opts.onRetry;
    this.clock = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 5 * 60_000;
    this.streamHeaderTimeoutMs = opts.streamHeaderTimeoutMs ?? 60_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.secrets.add(opts.token);
  }

  /** Sets (or clears) the PAT scope headers sent on every request that does not opt out. */
  setScopeHeaders(scope: { organizationId: string; projectId: string } | undefined): void {
    this.scope = scope;
  }

  get usesScopeHeaders(): boolean {
    return this.scope !== undefined;
  }

  now(): number {
    return this.clock();
  }

  /** Sleeps through the injected sleep, honouring the run-level signal (and an extra one). */
  async sleep(ms: number, signal?: AbortSignal, operation = 'wait'): Promise<void> {
    const s = anySignal(this.signal, signal);
    if (s?.aborted) throw cancelled(operation);
    try {
      await this.sleepImpl(ms, s);
    } catch (e) {
      if (s?.aborted) throw cancelled(operation, e);
      throw e;
    }
    if (s?.aborted) throw cancelled(operation);
  }

  /** Context for validators: names the operation and status, redacts through the registry. */
  context(res: HttpResponse, what: string, operation: string): ResponseContext {
    return { what, operation, status: res.status, body: res.body, redact: (s) => this.secrets.redact(s) };
  }

  statusError(res: HttpResponse, operation: string, kind?: 'auth' | 'platform' | 'sandbox'): HttpStatusError {
    return statusError(res, operation, (s) => this.secrets.redact(s), kind);
  }

  /** Backoff for the n-th retry under this transport's policy (used by reconciling callers). */
  backoff(attempt: number): number {
    return backoffDelay(this.policy, attempt, this.random);
  }

  async request(spec: RequestSpec): Promise<HttpResponse> {
    const res = await this.run(spec, false);
    return res as HttpResponse;
  }

  async stream(spec: RequestSpec): Promise<HttpStream> {
    return (await this.run(spec, true)) as HttpStream;
  }

  private buildHeaders(spec: RequestSpec): OutgoingHttpHeaders {
    const h: OutgoingHttpHeaders = {
      authorization: `Bearer ${this.token}`,
      traceparent: newTraceparent(),
    };
    if (this.scope && spec.scopeHeaders !== false) {
      h['x-forwarded-organization-id'] = this.scope.organizationId;
      h['x-forwarded-project-id'] = this.scope.projectId;
    }
    if (spec.json !== undefined) h['content-type'] = 'application/json';
    for (const [k, v] of Object.entries(spec.headers ?? {})) h[k.toLowerCase()] = v;
    return h;
  }

  private async run(spec: RequestSpec, streaming: boolean): Promise<HttpResponse | HttpStream> {
    const signal = anySignal(this.signal, spec.signal);
    const started = this.clock();
    const path = loggablePath(spec.url);
    const max = spec.retry === 'never' ? 1 : this.policy.maxAttempts;

    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw cancelled(spec.operation);
      const headers = this.buildHeaders(spec);
      const { data, source } = openRequestBody(spec, headers);
      const t0 = this.clock();
      // Every attempt has a limit: the per-request cap (a stream: its response headers only, it
      // has no overall timeout), cut to the deadline of the wait it belongs to. A server that
      // accepts the request and never answers, or trickles its answer, must not hang the build.
      const limit = this.attemptLimit(spec, streaming);
      if (limit !== undefined && limit <= 0) {
        destroyQuietly(source);
        destroyQuietly(data);
        throw this.transportError(
          spec,
          { code: 'ETIMEDOUT', text: 'the wait this request belongs to is over', unsent: true },
          attempt,
          started,
          undefined,
        );
      }
      const attemptWait = limit !== undefined ? new AbortController() : undefined;
      const attemptTimer = attemptWait && setTimeout(() => attemptWait.abort(), limit).unref();
      const timedOut = (): NetFailure => ({
        code: 'ETIMEDOUT',
        text: `no ${streaming ? 'response' : 'complete answer'} within ${formatDuration(limit ?? 0)}`,
        unsent: false,
      });
      let msg: IncomingMessage;
      try {
        msg = await this.sendOnce(spec, headers, data, anySignal(signal, attemptWait?.signal), streaming);
      } catch (e) {
        clearTimeout(attemptTimer);
        destroyQuietly(source);
        destroyQuietly(data);
        if (signal?.aborted) {
          this.debug(`HTTP ${spec.method} ${path} → cancelled (${this.clock() - t0} ms, attempt ${attempt}/${max})`);
          throw cancelled(spec.operation, e);
        }
        const f: NetFailure = attemptWait?.signal.aborted ? timedOut() : classifyNetworkError(e);
        this.debug(
          `HTTP ${spec.method} ${path} → network error ${f.code ?? ''} ${f.text} (${this.clock() - t0} ms, attempt ${attempt}/${max})`,
        );
        const retryable = spec.retry === 'always' || (spec.retry === 'if-unsent' && f.unsent);
        const wait = retryable ? this.nextWait(attempt, max, started, undefined, spec.deadline) : undefined;
        if (wait === undefined) throw this.transportError(spec, f, attempt, started, e);
        await this.retryWait(spec, attempt, wait, `${f.code ?? 'network error'}: ${f.text}`, signal);
        continue;
      }

      if (streaming) clearTimeout(attemptTimer);
      const status = msg.statusCode ?? 0;
      const resHeaders = toHeaderRecord(msg.headers);
      const retryable = this.statusRetryable(spec.retry, status, resHeaders);

      if (streaming && (isSuccess(status) || !retryable)) {
        this.debug(`HTTP ${spec.method} ${path} → ${status} stream opened (${this.clock() - t0} ms, attempt ${attempt}/${max})`);
        return {
          status,
          headers: resHeaders,
          body: msg,
          close: () => msg.destroy(),
        };
      }

      let body: Buffer;
      try {
        body = await readBody(msg, this.idleTimeoutMs, this.maxBodyBytes);
      } catch (e) {
        if (signal?.aborted) throw cancelled(spec.operation, e);
        if (e instanceof BodyTooLarge) {
          // not a network failure: the same answer again would be as large
          throw new ActionError(`failed to ${spec.operation}: ${e.message} (HTTP ${statusText(status)})`, {
            kind: 'platform',
            httpStatus: status,
          });
        }
        const f = attemptWait?.signal.aborted ? timedOut() : classifyNetworkError(e);
        this.debug(
          `HTTP ${spec.method} ${path} → ${status}, body broke off: ${f.text} (${this.clock() - t0} ms, attempt ${attempt}/${max})`,
        );
        const wait = spec.retry === 'always' ? this.nextWait(attempt, max, started, undefined, spec.deadline) : undefined;
        if (wait === undefined) throw this.transportError(spec, { ...f, unsent: false }, attempt, started, e);
        await this.retryWait(spec, attempt, wait, `response body broke off: ${f.text}`, signal);
        continue;
      }
      clearTimeout(attemptTimer);
      // Before anything can quote this body (debug lines, error excerpts), its signed URLs are secrets.
      registerBodySecrets(body, this.secrets);
      this.debug(`HTTP ${spec.method} ${path} → ${status} (${this.clock() - t0} ms, ${body.length} B, attempt ${attempt}/${max})`);

      if (retryable) {
        // An HTTP-date Retry-After is wall-clock time, so it is read against the wall clock.
        const retryAfter = parseRetryAfter(headerValue(resHeaders, 'retry-after'), Date.now());
        const wait = this.nextWait(attempt, max, started, retryAfter, spec.deadline);
        if (wait !== undefined) {
          await this.retryWait(
            spec,
            attempt,
            wait,
            `HTTP ${statusText(status)}${retryAfter !== undefined ? ` (Retry-After ${Math.round(retryAfter / 100) / 10}s)` : ''}`,
            signal,
          );
          continue;
        }
      }
      if (streaming) {
        // Retries are used up on a retryable status: hand the (already read) body back as a stream.
        return { status, headers: resHeaders, body: Readable.from([body]), close: () => {} };
      }
      return { status, headers: resHeaders, body };
    }
  }

  private statusRetryable(mode: RetryMode, status: number, headers: Record<string, string | string[] | undefined>): boolean {
    if (mode === 'never' || isTerminalStatus(status) || !isRetryableStatus(status)) return false;
    if (mode === 'always') return true;
    // 'if-unsent': the server said, explicitly, that it did not act on the request.
    if (status === 429) return true;
    return status === 503 && parseRetryAfter(headerValue(headers, 'retry-after')) !== undefined;
  }

  /** The wait before the next attempt, or undefined when attempts or total time are used up. */
  private nextWait(
    attempt: number,
    max: number,
    started: number,
    retryAfterMs: number | undefined,
    deadline: number | undefined,
  ): number | undefined {
    if (attempt >= max) return undefined;
    const wait = retryAfterMs !== undefined ? retryAfterMs : backoffDelay(this.policy, attempt, this.random);
    const elapsed = this.clock() - started;
    if (elapsed + wait > this.policy.maxElapsedMs) return undefined;
    // no retry that would start after the wait it belongs to is over
    if (deadline !== undefined && this.clock() + wait >= deadline) return undefined;
    return wait;
  }

  /**
   * The limit of one attempt: the per-request cap (a stream: the stream header timeout; a body
   * streamed up: none unless the request sets one), cut to the call's deadline; undefined = none.
   */
  private attemptLimit(spec: RequestSpec, streaming: boolean): number | undefined {
    const streamedUp = spec.body !== undefined && typeof spec.body === 'object' && !Buffer.isBuffer(spec.body);
    const cap = spec.timeoutMs ?? (streaming ? this.streamHeaderTimeoutMs : streamedUp ? 0 : this.requestTimeoutMs);
    const left = spec.deadline !== undefined ? spec.deadline - this.clock() : undefined;
    if (cap <= 0) return left;
    return left !== undefined ? Math.min(cap, left) : cap;
  }

  private async retryWait(spec: RequestSpec, attempt: number, wait: number, reason: string, signal?: AbortSignal): Promise<void> {
    const info: RetryInfo = { operation: spec.operation, attempt, delayMs: wait, reason: this.secrets.redact(reason) };
    this.debug(`HTTP retry ${attempt + 1} to ${spec.operation} in ${wait} ms after ${info.reason}`);
    this.onRetry?.(info);
    await this.sleep(wait, signal, spec.operation);
  }

  private transportError(spec: RequestSpec, f: NetFailure, attempts: number, started: number, cause: unknown): TransportError {
    let host = '';
    try {
      host = new URL(spec.url).host;
    } catch {
      /* keep empty */
    }
    const secs = Math.round((this.clock() - started) / 100) / 10;
    const tries = attempts > 1 ? ` after ${attempts} attempts over ${secs}s` : '';
    const reason = this.secrets.redact(f.text);
    return new TransportError(`failed to ${spec.operation}: no answer from ${host || 'the server'} (${reason})${tries}`, {
      code: f.code,
      unsent: f.unsent,
      cause,
    });
  }

  private sendOnce(
    spec: RequestSpec,
    headers: OutgoingHttpHeaders,
    data: string | NodeJS.ReadableStream | null,
    signal: AbortSignal | undefined,
    streaming: boolean,
  ): Promise<IncomingMessage> {
    // Connections are reused only by requests that may be repeated ('always'): a reused socket can
    // die under a request in a way that looks like "sent, no answer", which an unsafe POST could
    // not tell from a real ambiguity. Streams keep their own connection too (they last minutes).
    const reuse = streaming || spec.retry !== 'always' ? undefined : this.keepAliveAgent(spec.url);
    const handler: RequestHandler = {
      prepareRequest(options: RequestOptions): void {
        if (signal) options.signal = signal;
        // Only replace the plain agent: a proxy (tunnel) agent chosen from HTTPS_PROXY stays.
        if (reuse && options.agent instanceof HttpAgent) options.agent = reuse;
      },
      canHandleAuthentication: () => false,
      handleAuthentication: () => Promise.reject(new Error('not supported')),
    };
    const client = new HttpClient(this.userAgent, [handler], {
      allowRetries: false,
      maxRetries: 0,
      allowRedirects: false,
      keepAlive: false,
      socketTimeout: streaming ? STREAM_SOCKET_TIMEOUT : this.idleTimeoutMs,
    });
    // HttpClient's typing says data may not be null, but its implementation accepts it (GET/DELETE).
    return client.request(spec.method, spec.url, data as string | NodeJS.ReadableStream, headers).then((r) => r.message);
  }

  /**
   * Repeatable requests reuse connections; SSE streams and unsafe POSTs get their own. Idle
   * sockets are dropped after 15 s, or 1 s before the server's announced Keep-Alive timeout,
   * whichever is first (Node's agent honours the hint), so a reused socket is not one the server
   * is closing. Idle sockets never keep the process alive.
   */
  private keepAliveAgent(url: string): HttpAgent | undefined {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      return undefined;
    }
    let agent = this.keepAliveAgents.get(protocol);
    if (!agent) {
      const options = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: 15_000 };
      agent = protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
      this.keepAliveAgents.set(protocol, agent);
    }
    return agent;
  }

  private debug(line: string): void {
    this.log.debug(this.secrets.redact(line));
  }
}

export type TransportOptions = Omit<HttpTransportOptions, 'token' | 'scopeHeaders'>;

/** A transport authenticated as the inputs say: the token, plus scope headers for a PAT (§1.2). */
export function transportFor(auth: Auth, opts: TransportOptions): HttpTransport {
  return new HttpTransport({
    ...opts,
    token: auth.token,
    scopeHeaders: auth.kind === 'pat' ? { organizationId: auth.organizationId, projectId: auth.projectId } : undefined,
  });
}
