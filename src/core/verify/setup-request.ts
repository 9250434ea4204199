import { PartyShardError, type SourceLocation } from "../../errors.js";

/**
 * A request verify sends before its clients connect, so that an app which needs some state
 * first (a poll created by a POST) has it: `POST /parties/main/{room} {"title":"Lunch?"}`.
 * `{room}` becomes the probe's room, in the path and in the body.
 */
export interface SetupRequest {
  method: string;
  /** The party the path names (its URL name). */
  party: string;
  /** The path after `/parties/<party>/`, with its query: `{room}`, `{room}/polls?x=1`. */
  rest: string;
  body: string;
  /** Headers to send with it (an app's auth, say): from the config file's object form, or --setup-header. */
  headers: Record<string, string>;
  /** Where it was given, for messages: `--setup #1`, `party-shard.verify.json setup[0]`. */
  source: string;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
export const ROOM_PLACEHOLDER = "{room}";
export const SETUP_EXAMPLE = `--setup 'POST /parties/main/{room} {"title":"Lunch?","options":["pizza","sushi"]}'`;

/** The parties a setup request may name, and which one is sharded (the router passes POST only on to it). */
export interface SetupParties {
  known: string[];
  sharded: string;
  router: string;
}

/** `METHOD /parties/<party>/<path> [body]`, checked strictly: anything else is bad input naming where and why. */
export function parseSetupLine(line: string, source: string, parties: SetupParties, location?: SourceLocation): SetupRequest {
  const match = /^\s*(\S+)\s+(\S+)(?:\s+([\s\S]*))?$/.exec(line);
  if (!match) fail(source, `expected "METHOD /parties/<party>/{room} [body]", got ${quote(line)}`, location);
  return checkRequest({ method: match[1]!, path: match[2]!, body: match[3]?.trim() ?? "" }, source, parties, location);
}

/** The config file's object form: `{ "method": "POST", "path": "/parties/main/{room}", "body": {…} }`. */
export function checkRequest(request: { method: string; path: string; body: string; headers?: Record<string, string> }, source: string, parties: SetupParties, location?: SourceLocation): SetupRequest {
  const { method, path, body, headers = {} } = request;
  if (!METHODS.includes(method)) fail(source, `the method must be one of ${METHODS.join(", ")} (upper case); got ${quote(method)}`, location);
  const parts = /^\/parties\/([^/?#]+)\/([^?#]+(?:\?[^#]*)?)$/.exec(path);
  if (!parts) fail(source, `the path must be /parties/<party>/<room>[/…][?…], where <room> is usually {room}; got ${quote(path)}`, location);
  const [, party, rest] = parts;
  if (party === parties.router) {
    fail(source, `name the party itself, not the router "${party}": verify sends it through the router in the sharded run and straight to the room in the unsharded one`, location);
  }
  if (!parties.known.includes(party!)) fail(source, `"${party}" is not a party of this project (parties: ${parties.known.join(", ")})`, location);
  if (party === parties.sharded && method !== "POST" && method !== "GET") {
    fail(source, `the router passes only GET and POST on to the room of "${party}"; got ${method}`, location);
  }
  if (body !== "" && method === "GET") fail(source, "a GET has no body", location);
  if (/^\s*[[{]/.test(body)) {
    try {
      JSON.parse(body.replaceAll(ROOM_PLACEHOLDER, "room"));
    } catch (error) {
      fail(source, `the body looks like JSON but is not: ${(error as Error).message}`, location);
    }
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || /[\r\n]/.test(value)) fail(source, `the header ${quote(`${name}: ${value}`)} is not a valid HTTP header`, location);
  }
  return { method, party: party!, rest: rest!, body, headers, source };
}

/** The request's path for one room, with another party in place of its own (the router, in the sharded run). */
export function setupPath(request: SetupRequest, room: string, party = request.party): string {
  return `/parties/${party}/${request.rest.replaceAll(ROOM_PLACEHOLDER, room)}`;
}

export function setupBody(request: SetupRequest, room: string): string {
  return request.body.replaceAll(ROOM_PLACEHOLDER, room);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `--setup-header 'authorization: Bearer x'`, sent with every setup request. */
export function parseSetupHeader(text: string, source: string): [string, string] {
  const match = /^([^:\s]+):\s*(.*)$/.exec(text);
  if (!match || !HEADER_NAME.test(match[1]!) || /[\r\n]/.test(match[2]!)) {
    throw new PartyShardError(`${source}: expected "name: value", got ${quote(text)}.`, { hint: "Example: --setup-header 'authorization: Bearer <token>'" });
  }
  return [match[1]!.toLowerCase(), match[2]!];
}

function fail(source: string, why: string, location?: SourceLocation): never {
  throw new PartyShardError(`${source}: ${why}.`, { location, hint: `Example: ${SETUP_EXAMPLE} (repeat --setup for several, sent in order).` });
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
