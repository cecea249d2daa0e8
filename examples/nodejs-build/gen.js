// Runs in `npm run build` after esbuild: writes public/index.html around the bundle.
// The page says whether esbuild's postinstall ran: `node install.js` replaces the JS shim
// bin/esbuild with the native binary of @esbuild/linux-x64 (an ELF file).
const fs = require('fs');
const path = require('path');

const bundle = fs.readFileSync(path.join(__dirname, 'public/app.js'));
const shim = fs.readFileSync(require.resolve('esbuild/bin/esbuild')).subarray(0, 4);
const postinstall = shim.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) ? 'ran' : 'did not run';
const page = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>kiln nodejs-build</title></head>
<body>
<p id="greeting">built by kiln nodejs-build</p>
<p>bundle: ${bundle.length} bytes; esbuild postinstall: ${postinstall}</p>
<script src="app.js"></script>
</body>
</html>
`;
fs.writeFileSync(path.join(__dirname, 'public/index.html'), page);
console.log(`gen.js: public/index.html written (esbuild postinstall: ${postinstall})`);
