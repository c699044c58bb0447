// The three environments and the only things that differ between them.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PriceClass } from 'aws-cdk-lib/aws-cloudfront';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

export type EnvironmentName = 'dev' | 'staging' | 'prod';

export interface EnvironmentSettings {
  /** Lambda memory; CPU grows with it (1,769 MB is one full vCPU). */
  readonly memoryMb: number;
  /** How long the function's logs are kept. */
  readonly logRetention: RetentionDays;
  /** How long CloudFront and S3 access logs are kept in the log bucket. */
  readonly accessLogExpiry: Duration;
  /** How long a variant is kept under _imageflex/ before it is made again on demand. */
  readonly variantExpiry: Duration;
  /** What stack deletion does to the buckets. */
  readonly removalPolicy: RemovalPolicy;
  /** WAF: requests one IP may make in 5 minutes before it is blocked (every request counts, cache hits too). */
  readonly rateLimitPer5Minutes: number;
  /** CloudFront edge locations paid for. */
  readonly priceClass: PriceClass;
  /**
   * The Secrets Manager secret (made by hand, before the first deploy) whose value is the
   * function's IF_SIGN_KEYS; set where the environment's profile has require-signing = true,
   * which refuses to start without keys.
   */
  readonly signKeysSecret?: string;
}

export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentSettings>> = {
  dev: {
    memoryMb: 1024,
    logRetention: RetentionDays.ONE_WEEK,
    accessLogExpiry: Duration.days(14),
    variantExpiry: Duration.days(7),
    removalPolicy: RemovalPolicy.DESTROY,
    rateLimitPer5Minutes: 1000,
    priceClass: PriceClass.PRICE_CLASS_100,
  },
  staging: {
    memoryMb: 2048,
    logRetention: RetentionDays.ONE_MONTH,
    accessLogExpiry: Duration.days(30),
    variantExpiry: Duration.days(30),
    removalPolicy: RemovalPolicy.RETAIN,
    rateLimitPer5Minutes: 2000,
    priceClass: PriceClass.PRICE_CLASS_100,
  },
  prod: {
    memoryMb: 3008,
    logRetention: RetentionDays.THREE_MONTHS,
    accessLogExpiry: Duration.days(90),
    variantExpiry: Duration.days(30),
    removalPolicy: RemovalPolicy.RETAIN,
    rateLimitPer5Minutes: 5000,
    priceClass: PriceClass.PRICE_CLASS_ALL,
    signKeysSecret: 'image-flex-prod/sign-keys',
  },
};

/** The only region: CloudFront's WAF web ACLs and certificates live there. */
export const REGION = 'us-east-1';

export function isEnvironmentName(name: string): name is EnvironmentName {
  return Object.prototype.hasOwnProperty.call(ENVIRONMENTS, name);
}

/** The settings of a named environment; throws a one-line message for any other name. */
export function environmentSettings(name: string): EnvironmentSettings {
  if (!isEnvironmentName(name)) {
    throw new Error(`unknown environment '${name}': use one of ${Object.keys(ENVIRONMENTS).join(', ')}`);
  }
  return ENVIRONMENTS[name];
}

/** Throws a one-line message when any configured region is not us-east-1. */
export function checkRegion(configured: Record<string, string | undefined>): void {
  for (const [source, region] of Object.entries(configured)) {
    if (region && region !== REGION) {
      throw new Error(
        `Image Flex deploys to ${REGION} only (CloudFront's WAF and certificates live there), ` +
          `but ${source} is ${region}: set it to ${REGION} or unset it`,
      );
    }
  }
}
