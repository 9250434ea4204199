import { PartyShardError } from "../../errors.js";
import type { LoadedConfig } from "../config/load-config.js";
import { isGeneratedRouter } from "../init/render-router.js";
import type { ReadFile } from "../init/plan-init.js";

export interface RouterSetup {
  /** The router's party name, as in the config. */
  routerParty: string;
  /** Root-relative path of the router file. */
  routerFile: string;
  shardedParty: string;
  /** Root-relative path of the sharded party's file. */
  partyFile: string;
}

/** Reads back what `init` set up: the router party and the party it shards. */
export async function findRouter(loaded: LoadedConfig, read: ReadFile): Promise<RouterSetup> {
  for (const [routerParty, file] of Object.entries(loaded.config.parties)) {
    const routerFile = file.replace(/^\.\//, "");
    const text = await read(routerFile);
    if (text === null || !isGeneratedRouter(text)) continue;
    const shardedParty = /const SHARDED_PARTY = "([^"]+)"/.exec(text)?.[1];
    if (!shardedParty) continue;
    const partyFile = (shardedParty === "main" ? loaded.config.main : loaded.config.parties[shardedParty])?.replace(/^\.\//, "");
    if (!partyFile) {
      throw new PartyShardError(`The router ${routerFile} shards "${shardedParty}", which is not a party in ${loaded.file}.`, {
        location: { file: routerFile },
        hint: "Run `npx party-shard init --force` to regenerate the router.",
      });
    }
    return { routerParty, routerFile, shardedParty, partyFile };
  }
  throw new PartyShardError(`No party-shard router in ${loaded.file}: run \`npx party-shard init\` first.`, {
    location: { file: loaded.file },
  });
}
