/**
 * Turns build events into GitHub log output: one log group per phase, the builder's log streamed
 * live as the builder wrote it (BuildKit writes its progress to stderr, so a stream mark would make
 * every line read as an error; only the failure tail marks stderr lines, when it mixes both streams),
 * progress lines (at most one per PROGRESS_INTERVAL_MS per transfer, and the final one), and annotations for Dockerfile warnings (capped; the
 * rest go to the summary). Every line passes through the secret redactor.
 */
import type { BuildEvents, Phase, TransferProgress } from '../pipeline/events.js';
import { PHASE_TITLES } from '../pipeline/events.js';
import { PLAN_WARNING_TITLES, type PlanWarning } from '../dockerfile/plan.js';
import { formatBytes } from '../format.js';
import { guardedCore, type CorePort } from './core-port.js';
import { oneLine } from './untrusted.js';
import type { PostStateWriter } from '../post-state.js';

export const MAX_ANNOTATIONS_PER_LEVEL = 10;
/** builder log lines kept for the summary of a failed build */
export const LOG_TAIL_LINES = 30;
/** at most one progress line per transfer this often (the final one is always printed) */
export const PROGRESS_INTERVAL_MS = 5000;

export interface ReporterOptions {
  annotations: boolean;
  redact: (s: string) => string;
  /** where the builder sandboxes the post step must delete are recorded (one per step, shared by its builds) */
  postState: PostStateWriter;
  /** a prefix for every line, to tell builds apart when several run in one step */
  label?: string;
  /** clock for progress pacing (tests) */
  now?: () => number;
}

export class GitHubReporter implements BuildEvents {
  private inGroup = false;
  private warningsAnnotated = 0;
  private errorsAnnotated = 0;
  /** warnings that did not become annotations (over the cap, or annotations off) */
  readonly overflow: string[] = [];
  /** per transfer: when it began, when a line was last printed, whether the final line was printed */
  private readonly progressState = new Map<string, { started: number; printed: number; done: boolean }>();
  /** the last builder log lines (redacted) with their stream */
  private readonly tail: Array<{ stream: 'stdout' | 'stderr'; text: string }> = [];

  private readonly core: CorePort;

  constructor(
    core: CorePort,
    private readonly opts: ReporterOptions,
  ) {
    // builder lines and platform fields pass through here: neutralise every info line
    this.core = guardedCore(core);
  }

  private line(text: string): void {
    const t = this.opts.redact(text);
    this.core.info(this.opts.label ? `[${this.opts.label}] ${t}` : t);
  }

  phaseStart(phase: Phase): void {
    if (this.inGroup) this.core.endGroup();
    this.core.startGroup(this.opts.redact(`${this.opts.label ? `[${this.opts.label}] ` : ''}${PHASE_TITLES[phase]}`));
    this.inGroup = true;
  }

  phaseEnd(phase: Phase, outcome: 'ok' | 'failed' | 'skipped', ms: number): void {
    this.line(`${PHASE_TITLES[phase]}: ${outcome} in ${(ms / 1000).toFixed(1)}s`);
    if (this.inGroup) this.core.endGroup();
    this.inGroup = false;
  }

  /** Closes a group left open (the run ends mid-phase). */
  close(): void {
    if (this.inGroup) this.core.endGroup();
    this.inGroup = false;
  }

  /** One status line; values from the platform it embeds cannot start a line of their own. */
  status(message: string): void {
    this.line(oneLine(message));
  }

  buildLog(stream: 'stdout' | 'stderr', line: string): void {
    this.line(line);
    this.tail.push({ stream, text: this.opts.redact(line) });
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
  }

  /**
   * The last builder log lines, shown in the summary when the build fails. When they come from both
   * streams, stderr lines are marked `[stderr]` (there the mark tells the error output apart).
   */
  get logTail(): string[] {
    const mixed = this.tail.some((l) => l.stream === 'stderr') && this.tail.some((l) => l.stream === 'stdout');
    return this.tail.map((l) => (mixed && l.stream === 'stderr' ? `[stderr] ${l.text}` : l.text));
  }

  progress(p: TransferProgress): void {
    const now = (this.opts.now ?? Date.now)();
    const final = p.percent >= 100;
    let st = this.progressState.get(p.kind);
    if (!st || (st.done && !final)) {
      st = { started: now, printed: now, done: false };
      this.progressState.set(p.kind, st);
    }
    if (st.done) return;
    if (!final && now - st.printed < PROGRESS_INTERVAL_MS) return;
    st.printed = now;
    st.done = final;
    const what = p.kind === 'archive' ? 'Creating build context archive' : 'Uploading build context archive';
    const files = p.files !== undefined && p.totalFiles !== undefined ? `, ${p.files}/${p.totalFiles} files` : '';
    this.line(
      `${what}: ${p.percent}% (${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}${files}, ${formatBytes(Math.round(p.rate))}/s)`,
    );
  }

  planWarning(w: PlanWarning, file?: string): void {
    const text = this.opts.redact(w.message);
    if (this.opts.annotations && this.warningsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      // the annotation command prints in the log too
      this.warningsAnnotated++;
      this.core.warning(text, { title: PLAN_WARNING_TITLES[w.kind], file, startLine: w.line });
    } else {
      this.line(`warning: ${w.line !== undefined && !text.startsWith('line ') ? `line ${w.line}: ` : ''}${text}`);
      this.overflow.push(`${file ?? 'Dockerfile'}${w.line !== undefined ? `:${w.line}` : ''}: ${text}`);
    }
  }

  warning(message: string): void {
    const text = this.opts.redact(message);
    if (this.warningsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      this.warningsAnnotated++;
      this.core.warning(text);
    } else {
      this.overflow.push(text);
      this.line(`warning: ${text}`);
    }
  }

  /** An error annotation (a Dockerfile syntax error gets its file and line). */
  errorAnnotation(message: string, props?: { file?: string; line?: number; title?: string }): void {
    const text = this.opts.redact(message);
    if (this.opts.annotations && this.errorsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      this.errorsAnnotated++;
      this.core.error(text, { title: props?.title, file: props?.file, startLine: props?.line });
    } else {
      this.overflow.push(text);
    }
  }

  sandboxNaming(name: string): void {
    this.opts.postState.addName(name);
  }

  sandboxNameSettled(name: string): void {
    this.opts.postState.removeName(name);
  }

  sandboxCreated(id: string): void {
    this.opts.postState.addSandbox(id);
  }

  sandboxDeleted(id: string): void {
    this.opts.postState.removeSandbox(id);
  }
}
