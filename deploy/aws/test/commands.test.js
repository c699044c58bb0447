// deploy/aws/setup and update: arguments, prerequisites and --dry-run, with fake credentials
// and a stand-in bundle, so nothing reaches AWS.
'use strict';
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');

const AWS_DIR = path.resolve(__dirname, '..');
const REPO = path.resolve(AWS_DIR, '..', '..');
const STAND_IN = path.join(__dirname, 'stand-in-bundle');
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'imageflex-aws-home-')); // no ~/.aws

// The environment of a clean shell: no AWS or IF_ settings but those given.
function run(command, args, env = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(AWS_|IF_|CDK_|IMAGEFLEX_)/.test(k)),
  );
  const result = spawnSync(path.join(AWS_DIR, command), args, {
    env: { ...base, HOME, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const FAKE_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test' };

test('setup --dry-run: prerequisites checked, the bootstrap it would run', () => {
  const result = run('setup', ['staging', '--dry-run'], FAKE_CREDENTIALS);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /dry run \(env staging\): prerequisites met; would run .*cdk bootstrap aws:\/\/unknown-account\/us-east-1/);
});

test('update --dry-run: the bundle given, the template synthesized offline, the deploy it would run', () => {
  const template = path.join(REPO, 'build', 'aws', 'image-flex-prod.template.json');
  fs.rmSync(template, { force: true });
  const result = run('update', ['--dry-run'], { ...FAKE_CREDENTIALS, IF_ENV: 'prod', IMAGEFLEX_BUNDLE: STAND_IN });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /using the bundle IMAGEFLEX_BUNDLE=/);
  assert.match(result.stdout, /dry run \(env prod\): .*cdk deploy --app .*cdk\.out\.prod image-flex-prod/);
  const resources = JSON.parse(fs.readFileSync(template, 'utf8')).Resources;
  assert.ok(Object.values(resources).some((r) => r.Type === 'AWS::CloudFront::Distribution'));
});

test('credentials from ~/.aws count', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'imageflex-aws-home-'));
  fs.mkdirSync(path.join(home, '.aws'));
  fs.writeFileSync(path.join(home, '.aws', 'credentials'), '[default]\naws_access_key_id = x\naws_secret_access_key = y\n');
  const result = run('setup', ['--dry-run'], { HOME: home });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /env dev/);
});

test('missing prerequisites: all of them on one line, nothing run', () => {
  const result = run('update', ['dev', '--dry-run'], { AWS_REGION: 'eu-west-1', IMAGEFLEX_BUNDLE: STAND_IN });
  assert.equal(result.status, 2);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^update: missing: AWS credentials .*; region us-east-1 \(AWS_REGION is eu-west-1;/);
});

test('Node older than 20 is refused', () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'imageflex-old-node-'));
  fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\n[ "$1" = --version ] && echo v18.19.0 || echo 18\n', { mode: 0o755 });
  const result = run('setup', ['--dry-run'], { ...FAKE_CREDENTIALS, PATH: `${bin}:${process.env.PATH}` });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^setup: missing: Node\.js 20\+ \(found: v18\.19\.0\)$/m);
});

test('an unknown environment is refused before anything else, from the argument or IF_ENV', () => {
  for (const [args, env] of [[['qa', '--dry-run'], {}], [['--dry-run'], { IF_ENV: 'production' }]]) {
    const result = run('update', args, { ...FAKE_CREDENTIALS, ...env });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown environment '(qa|production)': use one of dev, staging, prod/);
  }
});
