// A module resolution hook (node:module register): `cloudflare:workers` is the simulation's own.
export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: new URL("./cloudflare-workers.mjs", import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
