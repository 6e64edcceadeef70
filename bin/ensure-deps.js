#!/usr/bin/env node
'use strict';
// Makes sure what the service (or, with --for-tests, the test suite) needs is installed:
// node modules, and system tools from the distribution's packages. Installs them when it can
// (root on Debian/Ubuntu or Fedora/RHEL); otherwise prints the exact command and fails.
// Plain JavaScript with no dependencies, because it runs before `npm ci`.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

// [command, Debian package, Fedora package]
const RUNTIME_TOOLS = [
  ['createrepo_c', 'createrepo-c', 'createrepo_c'],
  ['modifyrepo_c', 'createrepo-c', 'createrepo_c'],
  ['mergerepo_c', 'createrepo-c', 'createrepo_c'],
  ['rpm', 'rpm', 'rpm'],
];
const TEST_TOOLS = [
  ['rpmbuild', 'rpm', 'rpm-build'],
  ['rpmsign', 'rpm', 'rpm-sign'],
  ['gpg', 'gnupg', 'gnupg2'],
  ['dnf', 'dnf', 'dnf'],
  ['testsolv', 'libsolv-tools', 'libsolv-tools'],
  ['installcheck', 'libsolv-tools', 'libsolv-tools'],
  ['modulemd-validator', 'libmodulemd-tools', 'libmodulemd'],
  ['xorriso', 'xorriso', 'xorriso'],
  ['zstd', 'zstd', 'zstd'],
  ['xz', 'xz-utils', 'xz'],
  ['docker-compose', 'docker-compose', 'docker-compose'],
  ['nginx', 'nginx-light', 'nginx'],
  // Authentication tests (issue 11): a real MIT KDC, slapd and a throwaway CA.
  ['krb5kdc', 'krb5-kdc', 'krb5-server'],
  ['kdb5_util', 'krb5-kdc', 'krb5-server'],
  ['kadmin.local', 'krb5-admin-server', 'krb5-server'],
  ['kinit', 'krb5-user', 'krb5-workstation'],
  // The headers the `kerberos` npm package (an optionalDependency) builds against.
  ['krb5-config', 'libkrb5-dev', 'krb5-devel'],
  ['slapd', 'slapd', 'openldap-servers'],
  ['slapadd', 'slapd', 'openldap-servers'],
  ['ldapadd', 'ldap-utils', 'openldap-clients'],
  ['openssl', 'openssl', 'openssl'],
  ['curl', 'curl', 'curl'],
];

function onPath(cmd) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, env) {
  process.stderr.write(`+ ${cmd} ${args.join(' ')}\n`);
  execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
}

function ensureNodeModules() {
  if (fs.existsSync(path.join(root, 'node_modules', 'typescript', 'package.json'))) return;
  const lock = fs.existsSync(path.join(root, 'package-lock.json'));
  run('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund'], {});
}

function ensureTools(tools) {
  const missing = tools.filter(([cmd]) => !onPath(cmd));
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const debs = [...new Set(missing.map((t) => t[1]))];
  const rpms = [...new Set(missing.map((t) => t[2]))];
  if (onPath('apt-get')) {
    const install = ['install', '-y', '--no-install-recommends', ...debs];
    if (isRoot) {
      run('apt-get', ['update', '-qq'], {});
      run('apt-get', install, { DEBIAN_FRONTEND: 'noninteractive' });
      return;
    }
    fail(`sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get ${install.join(' ')}`, missing);
  } else if (onPath('dnf')) {
    const install = ['install', '-y', ...rpms];
    if (isRoot) {
      run('dnf', install, {});
      return;
    }
    fail(`sudo dnf ${install.join(' ')}`, missing);
  } else {
    fail(`install these with your package manager: ${debs.join(' ')} (Debian names)`, missing);
  }
}

function fail(command, missing) {
  process.stderr.write(
    `\nodcs needs ${missing.map((t) => t[0]).join(', ')} and cannot install them itself.\nRun:\n\n  ${command}\n\nthen try again.\n`,
  );
  process.exit(1);
}

/**
 * The `kerberos` binding is an optionalDependency compiled from source against libkrb5's headers:
 * when `npm ci` ran before libkrb5-dev was installed, it was skipped, so build it now.
 */
function ensureKerberosBinding() {
  const loads = spawnSync(process.execPath, ['-e', 'require("kerberos")'], { cwd: root, stdio: 'ignore' }).status === 0;
  if (loads) return;
  if (fs.existsSync(path.join(root, 'node_modules', 'kerberos', 'package.json'))) {
    run('npm', ['rebuild', 'kerberos'], {});
  } else {
    // npm drops an optional dependency that failed to build: install the version package.json names.
    const spec = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).optionalDependencies.kerberos;
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund', `kerberos@${spec}`], {});
  }
}

const forTests = process.argv.includes('--for-tests');
ensureNodeModules();
ensureTools(forTests ? [...RUNTIME_TOOLS, ...TEST_TOOLS] : RUNTIME_TOOLS);
if (forTests) ensureKerberosBinding();
