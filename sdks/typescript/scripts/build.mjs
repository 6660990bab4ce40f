// Builds dist/esm (ES modules), dist/cjs (CommonJS) and dist/types (declarations) with tsc.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = (...args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });
tsc('-p', 'tsconfig.json');
tsc('-p', 'tsconfig.cjs.json');
// Files under dist/cjs are CommonJS although the package is "type": "module".
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
