#!/usr/bin/env node
// Starts the Tensorlake platform simulator (simulator/cli.ts) through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../simulator/cli.ts');
