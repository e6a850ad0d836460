/**
 * Fault rules: validation, matching, budgets (`times`, `skip`) and hit accounting.
 * Every rule is consumed one event at a time; exhausted rules stay listed with their hits.
 */
import type { FaultKind, FaultRuleInput, FaultRuleState } from './types.js';
import { HttpError, isObject, pathPattern } from './util.js';

const KINDS: readonly FaultKind[] = [
  'status',
  'delay',
  'reset',
  'rejectAuth',
  'dropStream',
  'sandboxPending',
  'terminateSandbox',
  'builderFail',
  'builderOom',
  'builderEnospc',
  'builderOutput',
  'admissionFail',
  'corruptChunk',
  'dropChunk',
  'admissionHang',
];
const HTTP_KINDS: readonly FaultKind[] = ['status', 'delay', 'reset', 'rejectAuth', 'dropStream'];
const TERMINAL_HTTP: readonly FaultKind[] = ['status', 'reset', 'rejectAuth'];

type Rule = FaultRuleState & { matcher?: RegExp };

function bad(msg: string): never {
  throw new HttpError(400, `invalid fault rule: ${msg}`, 'INVALID_FAULT');
}

/** Node timers hold at most 2^31-1 ms; a longer delay would silently become 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

function optInt(r: Record<string, unknown>, key: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const v = r[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`${key} must be an integer from ${min} to ${max}`);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

export function validateFault(input: unknown): FaultRuleInput {
  if (!isObject(input)) bad('a rule must be a JSON object');
  const kind = input.kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind as FaultKind)) bad(`kind must be one of ${KINDS.join(', ')}`);
  optInt(input, 'times', -1);
  optInt(input, 'skip', 0);
  if (input.id !== undefined && typeof input.id !== 'string') bad('id must be a string');
  if (HTTP_KINDS.includes(kind as FaultKind)) {
    if (input.method !== undefined && typeof input.method !== 'string') bad('method must be a string');
    if (input.path !== undefined) {
      if (typeof input.path !== 'string') bad('path must be a string');
      try {
        pathPattern(input.path);
      } catch (e) {
        bad(`path is not a valid pattern: ${(e as Error).message}`);
      }
    }
  }
  switch (kind) {
    case 'status':
      if (typeof input.status !== 'number' || !Number.isInteger(input.status) || input.status < 200 || input.status > 599)
        bad('status must be an HTTP status code from 200 to 599');
      if (input.headers !== undefined && (!isObject(input.headers) || Object.values(input.headers).some((v) => typeof v !== 'string')))
        bad('headers must map names to strings');
      for (const [k, v] of Object.entries((input.headers ?? {}) as Record<string, string>)) {
        if (!HEADER_NAME.test(k) || !HEADER_VALUE.test(v)) bad(`header '${k}' is not a valid HTTP header name/value`);
      }
      if ((input.status === 204 || input.status === 304) && input.body !== undefined && input.body !== '')
        bad(`a ${input.status} answer has no body`);
      if (input.contentType !== undefined && typeof input.contentType !== 'string') bad('contentType must be a string');
      if (input.when !== undefined && input.when !== 'before' && input.when !== 'after') bad("when must be 'before' or 'after'");
      break;
    case 'delay':
      optInt(input, 'delayMs', 0, MAX_TIMER_MS);
      if (input.delayMs === undefined) bad('delayMs is required');
      if (input.when !== undefined && input.when !== 'before' && input.when !== 'after') bad("when must be 'before' or 'after'");
      if (input.detached !== undefined && typeof input.detached !== 'boolean') bad('detached must be a boolean');
      break;
    case 'reset':
      if (input.when !== undefined && input.when !== 'before' && input.when !== 'after') bad("when must be 'before' or 'after'");
      break;
    case 'dropStream':
      optInt(input, 'afterLines', 0);
      if (input.command !== undefined && typeof input.command !== 'string') bad('command must be a string');
      break;
    case 'sandboxPending':
      optInt(input, 'pendingMs', 0, MAX_TIMER_MS);
      if (input.pendingMs === undefined) bad('pendingMs is required');
      break;
    case 'terminateSandbox':
      optInt(input, 'afterBuilderLines', 0);
      if (input.sandboxId !== undefined && typeof input.sandboxId !== 'string') bad('sandboxId must be a string');
      break;
    case 'builderFail':
      optInt(input, 'exitCode', 1);
      optInt(input, 'afterLines', 0);
      if (input.templateName !== undefined && typeof input.templateName !== 'string') bad('templateName must be a string');
      break;
    case 'builderOom':
    case 'builderEnospc':
      optInt(input, 'afterLines', 0);
      if (input.templateName !== undefined && typeof input.templateName !== 'string') bad('templateName must be a string');
      if (input.dmesg !== undefined && typeof input.dmesg !== 'boolean') bad('dmesg must be a boolean');
      if (input.logLines !== undefined && typeof input.logLines !== 'boolean') bad('logLines must be a boolean');
      break;
    case 'builderOutput':
      if (!Array.isArray(input.lines) || input.lines.some((l) => typeof l !== 'string')) bad('lines must be an array of strings');
      if (input.stream !== undefined && input.stream !== 'stdout' && input.stream !== 'stderr') bad("stream must be 'stdout' or 'stderr'");
      break;
    case 'corruptChunk':
    case 'dropChunk':
      optInt(input, 'chunkIndex', 0);
      break;
    case 'admissionFail':
      if (input.message !== undefined && typeof input.message !== 'string') bad('message must be a string');
      break;
  }
  return input as unknown as FaultRuleInput;
}

export class Faults {
  private rules: Rule[] = [];
  private seq = 0;

  add(input: unknown): FaultRuleState[] {
    const list = Array.isArray(input) ? input : [input];
    const valid = list.map(validateFault);
    const added: FaultRuleState[] = [];
    for (const v of valid) {
      const times = v.times ?? 1;
      const rule: Rule = {
        ...v,
        id: v.id ?? `fault_${++this.seq}`,
        times,
        skip: v.skip ?? 0,
        seen: 0,
        hits: 0,
        remaining: times,
      } as Rule;
      if ('path' in v && typeof v.path === 'string') rule.matcher = pathPattern(v.path);
      this.rules.push(rule);
      added.push(this.view(rule));
    }
    return added;
  }

  clear(): void {
    this.rules = [];
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  list(): FaultRuleState[] {
    return this.rules.map((r) => this.view(r));
  }

  private view(r: Rule): FaultRuleState {
    const { matcher: _m, ...rest } = r;
    return JSON.parse(JSON.stringify(rest)) as FaultRuleState;
  }

  private matchesHttp(r: Rule, method: string, path: string): boolean {
    const m = (r as { method?: string }).method;
    if (m && m.toUpperCase() !== method.toUpperCase()) return false;
    if (r.matcher && !r.matcher.test(path)) return false;
    return true;
  }

  /** count a matching event against a rule; true when the rule fires */
  private consume(r: Rule): boolean {
    if (r.remaining === 0) return false;
    r.seen++;
    if (r.seen <= r.skip) return false;
    r.hits++;
    if (r.remaining > 0) r.remaining--;
    return true;
  }

  /** HTTP rules for one request: all matching delays, then at most one terminal rule */
  http(method: string, path: string): Array<FaultRuleState & { matcher?: RegExp }> {
    const fired: Rule[] = [];
    let terminal = false;
    for (const r of this.rules) {
      if (r.kind === 'dropStream' || !HTTP_KINDS.includes(r.kind)) continue;
      if (r.remaining === 0 || !this.matchesHttp(r, method, path)) continue;
      const isTerminal = TERMINAL_HTTP.includes(r.kind);
      if (isTerminal && terminal) continue;
      if (this.consume(r)) {
        fired.push(r);
        if (isTerminal) terminal = true;
      }
    }
    return fired;
  }

  /** the first rule of a kind that matches the predicate and fires */
  take<K extends FaultKind>(
    kind: K,
    pred: (r: Extract<FaultRuleState, { kind: K }>) => boolean = () => true,
    http?: { method: string; path: string },
  ): Extract<FaultRuleState, { kind: K }> | undefined {
    for (const r of this.rules) {
      if (r.kind !== kind || r.remaining === 0) continue;
      if (http && !this.matchesHttp(r, http.method, http.path)) continue;
      if (!pred(r as Extract<FaultRuleState, { kind: K }>)) continue;
      if (this.consume(r)) return r as Extract<FaultRuleState, { kind: K }>;
    }
    return undefined;
  }

  /** rules of one kind with budget left (no consumption) */
  pending<K extends FaultKind>(kind: K): Array<Extract<FaultRuleState, { kind: K }>> {
    return this.rules.filter((r) => r.kind === kind && r.remaining !== 0) as Array<Extract<FaultRuleState, { kind: K }>>;
  }
}
