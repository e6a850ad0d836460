/**
 * Hand-rolled validators for every response body where it enters the action. A bad body (HTML
 * error page, malformed JSON, empty 2xx, wrong types, missing fields) becomes one clear
 * ActionError of kind 'platform':
 *
 *   platform returned an invalid <what> response: <field> <problem> (<operation>: HTTP <status>; body: <excerpt>)
 *
 * The excerpt is short, single-line and redacted through the run's SecretRegistry.
 */
import { STATUS_CODES } from 'node:http';
import { ActionError } from '../errors.js';
import type { JsonObject } from './types.js';

export interface ResponseContext {
  /** Short name of the response kind, e.g. `prepare`, `sandbox`, `process`. */
  what: string;
  /** What the action was doing, e.g. `prepare sandbox image build`. */
  operation: string;
  status: number;
  body: Buffer | string;
  redact: (s: string) => string;
}

/** `401` → `401 Unauthorized` (the way the reference client renders statuses). */
export function statusText(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `${status} ${reason}` : String(status);
}

/** A short single-line redacted excerpt of a body for error messages. */
export function bodyExcerpt(body: Buffer | string, redact: (s: string) => string, max = 300): string {
  // Redact the whole body before cutting it, so a secret across the cut cannot survive as a prefix.
  let text = redact(typeof body === 'string' ? body : body.subarray(0, 1024 * 1024).toString('utf8')).slice(0, max * 4);
  if (looksLikeHtml(text)) {
    // An HTML error page: keep its title / visible text rather than markup.
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
    const stripped = text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
    text = `HTML page: ${(title ?? stripped).trim()}`;
  }
  text = text
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  text = redact(text);
  if (text.length > max) text = `${text.slice(0, max)}…`;
  return text;
}

export function looksLikeHtml(text: string): boolean {
  return /^\s*(<!doctype html|<html|<head|<body|<\?xml|<h1|<title)/i.test(text);
}

export function invalidResponse(ctx: ResponseContext, field: string, problem: string): ActionError {
  const excerpt = bodyExcerpt(ctx.body, ctx.redact);
  const where = `${ctx.operation}: HTTP ${statusText(ctx.status)}`;
  const tail = excerpt ? `; body: ${excerpt}` : '';
  const subject = field ? `${field} ${problem}` : problem;
  return new ActionError(`platform returned an invalid ${ctx.what} response: ${subject} (${where}${tail})`, {
    kind: 'platform',
    httpStatus: ctx.status,
  });
}

/** Parses a body that must be JSON; empty, HTML and malformed bodies give a clear error. */
export function parseJsonBody(ctx: ResponseContext): unknown {
  const text = typeof ctx.body === 'string' ? ctx.body : ctx.body.toString('utf8');
  if (text.trim() === '') throw invalidResponse(ctx, 'body', 'is empty (expected JSON)');
  if (looksLikeHtml(text)) throw invalidResponse(ctx, 'body', 'is an HTML page, not JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw invalidResponse(ctx, 'body', `is not valid JSON (${why})`);
  }
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  // a wrong-typed string is described, never quoted: a prefix of a secret would not be masked
  if (typeof v === 'string') return `a string (${v.length} character${v.length === 1 ? '' : 's'})`;
  if (typeof v === 'number') return `a number (${v})`;
  return `a ${typeof v}`;
}

/** Typed field access on one JSON object, producing `<path> must be …, got …` errors. */
export class Fields {
  constructor(
    private readonly ctx: ResponseContext,
    readonly obj: JsonObject,
    private readonly prefix = '',
  ) {}

  static root(ctx: ResponseContext, value: unknown): Fields {
    if (!isJsonObject(value)) throw invalidResponse(ctx, 'body', `must be a JSON object, got ${describe(value)}`);
    return new Fields(ctx, value);
  }

  path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  fail(key: string, problem: string): ActionError {
    return invalidResponse(this.ctx, this.path(key), problem);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  private missing(key: string): ActionError {
    return this.fail(key, 'is missing');
  }

  private wrong(key: string, expected: string): ActionError {
    return this.fail(key, `must be ${expected}, got ${describe(this.obj[key])}`);
  }

  reqString(key: string): string {
    if (!(key in this.obj) || this.obj[key] === undefined) throw this.missing(key);
    const v = this.obj[key];
    if (typeof v !== 'string') throw this.wrong(key, 'a string');
    return v;
  }

  /** Absent or null → undefined. */
  optString(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (typeof v !== 'string') throw this.wrong(key, 'a string');
    return v;
  }

  reqNumber(key: string): number {
    if (!(key in this.obj) || this.obj[key] === undefined) throw this.missing(key);
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.wrong(key, 'a number');
    return v;
  }

  reqInt(key: string): number {
    const v = this.reqNumber(key);
    if (!Number.isInteger(v)) throw this.wrong(key, 'an integer');
    return v;
  }

  reqUint(key: string): number {
    const v = this.reqInt(key);
    if (v < 0) throw this.wrong(key, 'a non-negative integer');
    return v;
  }

  optInt(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    return this.reqInt(key);
  }

  optUint(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    return this.reqUint(key);
  }

  optNumber(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    return this.reqNumber(key);
  }

  optBool(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (typeof v !== 'boolean') throw this.wrong(key, 'a boolean');
    return v;
  }

  reqObject(key: string): Fields {
    if (!(key in this.obj) || this.obj[key] === undefined) throw this.missing(key);
    const v = this.obj[key];
    if (!isJsonObject(v)) throw this.wrong(key, 'an object');
    return new Fields(this.ctx, v, this.path(key));
  }

  optObject(key: string): Fields | undefined {
    if (!this.has(key)) return undefined;
    return this.reqObject(key);
  }

  reqArray(key: string): unknown[] {
    if (!(key in this.obj) || this.obj[key] === undefined) throw this.missing(key);
    const v = this.obj[key];
    if (!Array.isArray(v)) throw this.wrong(key, 'an array');
    return v;
  }

  optStringArray(key: string): string[] | undefined {
    if (!this.has(key)) return undefined;
    const arr = this.reqArray(key);
    arr.forEach((item, i) => {
      if (typeof item !== 'string') throw this.fail(`${key}[${i}]`, `must be a string, got ${describe(item)}`);
    });
    return arr as string[];
  }

  /** An element of an array field, as an object. */
  element(key: string, index: number, value: unknown): Fields {
    const p = `${key}[${index}]`;
    if (!isJsonObject(value)) throw this.fail(p, `must be an object, got ${describe(value)}`);
    return new Fields(this.ctx, value, this.path(p));
  }
}
