export function greeting(name) {
  return `Hello from ${name}, bundled by esbuild`;
}
