import type { PackageFiles } from "../../package-info.js";
import { renderTemplate } from "../../render-template.js";
import { runtimeSpecifier, type RuntimeMode } from "../../runtime-files.js";

/** The client helper module migrate writes once per package, next to the files that use it. */
export function renderHelper(options: { routerParty: string; mode: RuntimeMode }, own: PackageFiles): string {
  return renderTemplate(own, "client-helper.ts", {
    runtimeImport: runtimeSpecifier("client", options.mode),
    routerPartyLiteral: JSON.stringify(options.routerParty),
    routerParty: options.routerParty,
  });
}
