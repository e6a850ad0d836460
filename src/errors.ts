/**
 * One typed family for every failure the action can report: what failed (the message), what to do
 * about it (advice), and where (build id, builder sandbox id, phase). Formatting lives here only.
 */

export type FailureKind =
  | 'input' // a bad action input: fix the workflow file
  | 'plan' // the Dockerfile cannot be planned (syntax, no FROM, ...)
  | 'context' // the build context cannot be archived
  | 'auth' // credentials rejected or missing scope
  | 'usage' // a combination the platform does not support (e.g. streaming with a registered FROM)
  | 'platform' // the platform answered with an error status or an invalid body
  | 'transport' // the request never got an answer (connection refused, reset, DNS)
  | 'sandbox' // the builder sandbox did not come up or went away
  | 'builder' // the builder ran and failed
  | 'admission' // cas-streaming admission failed
  | 'timeout' // a wait ran out of its limit
  | 'cancelled' // the run was cancelled (SIGINT/SIGTERM)
  | 'internal'; // a bug: please report

export interface ActionErrorOptions {
  kind: FailureKind;
  advice?: string[];
  buildId?: string;
  sandboxId?: string;
  /** HTTP status of the response that caused the failure, when there was one. */
  httpStatus?: number;
  /** The pipeline phase the failure happened in (set by the pipeline). */
  phase?: string;
  /** The input that controls the thing that failed (e.g. `admission-timeout`). */
  input?: string;
  cause?: unknown;
}

export class ActionError extends Error {
  readonly kind: FailureKind;
  advice: string[];
  buildId?: string;
  sandboxId?: string;
  httpStatus?: number;
  phase?: string;
  input?: string;

  constructor(message: string, options: ActionErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ActionError';
    this.kind = options.kind;
    this.advice = options.advice ? [...options.advice] : [];
    this.buildId = options.buildId;
    this.sandboxId = options.sandboxId;
    this.httpStatus = options.httpStatus;
    this.phase = options.phase;
    this.input = options.input;
  }

  /** Adds ids/phase that are known at an outer layer without overwriting what is already set. */
  annotate(ctx: { buildId?: string; sandboxId?: string; phase?: string }): this {
    this.buildId ??= ctx.buildId;
    this.sandboxId ??= ctx.sandboxId;
    this.phase ??= ctx.phase;
    return this;
  }

  addAdvice(...lines: string[]): this {
    for (const line of lines) if (line && !this.advice.includes(line)) this.advice.push(line);
    return this;
  }
}

export function isActionError(e: unknown): e is ActionError {
  return e instanceof ActionError;
}

/**
 * The error of a cancelled run (SIGINT/SIGTERM aborted it). `doing` says what was under way, as a
 * phrase that follows "while": `trying to upload the context`, `running 'tar'`.
 */
export function cancelledError(doing?: string, cause?: unknown): ActionError {
  return new ActionError(doing ? `the run was cancelled while ${doing}` : 'the run was cancelled', { kind: 'cancelled', cause });
}

/** Wraps anything thrown into an ActionError, keeping an ActionError as is. */
export function toActionError(e: unknown, kind: FailureKind = 'internal'): ActionError {
  if (e instanceof ActionError) return e;
  if (e instanceof Error) {
    if (e.name === 'AbortError') return cancelledError(undefined, e);
    return new ActionError(e.message || e.name, { kind, cause: e });
  }
  return new ActionError(String(e), { kind });
}

/**
 * The one place an error becomes text:
 * `<message>\n<advice…>\n(builder sandbox: <id>, build: <id>)`.
 * `redact` removes every registered secret from the result.
 */
export function formatError(e: ActionError, redact: (s: string) => string = (s) => s): string {
  const lines = [e.message];
  for (const a of e.advice) lines.push(a);
  const ids: string[] = [];
  if (e.sandboxId) ids.push(`builder sandbox: ${e.sandboxId}`);
  if (e.buildId) ids.push(`build: ${e.buildId}`);
  let text = lines.join('\n');
  if (ids.length) text += ` (${ids.join(', ')})`;
  return redact(text);
}
