// The post step of action.yml (the bundle's entry, src/index.ts, tells it from the main step).
import * as core from '@actions/core';
import { runPost } from './cleanup.js';
import { registerCredentials, SecretRegistry } from './secrets.js';

export function runPostStep(): void {
  runPost().then(
    () => process.exit(),
    (e: unknown) => {
      const secrets = new SecretRegistry();
      registerCredentials(secrets, (n) => core.getInput(n), process.env);
      core.warning(`sbx-image-action post step failed: ${secrets.redact(e instanceof Error ? e.message : String(e))}`);
      process.exit(0);
    },
  );
}
