import net from "node:net";

export interface DelayProxy {
  /** `127.0.0.1:<port>`: connect here instead of the target. */
  host: string;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback that holds every chunk `delayMs` before passing it on, in each
 * direction: a round trip through it costs 2 × delayMs, as over a real network. Chunks keep
 * their order (timers of one duration fire in the order they were set), and an end waits
 * behind the data before it.
 */
export async function startDelayProxy(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipeLate(client, upstream, delayMs);
    pipeLate(upstream, client, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function pipeLate(from: net.Socket, to: net.Socket, delayMs: number): void {
  from.on("data", (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
  from.on("end", () => setTimeout(() => to.end(), delayMs));
}
