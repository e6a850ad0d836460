import * as core from '@actions/core';
import { runPost } from './cleanup.js';
import { registerCredentials, SecretRegistry } from './secrets.js';

runPost().then(
  () => process.exit(),
  (e: unknown) => {
    const secrets = new SecretRegistry();
    registerCredentials(secrets, (n) => core.getInput(n), process.env);
    core.warning(`sbx-image-action post step failed: ${secrets.redact(e instanceof Error ? e.message : String(e))}`);
    process.exit(0);
  },
);
