/**
 * Which of the action's two steps this process is. action.yml runs the one bundle as `main` and
 * again as `post` (post-if: always()). The main step records `isPost` in the step state first
 * thing; GitHub hands the main step's state to the post step as `STATE_isPost` (the same switch as
 * docker/actions-toolkit's state helper).
 */
import * as core from '@actions/core';

export function isPostStep(env: Record<string, string | undefined> = process.env): boolean {
  return env.STATE_isPost === 'true';
}

/** Called by the main step before anything else, so that its post step knows it is one. */
export function markMainStep(): void {
  core.saveState('isPost', 'true');
}
