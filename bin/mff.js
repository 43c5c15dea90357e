#!/usr/bin/env node
// The `mff` command: runs the TypeScript sources through tsx (a dependency), so configs stay plain .ts files.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
