import PartySocket from "partysocket";

export interface Said {
  from: string;
  text: string;
}

export interface JoinOptions {
  host: string;
  room: string;
  /** A WebSocket implementation, for Node (browsers have their own). */
  WebSocket?: unknown;
  onSay?: (said: Said) => void;
}

/** Joins a chat room; `say` sends to everyone else in it. */
export function joinChat(options: JoinOptions) {
  const socket = new PartySocket({ host: options.host, room: options.room, WebSocket: options.WebSocket });
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(String(event.data));
    if (data.type === "say") options.onSay?.({ from: data.from, text: data.text });
  });
  return {
    socket,
    say(text: string) {
      socket.send(text);
    },
    leave() {
      socket.close();
    },
  };
}
