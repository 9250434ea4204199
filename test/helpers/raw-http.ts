import net from "node:net";
import WebSocket from "ws";
import { until } from "./wait.js";

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/**
 * Sends bytes fetch and node:http refuse to send (both Content-Length and Transfer-Encoding, a
 * POST asking for an upgrade) and reads the answer. `head` is the request line and headers,
 * without the blank line; `writeBody` may write any framing it likes after it.
 */
export function rawRequest(host: string, head: string, writeBody?: (socket: net.Socket) => void | Promise<void>, timeoutMs = 10_000): Promise<RawAnswer> {
  const [hostname, port] = host.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let data = "";
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const answer = parseAnswer(data);
      if (answer) resolve(answer);
      else reject(error ?? new Error(`no HTTP answer: ${JSON.stringify(data.slice(0, 200))}`));
    };
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      data += chunk;
      if (isComplete(data)) finish();
    });
    // The server may answer and hang up while the body is still being written.
    socket.on("error", () => finish());
    socket.on("close", () => finish());
    socket.on("connect", () => {
      socket.write(`${head}\r\n\r\n`);
      void writeBody?.(socket);
    });
  });
}

/**
 * Writes `total` bytes of `byte` in HTTP/1.1 chunks of `size`, then the last chunk, one chunk
 * at a time. It stops once the server has answered or hung up: a server that refuses a body
 * (413) answers and closes mid-body, and writing on would have the connection reset under an
 * answer not yet read (the test then saw no answer at all, on a busy machine).
 */
export async function writeChunked(socket: net.Socket, total: number, size = 64 * 1024, byte = "x"): Promise<void> {
  for (let sent = 0; sent < total; sent += size) {
    if (socket.destroyed || socket.bytesRead > 0) return;
    const length = Math.min(size, total - sent);
    await new Promise<void>((flushed) => socket.write(`${length.toString(16)}\r\n${byte.repeat(length)}\r\n`, () => flushed()));
  }
  if (!socket.destroyed && socket.bytesRead === 0) socket.write("0\r\n\r\n");
}

function parseAnswer(data: string): RawAnswer | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  if (!match) return undefined;
  const end = data.indexOf("\r\n\r\n");
  const head = end === -1 ? data : data.slice(0, end);
  return { status: Number(match[1]), head, body: end === -1 ? "" : decodeBody(head, data.slice(end + 4)) };
}

function isComplete(data: string): boolean {
  const end = data.indexOf("\r\n\r\n");
  if (end === -1) return false;
  const head = data.slice(0, end);
  const rest = data.slice(end + 4);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return Buffer.byteLength(rest, "latin1") >= Number(length[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return rest.includes("0\r\n\r\n");
  return false;
}

function decodeBody(head: string, rest: string): string {
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return Buffer.from(rest, "latin1").toString("utf8");
  let body = "";
  for (let at = 0; at < rest.length; ) {
    const lineEnd = rest.indexOf("\r\n", at);
    const size = Number.parseInt(rest.slice(at, lineEnd), 16);
    if (!(size > 0)) break;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.from(body, "latin1").toString("utf8");
}

type Closed = { code: number; reason: string };
export type Attempt =
  | { refused: true; status: number; body: string }
  | { refused: false; socket: WebSocket; inbox: string[]; closedByServer(timeoutMs: number): Promise<Closed | undefined> };

/**
 * A raw WebSocket handshake: the refusal's status and body, or the open socket and what it
 * receives. A handshake with no answer within `timeoutMs` rejects (the socket is dropped).
 */
export function wsAttempt(url: string, timeoutMs = 60_000): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer to the WebSocket handshake of ${url.slice(0, 120)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("close", () => clearTimeout(timer));
    socket.once("upgrade", () => clearTimeout(timer));
    socket.once("unexpected-response", () => clearTimeout(timer));
    const inbox: string[] = [];
    socket.on("message", (data) => inbox.push(String(data)));
    const closed = new Promise<Closed>((done) => socket.once("close", (code, reason) => done({ code, reason: String(reason) })));
    // partykit dev sends the close frame at once but keeps the TCP connection, and ws reports
    // the close only when that ends: a socket that left OPEN by itself has the server's frame.
    const closedByServer = async (timeoutMs: number) => {
      await until(() => socket.readyState !== WebSocket.OPEN, timeoutMs);
      if (socket.readyState === WebSocket.OPEN) return undefined;
      socket.terminate();
      return closed;
    };
    socket.once("unexpected-response", (req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        req.destroy();
        resolve({ refused: true, status: res.statusCode ?? 0, body });
      });
    });
    socket.once("open", () => resolve({ refused: false, socket, inbox, closedByServer }));
    socket.on("error", (error) => reject(error));
  });
}

/** `opened` if a WebSocket handshake succeeded, `refused <status>` if answered without one, `no answer`, or the error. */
export function handshakeOutcome(url: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.terminate();
      resolve("no answer");
    }, timeoutMs);
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    socket.on("open", () => {
      socket.close();
      done("opened");
    });
    socket.on("unexpected-response", (_request, response) => {
      response.resume();
      socket.terminate();
      done(`refused ${response.statusCode}`);
    });
    socket.on("error", (error) => done(`error ${error.message}`));
  });
}

/**
 * After a request whose body the Worker left unread (a refusal), wrangler dev's proxy sometimes
 * answers the next request itself, 503 "Your worker restarted mid-request", before the Worker
 * sees it, even twice in a row (docs/security.md): asked again, up to three times. Only for
 * requests that may run twice, or carry the key that makes a repeat run once.
 */
export async function pastProxyRestarts<A extends { status: number; body: string } | undefined>(ask: () => Promise<A>): Promise<A> {
  let answer = await ask();
  for (let again = 0; again < 3 && answer?.status === 503 && answer.body.startsWith("Your worker restarted mid-request"); again++) answer = await ask();
  return answer;
}
