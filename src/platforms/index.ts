import { choosePlatform } from "./load-project.js";
import type { Platform } from "../core/platform.js";
import type { Disk } from "../core/read-file.js";
import { disk as realDisk } from "../infra/disk.js";
import type { PlatformAdapter, PlatformProject } from "./adapter.js";

export type { InitIo, InitRequest, PlatformProject, VerifyTarget } from "./adapter.js";

// Each loaded only when its platform is the project's, so a command pays for one platform's code.
const ADAPTERS: Record<Platform, () => Promise<PlatformAdapter>> = {
  partykit: async () => (await import("./partykit/adapter.js")).partykit,
  partyserver: async () => (await import("./partyserver/adapter.js")).partyserver,
};

/**
 * The project from `cwd`, read by its platform's adapter: the platform is told by the config
 * found (or --config's name), `platform` breaks a tie. Bad input names what was found. Every
 * read of the project, by the commands' planners too, goes through `disk`: the real one unless
 * a test gives another.
 */
export async function openProject(cwd: string, options: { config?: string; platform?: Platform }, disk: Disk = realDisk): Promise<PlatformProject> {
  const platform = await choosePlatform(disk, cwd, options);
  return (await ADAPTERS[platform]()).load(cwd, options.config, disk);
}
