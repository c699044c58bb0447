#!/usr/bin/env node
// The CDK app: `-c env=dev|staging|prod`, `-c bundle=PATH`, and optionally
// `-c domainName=... -c certificateArn=...` (or hostedZoneId + hostedZoneName).
import { App } from 'aws-cdk-lib';
import { buildApp, synthesizeChecked } from '../lib/app';

function main(): void {
  // Only to read the context the CLI (or deploy/aws/synth) passes; the real app is built below.
  const context = new App().node;
  const get = (key: string): string | undefined => context.tryGetContext(key) || undefined;
  const domainName = get('domainName');
  const { app } = buildApp({
    environmentName: get('env') ?? process.env.IF_ENV ?? 'dev',
    bundlePath: get('bundle'),
    domain: domainName
      ? {
          domainName,
          certificateArn: get('certificateArn'),
          hostedZoneId: get('hostedZoneId'),
          hostedZoneName: get('hostedZoneName'),
        }
      : undefined,
    account: process.env.CDK_DEFAULT_ACCOUNT,
    configuredRegions: {
      'context region': get('region'),
      AWS_REGION: process.env.AWS_REGION,
      CDK_DEFAULT_REGION: process.env.CDK_DEFAULT_REGION,
    },
  });
  synthesizeChecked(app);
}

try {
  main();
} catch (error) {
  console.error(`image-flex: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
