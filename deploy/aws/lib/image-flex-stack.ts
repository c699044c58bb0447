// One Image Flex environment: CloudFront (with a viewer-request function and WAF) in front of
// the C++ service on Lambda behind a function URL, over a private S3 bucket. See docs/aws.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnOutput, Duration, SecretValue, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct, IConstruct } from 'constructs';
import { EnvironmentName, EnvironmentSettings } from './environments';

/** The viewer-request CloudFront Function; the stack deploys this file as it is. */
export const VIEWER_REQUEST_FUNCTION = path.join(__dirname, '..', 'functions', 'viewer-request.js');

/** The query parameters the viewer-request function keeps: its QUERY_PARAMETERS list, read from the file. */
export function queryParameters(functionFile: string = VIEWER_REQUEST_FUNCTION): string[] {
  const match = /var QUERY_PARAMETERS = \[([^\]]*)\]/.exec(fs.readFileSync(functionFile, 'utf8'));
  if (!match) throw new Error(`${functionFile} has no QUERY_PARAMETERS list`);
  return [...match[1].matchAll(/'([^']*)'/g)].map((m) => m[1]);
}

/** A custom domain: its name, and either an ACM certificate in us-east-1 or a Route 53 zone to make one in. */
export interface CustomDomain {
  readonly domainName: string;
  readonly certificateArn?: string;
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
}

export interface ImageFlexStackProps extends StackProps {
  readonly environmentName: EnvironmentName;
  readonly settings: EnvironmentSettings;
  /** The Lambda bundle: build/lambda/imageflex-lambda.zip, or a stand-in zip or folder. */
  readonly bundlePath: string;
  readonly domain?: CustomDomain;
}

/** Where the bundle's profiles are once Lambda has unpacked it (scripts/lambda_bundle.sh). */
export const LAMBDA_PROFILE_DIR = '/var/task/config';

/** The prefix under which the service keeps its variants (kReservedSegment in src/request/image_request.h). */
const VARIANT_PREFIX = '_imageflex/';

export class ImageFlexStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;
  readonly function: lambda.Function;
  readonly distribution: cloudfront.Distribution;
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: ImageFlexStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const autoDeleteObjects = settings.removalPolicy === 'destroy';

    // CloudFront standard logs are delivered with ACLs, so this bucket must allow them
    // (BucketOwnerPreferred); S3 server access logs of the images bucket land here too.
    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: settings.accessLogExpiry }],
      removalPolicy: settings.removalPolicy,
      autoDeleteObjects,
    });
    acknowledge(this.logBucket, 'AwsSolutions-S1', 'This is the access-log bucket itself; logging it into itself would loop.');

    this.bucket = new s3.Bucket(this, 'ImagesBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3-access/',
      // Variants of a replaced original are never read again (the original's version is in
      // their key), and any variant is made again on demand: let old ones go. The service
      // writes with single PUTs (nothing is left by a crash), but other uploaders (the AWS
      // CLI, SDKs) use multipart uploads, whose unfinished parts are billed until aborted.
      lifecycleRules: [
        { id: 'expire-variants', prefix: VARIANT_PREFIX, expiration: settings.variantExpiry },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: settings.removalPolicy,
      autoDeleteObjects,
    });

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });

    // Exactly what the service does: read and write objects, and list the bucket so a
    // missing key is a 404 rather than a 403. Logs go to its own log group only.
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Image Flex: read and write the images bucket, write its own logs',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteObjects',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'ListBucket', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const bucketLogicalId = this.resolve((this.bucket.node.defaultChild as s3.CfnBucket).logicalId);
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/*]`,
      'Object-level actions need the object ARN bucket/* (any original and its variants); it stays within this bucket.',
    );

    this.function = new lambda.Function(this, 'Function', {
      description: `Image Flex (${props.environmentName}): the C++ service`,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(props.bundlePath),
      memorySize: settings.memoryMb,
      // Under CloudFront's 30 s origin read timeout, so a slow variant is the service's 504.
      timeout: Duration.seconds(29),
      role,
      logGroup,
      environment: {
        // The environment's profile (config/ENV.toml, carried in the bundle) under these settings.
        IF_ENV: props.environmentName,
        IF_CONFIG_DIR: LAMBDA_PROFILE_DIR,
        IF_STORAGE: `s3://${this.bucket.bucketName}`,
        IF_ACCESS_LOG: 'true',
        // A request's own deadline, inside the invocation's (the runtime loop takes the smaller).
        IF_DEADLINE_MS: '25000',
        // Must match the function URL's invoke mode below (imageflex --lambda-response-mode).
        IF_LAMBDA_RESPONSE_MODE: 'stream',
        // No playground behind CloudFront: it lists the bucket (and the role may not list it).
        IF_PLAYGROUND: 'false',
        // A dynamic reference, resolved by CloudFormation at deploy time: the keys are not in
        // the template (they are in the function's configuration).
        ...(settings.signKeysSecret
          ? { IF_SIGN_KEYS: SecretValue.secretsManager(settings.signKeysSecret).unsafeUnwrap() }
          : {}),
      },
    });

    const functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      // Originals over Lambda's 6 MB buffered limit can only be streamed.
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    const viewerRequest = new cloudfront.Function(this, 'ViewerRequest', {
      comment: 'Image Flex: keep our query parameters, collapse Accept to avif/webp/other',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromFile({ filePath: VIEWER_REQUEST_FUNCTION }),
    });

    // The key holds what changes the image and nothing else. Compression is off: images are
    // compressed already, and Accept-Encoding would only split the cache. The client hints
    // change the image when the service runs with --client-hints (IF_CLIENT_HINTS); browsers
    // send them only after its Accept-CH, so keying on them costs nothing when it is off.
    const cachePolicy = new cloudfront.CachePolicy(this, 'CachePolicy', {
      comment: 'Image Flex: our query parameters, the collapsed Accept and the client hints',
      // All query strings: the function keeps only ours, in one order, so this is the same
      // key as an allow-list, without CloudFront's quota of 10 names per cache policy.
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Accept', 'Sec-CH-DPR', 'Sec-CH-Width'),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.days(1),
      maxTtl: Duration.days(365),
    });

    this.webAcl = this.makeWebAcl(props.environmentName, settings.rateLimitPer5Minutes);

    const domain = props.domain;
    const certificate = domain ? this.certificate(domain) : undefined;

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Image Flex (${props.environmentName})`,
      defaultBehavior: {
        // OAC of type lambda signs every origin request; this also grants CloudFront
        // lambda:InvokeFunctionUrl and lambda:InvokeFunction (via the function URL only).
        origin: origins.FunctionUrlOrigin.withOriginAccessControl(functionUrl, {
          readTimeout: Duration.seconds(30),
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy,
        // No origin request policy: the origin gets only what is in the cache key, so no
        // viewer Host (a function URL rejects it) and nothing unkeyed that could change a response.
        compress: false,
        functionAssociations: [{ function: viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: settings.priceClass,
      webAclId: this.webAcl.attrArn,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      // Errors are cached briefly: a 404 for an image uploaded a moment later, or a 503
      // during a storage outage, must not outlive its cause.
      errorResponses: [
        ...[400, 403, 404, 405, 414, 416].map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(10) })),
        ...[500, 501, 502, 503, 504].map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(1) })),
      ],
      domainNames: domain ? [domain.domainName] : undefined,
      certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    });
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'Images are public by design; no country is to be refused. WAF rate-limits and filters instead.',
    );
    if (!certificate) {
      acknowledge(
        this.distribution,
        'AwsSolutions-CFR4',
        'Without a custom domain the distribution uses the default *.cloudfront.net certificate, whose ' +
          'TLS policy CloudFront fixes; with a domain the stack sets TLSv1.2_2021.',
      );
    }

    if (domain?.hostedZoneId && domain.hostedZoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: domain.hostedZoneId,
        zoneName: domain.hostedZoneName,
      });
      const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
      new route53.ARecord(this, 'AliasA', { zone, recordName: domain.domainName, target });
      new route53.AaaaRecord(this, 'AliasAAAA', { zone, recordName: domain.domainName, target });
    }

    const host = domain ? domain.domainName : this.distribution.distributionDomainName;
    new CfnOutput(this, 'DistributionUrl', { value: `https://${host}`, description: 'The image service' });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'Upload originals here' });
    new CfnOutput(this, 'ExampleImageUrl', {
      value: `https://${host}/landscape.jpg?w=400`,
      description: 'After uploading samples/landscape.jpg to the bucket',
    });

    this.acknowledgeCdkHelpers();
  }

  /** The certificate: the one given, or a new DNS-validated one in the given Route 53 zone. */
  private certificate(domain: CustomDomain): acm.ICertificate {
    if (domain.certificateArn) return acm.Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn);
    if (!domain.hostedZoneId || !domain.hostedZoneName) {
      throw new Error(`domainName ${domain.domainName} needs certificateArn, or hostedZoneId and hostedZoneName`);
    }
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'CertificateZone', {
      hostedZoneId: domain.hostedZoneId,
      zoneName: domain.hostedZoneName,
    });
    return new acm.Certificate(this, 'Certificate', {
      domainName: domain.domainName,
      validation: acm.CertificateValidation.fromDns(zone),
    });
  }

  /** WAF in front of the distribution: AWS managed rules and a per-IP rate limit. */
  private makeWebAcl(environmentName: string, rateLimit: number): wafv2.CfnWebACL {
    const visibility = (metricName: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (
      priority: number,
      name: string,
      ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
    ): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
      visibilityConfig: visibility(name),
    });
    return new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`image-flex-${environmentName}`),
      rules: [
        // The Core Rule Set, as the original system has it: a missing User-Agent is counted,
        // not blocked (image fetchers and some apps send none).
        managed(0, 'AWSManagedRulesCommonRuleSet', [{ name: 'NoUserAgent_HEADER', actionToUse: { count: {} } }]),
        managed(1, 'AWSManagedRulesKnownBadInputsRuleSet'),
        managed(2, 'AWSManagedRulesAmazonIpReputationList'),
        {
          name: 'RateLimitPerIp',
          priority: 3,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
      ],
    });
  }

  /** Findings on the helper functions CDK itself adds (bucket auto-delete in dev), with reasons. */
  private acknowledgeCdkHelpers(): void {
    for (const child of this.node.children) {
      if (!child.node.id.startsWith('Custom::S3AutoDeleteObjectsCustomResourceProvider')) continue;
      acknowledge(child, 'AwsSolutions-IAM4', 'CDK’s own auto-delete helper (dev only) uses the basic Lambda execution role.');
      acknowledge(child, 'AwsSolutions-L1', 'CDK’s own auto-delete helper (dev only) pins its Node.js runtime.');
    }
  }
}

/** Acknowledges a cdk-nag finding on a construct and everything under it, with the reason. */
function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
