// The bundle's entry (dist/index.js) for both steps of action.yml: main, then post (src/step.ts).
import * as core from '@actions/core';
import { run } from './main.js';
import { runPostStep } from './post.js';
import { registerCredentials, SecretRegistry } from './secrets.js';
import { isPostStep, markMainStep } from './step.js';

function runMainStep(): void {
  markMainStep();
  // Exit explicitly once the run is over: no timer or socket may keep a cancelled step alive.
  run().then(
    () => process.exit(),
    (e: unknown) => {
      // run() reports every failure itself; this is a last resort for a bug. Even here, no secret.
      const secrets = new SecretRegistry();
      registerCredentials(secrets, (n) => core.getInput(n), process.env);
      const text = secrets.redact(e instanceof Error ? e.message : String(e));
      // core.error escapes the text: a message from outside cannot end the command and start another
      core.error(`sbx-image-action crashed: ${text}. Please report this with the step log.`);
      process.exit(1);
    },
  );
}

if (isPostStep()) runPostStep();
else runMainStep();
