/**
 * The HTTP error family: an error status the platform answered with (HttpStatusError) and an
 * answer that never came (TransportError), and how a non-2xx answer becomes an error message.
 */
import { ActionError } from '../errors.js';
import { bodyExcerpt, statusText } from './validate.js';

/** The parts of an answer an error is made from. */
export interface StatusAnswer {
  status: number;
  body: Buffer;
}

/** An HTTP error status turned into an ActionError; keeps the (redacted) body text for classification. */
export class HttpStatusError extends ActionError {
  readonly responseBody: string;
  readonly operation: string;
  constructor(
    message: string,
    opts: { kind: 'auth' | 'platform' | 'sandbox'; status: number; body: string; operation: string; advice?: string[] },
  ) {
    super(message, { kind: opts.kind, httpStatus: opts.status, advice: opts.advice });
    this.name = 'HttpStatusError';
    this.responseBody = opts.body;
    this.operation = opts.operation;
  }
}

/** An answer that never came (or broke off): connection refused, reset, DNS, timeout. */
export class TransportError extends ActionError {
  readonly code?: string;
  /** True when the request provably never reached the server. */
  readonly unsent: boolean;
  constructor(message: string, opts: { code?: string; unsent: boolean; cause?: unknown }) {
    super(message, { kind: 'transport', cause: opts.cause });
    this.name = 'TransportError';
    this.code = opts.code;
    this.unsent = opts.unsent;
  }
}

/**
 * The error for a non-2xx answer: `failed to <operation> (HTTP <status> <reason>): <body excerpt>`.
 * 401/403 are kind 'auth' with advice; everything else kind 'platform'.
 */
export function statusError(
  res: StatusAnswer,
  operation: string,
  redact: (s: string) => string,
  kind?: 'auth' | 'platform' | 'sandbox',
): HttpStatusError {
  const excerpt = bodyExcerpt(res.body, redact);
  const advice: string[] = [];
  if (res.status === 401) advice.push('The token was rejected: check the api-key (or pat) input and that the secret it comes from is set.');
  if (res.status === 403)
    advice.push('The token is not allowed to do this: check that it belongs to the organization/project being built into.');
  if (res.status === 429) advice.push('The platform is rate limiting requests; retry the workflow later.');
  const k = kind ?? (res.status === 401 || res.status === 403 ? 'auth' : 'platform');
  return new HttpStatusError(`failed to ${operation} (HTTP ${statusText(res.status)}): ${excerpt || '(empty body)'}`, {
    kind: k,
    status: res.status,
    body: redact(res.body.toString('utf8')),
    operation,
    advice,
  });
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
