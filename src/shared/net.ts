import net from 'node:net';

/** A TCP port free on loopback right now (the OS picks it), for a server started next: tests, scripts, the embedded PostgreSQL of a run. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
