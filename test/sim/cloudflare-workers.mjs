// `cloudflare:workers` in the simulation (Node has no such module): PartyServer's Server extends
// DurableObject, which keeps the object's state and env, and reads the Worker's env here.
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
export const env = {};
