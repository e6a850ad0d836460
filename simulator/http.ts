/** Request context, reply values and body helpers shared by the role handlers. */
import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Principal } from './auth.js';
import type { World } from './world.js';
import { HttpError } from './util.js';

export type Reply =
  { status: number; headers?: Record<string, string>; json?: unknown; raw?: Buffer | string } | { stream: (res: ServerResponse) => void };

export interface Ctx {
  world: World;
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** raw (still percent-encoded) path, no query */
  rawPath: string;
  /** decoded path segments */
  segments: string[];
  query: URLSearchParams;
  principal?: Principal;
  body(): Promise<Buffer>;
  /** streams the body to a host file instead of memory (large uploads); resolves to its size */
  bodyToFile(path: string): Promise<number>;
  json(): Promise<unknown>;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, json: body, headers };
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'PAYLOAD_TOO_LARGE'));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return; // drained and dropped: the 413 answer goes out, the connection then closes
      size += c.length;
      if (size > limit) {
        over = true;
        parts.length = 0;
        req.socket.once('drain', () => undefined);
        reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`, 'PAYLOAD_TOO_LARGE'));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
    req.on('aborted', () => reject(new HttpError(400, 'request aborted', 'ABORTED')));
  });
}

/** Like readBody, but into a file: the same 413 rules, never more than one chunk in memory. */
export async function readBodyToFile(req: IncomingMessage, limit: number, path: string): Promise<number> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit)
    throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'PAYLOAD_TOO_LARGE');
  let size = 0;
  const count = new Transform({
    transform(c: Buffer, _e, cb) {
      size += c.length;
      if (size > limit) cb(new HttpError(413, `request body exceeds the limit of ${limit} bytes`, 'PAYLOAD_TOO_LARGE'));
      else cb(null, c);
    },
  });
  let aborted = false;
  req.once('aborted', () => (aborted = true));
  try {
    await pipeline(req, count, createWriteStream(path, { highWaterMark: 1024 * 1024 }));
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (aborted || (e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE')
      throw new HttpError(400, 'request aborted', 'ABORTED');
    throw e;
  }
  return size;
}

export function parseJsonBody(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body is empty; expected a JSON object', 'INVALID_JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`, 'INVALID_JSON');
  }
}

export function sendReply(res: ServerResponse, reply: Exclude<Reply, { stream: unknown }>): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let body: Buffer;
  if (reply.raw !== undefined) {
    body = typeof reply.raw === 'string' ? Buffer.from(reply.raw) : reply.raw;
  } else if (reply.json !== undefined) {
    body = Buffer.from(JSON.stringify(reply.json));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  } else body = Buffer.alloc(0);
  headers['content-length'] = String(body.length);
  res.writeHead(reply.status, headers);
  res.end(reply.status === 204 || reply.status === 304 ? undefined : body);
}

export function errorReply(e: unknown): Exclude<Reply, { stream: unknown }> {
  if (e instanceof HttpError) {
    const body: Record<string, unknown> = { error: e.message };
    if (e.code) body.code = e.code;
    return { status: e.status, json: body, headers: e.headers };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, json: { error: `internal simulator error: ${msg}`, code: 'INTERNAL' } };
}
