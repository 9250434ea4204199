import PartySocket from "partysocket";

/**
 * Joins a chat room as `user`; `say` sends to everyone else in it.
 * @param {{ host: string, room: string, user: string, WebSocket?: unknown, onEvent?: (event: any) => void }} options
 */
export function joinChat(options) {
  const socket = new PartySocket({
    host: options.host,
    party: "chat",
    room: options.room,
    query: { user: options.user },
    // Node has no WebSocket of its own: pass the `ws` package (browsers need nothing).
    WebSocket: options.WebSocket,
  });
  socket.addEventListener("message", (event) => options.onEvent?.(JSON.parse(String(event.data))));
  return {
    socket,
    say(text) {
      socket.send(text);
    },
    leave() {
      socket.close();
    },
  };
}
