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

/**
 * Handlers bundled with esbuild (`SecureFunction`) at every synth were most of a construct test's
 * time once every lake carried one: tests skip that bundling (CDK's own `aws:cdk:bundling-stacks`
 * context; the asset is then a placeholder, whose hash the snapshot serializer masks anyway) unless
 * they ask for it. `cdk synth` and the benchmarks bundle for real.
 */
export const SKIP_BUNDLING: Record<string, unknown> = { 'aws:cdk:bundling-stacks': [] };

/** A bare App with cdk.json's context plus `context` (handler bundling skipped unless `context` says otherwise). */
export function kitApp(context: Record<string, unknown> = {}, outdir?: string): App {
  return new App({ context: { ...cdkJsonContext(), ...SKIP_BUNDLING, ...context }, outdir });
}

/** The kit's app as bin/app.ts builds it. */
export function createKitApp(context: Record<string, unknown> = {}, outdir?: string) {
  const app = kitApp(context, outdir);
  const stacks = createApp(app, { blueprints: BLUEPRINTS });
  return { app, stacks };
}
