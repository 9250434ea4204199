import type { RoomStorage } from "../../src/runtime/host.js";

/** A room's storage in memory, as the runtime's tests need it: values copied in and out, as a Durable Object's are. */
export function memoryStorage(): RoomStorage & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async <T>(key: string) => structuredClone(map.get(key)) as T | undefined,
    put: async (key, value) => void map.set(key, structuredClone(value)),
    delete: async (keys) => [keys].flat().forEach((key) => map.delete(key)),
    list: async <T>({ prefix }: { prefix: string }) => new Map([...map].filter(([key]) => key.startsWith(prefix))) as Map<string, T>,
  };
}
