import { routePartykitRequest, Server, type Connection, type ConnectionContext, type WSMessage } from "partyserver";

export interface Env {
  Chat: DurableObjectNamespace<Chat>;
}

interface Member {
  user: string;
}

/** A chat room: everyone sees every message but their own. */
export class Chat extends Server<Env> {
  // Sockets stay open while the room sleeps; member names live in each connection's state.
  static options = { hibernate: true };

  getConnectionTags(_connection: Connection, ctx: ConnectionContext) {
    return [new URL(ctx.request.url).searchParams.get("user") ?? "anonymous"];
  }

  onConnect(connection: Connection<Member>, ctx: ConnectionContext) {
    const user = new URL(ctx.request.url).searchParams.get("user") ?? "anonymous";
    connection.setState({ user });
    const online = [...this.getConnections()].length;
    connection.send(JSON.stringify({ type: "welcome", room: this.name, online }));
    this.broadcast(JSON.stringify({ type: "joined", user }), [connection.id]);
  }

  // PartyServer passes the connection first, then the message (PartyKit: message, sender).
  onMessage(sender: Connection<Member>, message: WSMessage) {
    const text = typeof message === "string" ? message : "<binary>";
    if (text.startsWith("/whisper ")) {
      // "/whisper bob hello": every socket of that user, found by the tag set on connect.
      const [, to = "", ...words] = text.split(" ");
      for (const connection of this.getConnections(to)) {
        connection.send(JSON.stringify({ type: "whisper", from: sender.state?.user, text: words.join(" ") }));
      }
      return;
    }
    this.broadcast(JSON.stringify({ type: "say", from: sender.state?.user, text }), [sender.id]);
  }

  onClose(connection: Connection<Member>) {
    this.broadcast(JSON.stringify({ type: "left", user: connection.state?.user }), [connection.id]);
  }

  async onRequest(request: Request) {
    // The room's own HTTP route, unrelated to chat messages: the topic, kept in storage.
    if (request.method === "POST") {
      const topic = await request.text();
      await this.ctx.storage.put("topic", topic);
      this.broadcast(JSON.stringify({ type: "topic", topic }));
      return new Response(`topic set to ${topic}`, { status: 201 });
    }
    return Response.json({ room: this.name, topic: (await this.ctx.storage.get<string>("topic")) ?? "general" });
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const routed = await routePartykitRequest(request, env, {
      // Runs in the Worker, before the request reaches the room.
      onBeforeConnect: (req) => {
        // Anyone may listen in as "anonymous"; a name, when given, must be a plain one.
        const user = new URL(req.url).searchParams.get("user");
        if (user !== null && !/^[a-z0-9_-]{1,32}$/i.test(user)) return new Response("a user name is letters, digits, _ and -", { status: 400 });
      },
      onBeforeRequest: (req) => {
        if (req.method === "POST" && req.headers.get("authorization") !== "Bearer demo") {
          return new Response("forbidden", { status: 403 });
        }
      },
    });
    return routed ?? new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
