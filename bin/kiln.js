#!/usr/bin/env node
// The CLI runs compiled JavaScript only (npm run build); no TypeScript loader at run time.
import('../dist/src-main/cli/main.js')
  .then((cli) => cli.main(process.argv.slice(2)))
  .then((code) => { process.exitCode = code; })
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src-main')) {
      console.error('kiln: not built yet — run `npm run build` first');
      process.exitCode = 2;
      return;
    }
    console.error(`kiln: ${err && err.message ? err.message : err}`);
    if (process.env.KILN_DEBUG === '1' && err && err.stack) console.error(err.stack); // the stack only when asked for
    process.exitCode = 70;
  });
