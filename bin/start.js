#!/usr/bin/env node
'use strict';
// `npm start`: the whole service in one process on 127.0.0.1:5000 (PORT to change it), on an
// embedded PostgreSQL and an in-process broker. Installs what is missing, builds, runs.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
execFileSync(process.execPath, [path.join(__dirname, 'ensure-deps.js')], { stdio: 'inherit' });
execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});
require('./launch')('embedded');
