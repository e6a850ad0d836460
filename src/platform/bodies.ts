/**
 * Message bodies on the wire: reading a whole response body under an idle limit, opening a request
 * body for one attempt (with upload progress), and dropping a stream quietly.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { PassThrough, Readable } from 'node:stream';

/** A request body read from a stream that can be reopened for every attempt. */
export interface StreamBody {
  /** Opens a fresh stream of the body (called once per attempt). */
  open: () => NodeJS.ReadableStream;
  /** Exact byte count; sent as Content-Length. */
  length: number;
  onProgress?: (sent: number, total: number) => void;
}

/** What a request sends: a JSON value (serialised, with its content type) or a raw body. */
export interface RequestBodySpec {
  method: string;
  body?: string | Buffer | StreamBody;
  json?: unknown;
}

/** A response body larger than the cap: reading stops there (never buffered whole). */
export class BodyTooLarge extends Error {}

/** `32 MiB` for the messages about caps. */
export function mib(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}

/**
 * Reads a whole response body; an idle gap longer than idleMs, an abort or a premature close is an
 * error, and so is a body over maxBytes (declared or read), without reading the rest.
 */
export function readBody(msg: IncomingMessage, idleMs: number, maxBytes = Infinity): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (err) {
        msg.destroy();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        const e = new Error(`no data for ${Math.round(idleMs / 1000)}s while reading the response body`) as Error & { code: string };
        e.code = 'ETIMEDOUT';
        finish(e);
      }, idleMs);
      timer.unref?.();
    };
    const declared = Number(msg.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      return finish(new BodyTooLarge(`the response body is larger than ${mib(maxBytes)} (Content-Length ${declared})`));
    }
    arm();
    msg.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) return finish(new BodyTooLarge(`the response body is larger than ${mib(maxBytes)}`));
      chunks.push(c);
      arm();
    });
    msg.on('end', () => {
      if (msg.complete) finish();
      else finish(Object.assign(new Error('the connection closed before the response body was complete'), { code: 'ECONNRESET' }));
    });
    msg.on('aborted', () => finish(Object.assign(new Error('the response was aborted'), { code: 'ECONNRESET' })));
    msg.on('error', (e: Error) => finish(e));
    msg.on('close', () => {
      if (!done && !msg.complete)
        finish(Object.assign(new Error('the connection closed before the response body was complete'), { code: 'ECONNRESET' }));
    });
  });
}

/**
 * The body for one attempt (stream bodies are reopened per attempt). Sets Content-Length on
 * `headers` where the size is known; `source` is the underlying stream to destroy on failure.
 */
export function openRequestBody(
  spec: RequestBodySpec,
  headers: OutgoingHttpHeaders,
): { data: string | NodeJS.ReadableStream | null; source?: NodeJS.ReadableStream } {
  if (spec.json !== undefined) return { data: JSON.stringify(spec.json) };
  const b = spec.body;
  if (b === undefined) {
    // POST/PUT without a body: an explicit `Content-Length: 0` (§1.3), no Content-Type.
    return { data: spec.method === 'POST' || spec.method === 'PUT' ? '' : null };
  }
  if (typeof b === 'string') return { data: b };
  if (Buffer.isBuffer(b)) {
    headers['content-length'] = String(b.length);
    return { data: Readable.from([b]) };
  }
  headers['content-length'] = String(b.length);
  const source = b.open();
  if (!b.onProgress) return { data: source, source };
  const onProgress = b.onProgress;
  const total = b.length;
  let sent = 0;
  const counter = new PassThrough();
  counter.on('data', (c: Buffer) => {
    sent += c.length;
    onProgress(sent, total);
  });
  source.on('error', (e: Error) => counter.destroy(e));
  source.pipe(counter);
  return { data: counter, source };
}

export function destroyQuietly(s: unknown): void {
  const d = s as { destroy?: () => void } | null | undefined;
  if (d && typeof d === 'object' && typeof d.destroy === 'function') {
    try {
      d.destroy();
    } catch {
      /* ignore */
    }
  }
}
