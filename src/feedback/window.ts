/**
 * The PR feedback of one step and the deadline its GitHub calls run under: bounded by their own
 * deadline, not the build's signal, so a cancelled build still reports and a cancelled job still
 * exits within 5 s.
 */
import type { ImageOutcome, PrFeedback } from './feedback.js';

/** Time the statuses and comments may take once the builds are over. */
const FEEDBACK_MS = 60_000;
/** ... and once the run is cancelled: GitHub sends SIGTERM 7.5 s after SIGINT; the step must be gone within 5 s. */
const CANCELLED_FEEDBACK_MS = 4_000;

export class FeedbackWindow {
  readonly pr: PrFeedback;
  private readonly abort = new AbortController();
  private deadline = Infinity;
  private timer?: NodeJS.Timeout;

  constructor(make: (signal: AbortSignal) => PrFeedback) {
    this.pr = make(this.abort.signal);
  }

  private limit(ms: number): void {
    if (Date.now() + ms >= this.deadline) return;
    this.deadline = Date.now() + ms;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort.abort(), ms);
  }

  /** the run was cancelled: a few seconds left */
  cancelled(): void {
    this.limit(CANCELLED_FEEDBACK_MS);
  }

  async finish(outcomes: ImageOutcome[]): Promise<void> {
    if (!this.pr.active) return;
    this.limit(FEEDBACK_MS);
    await this.pr.finish(outcomes);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
