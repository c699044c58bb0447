// The synthesized templates of all three environments, checked with CDK's assertions, and
// cdk-nag's AwsSolutions pack with no unacknowledged finding. Offline: a stand-in bundle.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildApp, synthesizeChecked } from '../lib/app';
import { ENVIRONMENTS, EnvironmentName } from '../lib/environments';
import { LAMBDA_PROFILE_DIR, queryParameters, VIEWER_REQUEST_FUNCTION } from '../lib/image-flex-stack';

const STAND_IN = path.join(__dirname, 'stand-in-bundle');
/** The environments' profiles, which the Lambda bundle carries to LAMBDA_PROFILE_DIR. */
const REPO_CONFIG = path.join(__dirname, '..', '..', '..', 'config');

type Resources = Record<string, { Type: string; Properties?: any; DeletionPolicy?: string }>;

function synth(environmentName: string, extra: object = {}) {
  const { app, stack } = buildApp({ environmentName, bundlePath: STAND_IN, ...extra });
  const assembly = synthesizeChecked(app);
  const template = Template.fromStack(stack);
  return { assembly, template, stack, resources: template.toJSON().Resources as Resources };
}

/** Every cdk-nag acknowledgement in a stack: [rule, reason]. */
function acknowledgements(stack: Stack): [string, string][] {
  const found: [string, string][] = [];
  for (const construct of stack.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (id.includes('AwsSolutions-')) found.push([id.replace(/^[A-Za-z-]+::(?=AwsSolutions-)/, ''), reason]);
      }
    }
  }
  return found;
}

/** The one resource of a type (fails when there is not exactly one). */
function only(resources: Resources, type: string, where: (r: any) => boolean = () => true) {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && where(r));
  assert.equal(found.length, 1, `expected one ${type}, found ${found.length}`);
  return { id: found[0][0], ...found[0][1] };
}

const isImagesBucket = (r: any) => r.Properties?.OwnershipControls?.Rules?.[0]?.ObjectOwnership === 'BucketOwnerEnforced';
const isLogBucket = (r: any) => r.Properties?.OwnershipControls?.Rules?.[0]?.ObjectOwnership === 'BucketOwnerPreferred';

for (const environmentName of Object.keys(ENVIRONMENTS) as EnvironmentName[]) {
  const settings = ENVIRONMENTS[environmentName];
  const retained = environmentName !== 'dev';

  test(`${environmentName}: the template`, async (t) => {
    const { template, resources, stack } = synth(environmentName);
    const bucket = only(resources, 'AWS::S3::Bucket', isImagesBucket);
    const logBucket = only(resources, 'AWS::S3::Bucket', isLogBucket);
    const fn = only(resources, 'AWS::Lambda::Function', (r) => r.Properties.Handler === 'bootstrap');
    const url = only(resources, 'AWS::Lambda::Url');
    const distribution = only(resources, 'AWS::CloudFront::Distribution');
    const config = distribution.Properties.DistributionConfig;
    const behavior = config.DefaultCacheBehavior;

    await t.test('cdk-nag AwsSolutions: no unacknowledged finding, every acknowledgement has a reason', () => {
      // synthesizeChecked above threw on any finding; here, what was acknowledged and why.
      const acknowledged = acknowledgements(stack);
      for (const [rule, reason] of acknowledged) assert.ok(reason.length > 30, `${rule} acknowledged without a reason`);
      assert.deepEqual([...new Set(acknowledged.map(([rule]) => rule.replace(/\[.*/, '')))].sort(), [
        ...(retained ? [] : ['AwsSolutions-IAM4', 'AwsSolutions-L1']), // CDK's own auto-delete helper, dev only
        'AwsSolutions-CFR1', 'AwsSolutions-CFR4', 'AwsSolutions-IAM5', 'AwsSolutions-S1',
      ].sort());
    });

    await t.test('the images bucket is private, encrypted, TLS-only, logged, expires variants', () => {
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
      });
      assert.deepEqual(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration, [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      assert.deepEqual(bucket.Properties.LoggingConfiguration, {
        DestinationBucketName: { Ref: logBucket.id }, LogFilePrefix: 's3-access/',
      });
      assert.deepEqual(bucket.Properties.LifecycleConfiguration.Rules, [
        { Id: 'expire-variants', Prefix: '_imageflex/', ExpirationInDays: settings.variantExpiry.toDays(), Status: 'Enabled' },
        { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ]);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket.id },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]) },
      });
      // Nothing grants the public or another account anything on it.
      const policy = only(resources, 'AWS::S3::BucketPolicy', (r) => r.Properties.Bucket.Ref === bucket.id);
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        assert.ok(statement.Effect === 'Deny' || statement.Principal?.AWS, `unexpected grant ${JSON.stringify(statement)}`);
      }
    });

    await t.test(`the buckets are ${retained ? 'retained' : 'destroyed with their objects'} on stack deletion`, () => {
      for (const b of [bucket, logBucket]) assert.equal(b.DeletionPolicy, retained ? 'Retain' : 'Delete');
      const autoDeletes = Object.values(resources).filter((r) => r.Type === 'Custom::S3AutoDeleteObjects').length;
      assert.equal(autoDeletes, retained ? 0 : 2);
    });

    await t.test('the log bucket takes CloudFront logs (ACLs) and expires them', () => {
      assert.equal(logBucket.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets, true);
      assert.deepEqual(logBucket.Properties.LifecycleConfiguration.Rules, [
        { Id: 'expire-access-logs', ExpirationInDays: settings.accessLogExpiry.toDays(), Status: 'Enabled' },
      ]);
      assert.deepEqual(config.Logging, { Bucket: { 'Fn::GetAtt': [logBucket.id, 'RegionalDomainName'] }, Prefix: 'cloudfront/' });
    });

    await t.test('the function: provided.al2023, x86_64, bootstrap, its settings, its log group', () => {
      assert.equal(fn.Properties.Runtime, 'provided.al2023');
      assert.deepEqual(fn.Properties.Architectures, ['x86_64']);
      assert.equal(fn.Properties.MemorySize, settings.memoryMb);
      const { IF_SIGN_KEYS: signKeys, ...variables } = fn.Properties.Environment.Variables;
      assert.deepEqual(variables, {
        IF_ENV: environmentName,
        IF_CONFIG_DIR: LAMBDA_PROFILE_DIR,
        IF_STORAGE: { 'Fn::Join': ['', ['s3://', { Ref: bucket.id }]] },
        IF_ACCESS_LOG: 'true',
        IF_DEADLINE_MS: '25000',
        IF_LAMBDA_RESPONSE_MODE: 'stream',
        IF_PLAYGROUND: 'false',
      });
      // The profile the bundle carries (scripts/lambda_bundle.sh copies config/) decides
      // whether the function can start without keys: it gets them exactly when it needs them,
      // as a reference to the secret, never the keys themselves.
      const profile = fs.readFileSync(path.join(REPO_CONFIG, `${environmentName}.toml`), 'utf8');
      if (/^require-signing\s*=\s*true\b/m.test(profile)) {
        assert.equal(signKeys, `{{resolve:secretsmanager:${settings.signKeysSecret}:SecretString:::}}`);
      } else {
        assert.equal(signKeys, undefined);
      }
      const logGroup = only(resources, 'AWS::Logs::LogGroup');
      assert.equal(logGroup.Properties.RetentionInDays, settings.logRetention);
      assert.deepEqual(fn.Properties.LoggingConfig, { LogGroup: { Ref: logGroup.id } });
    });

    await t.test('the function URL: AWS_IAM, streamed', () => {
      assert.equal(url.Properties.AuthType, 'AWS_IAM');
      assert.equal(url.Properties.InvokeMode, 'RESPONSE_STREAM');
      assert.deepEqual(url.Properties.TargetFunctionArn, { 'Fn::GetAtt': [fn.id, 'Arn'] });
    });

    await t.test('OAC of type lambda, and both invoke permissions for this distribution only', () => {
      const oac = only(resources, 'AWS::CloudFront::OriginAccessControl');
      assert.deepEqual(oac.Properties.OriginAccessControlConfig, {
        Name: oac.Properties.OriginAccessControlConfig.Name,
        OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always', SigningProtocol: 'sigv4',
      });
      assert.equal(config.Origins.length, 1);
      assert.deepEqual(config.Origins[0].OriginAccessControlId, { 'Fn::GetAtt': [oac.id, 'Id'] });
      const sourceArn = {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' },
          ':distribution/', { Ref: distribution.id }]],
      };
      const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission')
        .map((r) => r.Properties).sort((a, b) => a.Action.localeCompare(b.Action));
      assert.deepEqual(permissions, [
        { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [url.id, 'FunctionArn'] },
          InvokedViaFunctionUrl: true, Principal: 'cloudfront.amazonaws.com', SourceArn: sourceArn },
        { Action: 'lambda:InvokeFunctionUrl', FunctionName: { 'Fn::GetAtt': [url.id, 'FunctionArn'] },
          Principal: 'cloudfront.amazonaws.com', SourceArn: sourceArn },
      ]);
    });

    await t.test('the cache key: exactly our query parameters (a signed URL\'s too) and Accept; no compression', () => {
      const policy = only(resources, 'AWS::CloudFront::CachePolicy');
      const key = policy.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin;
      // Every query string is in the key: the viewer-request function has already dropped all
      // but ours (and put them in one order), and an allow-list of them would pass CloudFront's
      // quota of 10 query strings per cache policy.
      assert.deepEqual(key.QueryStringsConfig, { QueryStringBehavior: 'all' });
      assert.ok(queryParameters().length > 10, 'the allow-list this replaces would exceed the quota');
      assert.deepEqual([...queryParameters()].sort(), [
        'bg', 'blur', 'crop', 'dpr', 'enlarge', 'exp', 'f', 'fit', 'flip', 'flop', 'fp', 'h', 'lossless', 'meta',
        'p', 'pos', 'progressive', 'q', 'rotate', 's', 'sharpen', 'trim', 'w',
      ]);
      assert.deepEqual(key.HeadersConfig, { HeaderBehavior: 'whitelist', Headers: ['Accept', 'Sec-CH-DPR', 'Sec-CH-Width'] });
      assert.deepEqual(key.CookiesConfig, { CookieBehavior: 'none' });
      assert.equal(key.EnableAcceptEncodingGzip, false);
      assert.equal(key.EnableAcceptEncodingBrotli, false);
      assert.deepEqual(behavior.CachePolicyId, { Ref: policy.id });
      // Nothing beyond the key reaches the origin: no origin request policy, so no viewer Host.
      assert.equal(behavior.OriginRequestPolicyId, undefined);
      assert.equal(Object.values(resources).some((r) => r.Type === 'AWS::CloudFront::OriginRequestPolicy'), false);
      assert.equal(behavior.Compress, false);
      assert.equal(behavior.ViewerProtocolPolicy, 'redirect-to-https');
      assert.deepEqual(behavior.AllowedMethods, ['GET', 'HEAD']);
    });

    await t.test('the viewer-request function is the file, on cloudfront-js-2.0', () => {
      const cff = only(resources, 'AWS::CloudFront::Function');
      assert.equal(cff.Properties.FunctionConfig.Runtime, 'cloudfront-js-2.0');
      assert.equal(cff.Properties.FunctionCode, fs.readFileSync(VIEWER_REQUEST_FUNCTION, 'utf8'));
      assert.deepEqual(behavior.FunctionAssociations, [
        { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [cff.id, 'FunctionARN'] } },
      ]);
    });

    await t.test('HTTP/2 and 3, the price class, short error caching', () => {
      assert.equal(config.HttpVersion, 'http2and3');
      assert.equal(config.PriceClass, settings.priceClass);
      assert.ok(config.CustomErrorResponses.length >= 8);
      for (const error of config.CustomErrorResponses) {
        assert.ok(error.ErrorCachingMinTTL <= 10, `${error.ErrorCode} cached ${error.ErrorCachingMinTTL} s`);
        assert.equal(error.ResponsePagePath, undefined);
        if (error.ErrorCode >= 500) assert.equal(error.ErrorCachingMinTTL, 1);
      }
      assert.deepEqual(config.CustomErrorResponses.map((e: any) => e.ErrorCode).filter((c: number) => [404, 503, 504].includes(c)), [404, 503, 504]);
    });

    await t.test('WAF: CLOUDFRONT scope, managed rules, per-IP rate limit, attached', () => {
      const acl = only(resources, 'AWS::WAFv2::WebACL');
      assert.equal(acl.Properties.Scope, 'CLOUDFRONT');
      assert.deepEqual(acl.Properties.DefaultAction, { Allow: {} });
      const rules = acl.Properties.Rules;
      assert.deepEqual(rules.map((r: any) => r.Name), [
        'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesAmazonIpReputationList', 'RateLimitPerIp',
      ]);
      for (const rule of rules.slice(0, 3)) {
        assert.equal(rule.Statement.ManagedRuleGroupStatement.VendorName, 'AWS');
        assert.equal(rule.Statement.ManagedRuleGroupStatement.Name, rule.Name);
        assert.deepEqual(rule.OverrideAction, { None: {} });
      }
      assert.deepEqual(rules[0].Statement.ManagedRuleGroupStatement.RuleActionOverrides, [
        { Name: 'NoUserAgent_HEADER', ActionToUse: { Count: {} } },
      ]);
      assert.equal(rules[1].Statement.ManagedRuleGroupStatement.RuleActionOverrides, undefined);
      assert.deepEqual(rules[3].Statement, {
        RateBasedStatement: { Limit: settings.rateLimitPer5Minutes, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
      });
      assert.deepEqual(rules[3].Action, { Block: {} });
      assert.deepEqual(config.WebACLId, { 'Fn::GetAtt': [acl.id, 'Arn'] });
    });

    await t.test('the role: get/put objects and list on the images bucket, its own logs, nothing else', () => {
      const role = only(resources, 'AWS::IAM::Role', (r) => r.Properties.Description?.startsWith('Image Flex'));
      assert.deepEqual(fn.Properties.Role, { 'Fn::GetAtt': [role.id, 'Arn'] });
      assert.equal(role.Properties.ManagedPolicyArns, undefined);
      assert.equal(role.Properties.Policies, undefined);
      const policies = Object.values(resources).filter(
        (r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === role.id));
      assert.equal(policies.length, 1);
      const logGroup = only(resources, 'AWS::Logs::LogGroup');
      assert.deepEqual(policies[0].Properties!.PolicyDocument.Statement, [
        { Sid: 'ReadWriteObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'],
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket.id, 'Arn'] }, '/*']] } },
        { Sid: 'ListBucket', Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucket.id, 'Arn'] } },
        { Sid: 'WriteLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [logGroup.id, 'Arn'] } },
      ]);
    });

    await t.test('outputs: the URL, the bucket, an example image', () => {
      const outputs = template.toJSON().Outputs;
      assert.deepEqual(Object.keys(outputs).sort(), ['BucketName', 'DistributionUrl', 'ExampleImageUrl']);
      assert.deepEqual(outputs.BucketName.Value, { Ref: bucket.id });
      assert.match(JSON.stringify(outputs.ExampleImageUrl.Value), /landscape\.jpg\?w=400/);
    });
  });
}

test('a custom domain with a given certificate: alias, SNI, TLS 1.2', () => {
  const arn = 'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000';
  const { resources } = synth('prod', { domain: { domainName: 'img.example.com', certificateArn: arn } });
  const config = only(resources, 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
  assert.deepEqual(config.Aliases, ['img.example.com']);
  assert.deepEqual(config.ViewerCertificate, {
    AcmCertificateArn: arn, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only',
  });
});

test('a custom domain in a Route 53 zone: a DNS-validated certificate and alias records', () => {
  const { resources } = synth('staging', {
    domain: { domainName: 'img.example.com', hostedZoneId: 'Z0000000000000', hostedZoneName: 'example.com' },
  });
  const certificate = only(resources, 'AWS::CertificateManager::Certificate');
  assert.equal(certificate.Properties.DomainName, 'img.example.com');
  assert.equal(certificate.Properties.ValidationMethod, 'DNS');
  const records = Object.values(resources).filter((r) => r.Type === 'AWS::Route53::RecordSet').map((r) => r.Properties.Type);
  assert.deepEqual(records.sort(), ['A', 'AAAA']);
});

test('cdk-nag is really checking: an unlogged, non-TLS bucket is reported', () => {
  const { app, stack } = buildApp({ environmentName: 'dev', bundlePath: STAND_IN });
  new s3.Bucket(stack, 'Careless');
  assert.throws(() => synthesizeChecked(app), (error: Error) => {
    assert.match(error.message, /AwsSolutions-S1: image-flex-dev\/Careless\//);
    assert.match(error.message, /AwsSolutions-S10: image-flex-dev\/Careless\//);
    return true;
  });
});

test('refused before anything is built: an unknown environment, another region, no bundle', () => {
  assert.throws(() => buildApp({ environmentName: 'qa', bundlePath: STAND_IN }), /unknown environment 'qa': use one of dev, staging, prod/);
  assert.throws(
    () => buildApp({ environmentName: 'dev', bundlePath: STAND_IN, configuredRegions: { AWS_REGION: 'eu-west-1' } }),
    /us-east-1 only .*AWS_REGION is eu-west-1/,
  );
  assert.throws(() => buildApp({ environmentName: 'dev', bundlePath: '/nonexistent/imageflex-lambda.zip' }), /make lambda/);
});
