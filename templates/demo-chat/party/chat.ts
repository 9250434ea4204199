import type * as Party from "partykit/server";

/** A chat room: everyone sees every message but their own. */
export default class Chat implements Party.Server {
  topic = "general";

  constructor(readonly room: Party.Room) {}

  onConnect(connection: Party.Connection) {
    connection.send(JSON.stringify({ type: "welcome", room: this.room.id, topic: this.topic }));
  }

  onMessage(message: string | ArrayBuffer, sender: Party.Connection) {
    const text = typeof message === "string" ? message : `<${message.byteLength} bytes>`;
    this.room.broadcast(JSON.stringify({ type: "say", from: sender.id, text }), [sender.id]);
  }

  async onRequest(req: Party.Request) {
    // The room's own POST route, unrelated to chat messages.
    if (req.method === "POST" && new URL(req.url).pathname.endsWith("/topic")) {
      this.topic = await req.text();
      return new Response(`topic set to ${this.topic}`, { status: 201 });
    }
    return Response.json({ topic: this.topic });
  }
}
