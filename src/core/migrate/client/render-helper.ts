import { renderTemplate } from "../../render-template.js";

/** The client helper module migrate writes once, next to the files that use it. */
export function renderHelper(options: { routerParty: string }): string {
  return renderTemplate("client-helper.ts", { routerParty: options.routerParty });
}
