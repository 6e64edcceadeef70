'use strict';
// Runs a compiled entry point from dist/, telling how to build it when it is missing.
const path = require('node:path');
const fs = require('node:fs');

module.exports = function launch(entry) {
  const file = path.join(__dirname, '..', 'dist', 'bin', 'cli', `${entry}.js`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`odcs: ${path.relative(process.cwd(), file)} is missing; run "npm ci && npm run build" first.\n`);
    process.exit(1);
  }
  require(file);
};
