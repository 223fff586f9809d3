import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../../blueprints';
import { createApp } from '../../lib/app';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The context `cdk` passes from cdk.json (feature flags), so tests synthesize what the CLI does. */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

/** A bare App with cdk.json's context plus `context`. */
export function kitApp(context: Record<string, unknown> = {}, outdir?: string): App {
  return new App({ context: { ...cdkJsonContext(), ...context }, outdir });
}

/** The kit's app as bin/app.ts builds it. */
export function createKitApp(context: Record<string, unknown> = {}, outdir?: string) {
  const app = kitApp(context, outdir);
  const stacks = createApp(app, { blueprints: BLUEPRINTS });
  return { app, stacks };
}
