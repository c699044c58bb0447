// Builds the CDK app for one environment, with cdk-nag's AwsSolutions checks; shared by
// bin/app.ts (synth and deploy) and the tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { checkRegion, environmentSettings, EnvironmentName, REGION } from './environments';
import { CustomDomain, ImageFlexStack } from './image-flex-stack';

/** The real bundle, left by `make lambda`. */
export const DEFAULT_BUNDLE = path.resolve(__dirname, '..', '..', '..', 'build', 'lambda', 'imageflex-lambda.zip');

export interface BuildOptions {
  readonly environmentName: string;
  readonly bundlePath?: string;
  readonly domain?: CustomDomain;
  /** Set by the CDK CLI from the credentials; absent offline (the template then names no account). */
  readonly account?: string;
  /** Where the region might have been configured: each must be us-east-1 or unset. */
  readonly configuredRegions?: Record<string, string | undefined>;
  readonly appProps?: AppProps;
}

export function buildApp(options: BuildOptions): { app: App; stack: ImageFlexStack } {
  // Refuse before anything is built: an unknown environment, another region, a missing bundle.
  const settings = environmentSettings(options.environmentName);
  checkRegion(options.configuredRegions ?? {});
  const bundlePath = path.resolve(options.bundlePath ?? DEFAULT_BUNDLE);
  if (!fs.existsSync(bundlePath)) {
    throw new Error(`no Lambda bundle at ${bundlePath}: run \`make lambda\`, or pass -c bundle=PATH`);
  }

  const app = new App(options.appProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new ImageFlexStack(app, `image-flex-${options.environmentName}`, {
    environmentName: options.environmentName as EnvironmentName,
    settings,
    bundlePath,
    domain: options.domain,
    env: { account: options.account, region: REGION },
    description: `Image Flex (${options.environmentName}): CloudFront + WAF + Lambda + S3`,
  });
  return { app, stack };
}

/** One line per cdk-nag finding (errors and warnings) left unacknowledged in a validation report. */
export function nagFindings(reportFile: string): string[] {
  if (!fs.existsSync(reportFile)) return [];
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  const findings: string[] = [];
  for (const plugin of report.pluginReports ?? []) {
    if (plugin.pluginName !== 'AwsSolutions') continue;
    for (const violation of plugin.violations ?? []) {
      for (const construct of violation.violatingConstructs ?? [{}]) {
        findings.push(`${violation.ruleName}: ${construct.constructPath ?? '?'}`);
      }
    }
  }
  return findings;
}

/**
 * Synthesizes the app and returns its assembly; throws, listing them, when cdk-nag has any
 * unacknowledged finding. CDK itself fails synthesis on errors, but lets warnings through.
 */
export function synthesizeChecked(app: App): CloudAssembly {
  let assembly: CloudAssembly;
  try {
    assembly = app.synth();
  } catch (error) {
    const report = /found in: (\S+validation-report\.json)/.exec(String(error))?.[1];
    if (!report) throw error;
    throw new Error(describeFindings(nagFindings(report)) || String(error));
  }
  const findings = nagFindings(path.join(assembly.directory, 'validation-report.json'));
  if (findings.length > 0) throw new Error(describeFindings(findings));
  return assembly;
}

function describeFindings(findings: string[]): string {
  return findings.length ? `cdk-nag: ${findings.length} unacknowledged finding(s):\n  ${findings.join('\n  ')}` : '';
}
