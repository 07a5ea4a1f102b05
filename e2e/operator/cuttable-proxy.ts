/**
 * A loopback TCP proxy that can be cut (every connection reset, new ones refused) and opened again on the same port:
 * a network partition between one client (say the operator, through its kubeconfig) and a server, while everyone
 * else still reaches the server directly.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  private readonly target: { host: string; port: number };

  constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  /** Listens (on `port`, or a free one the first time). */
  async open(port = this.port): Promise<void> {
    const server = createServer((s) => {
      const up = connect(this.target.port, this.target.host);
      this.sockets.add(s);
      this.sockets.add(up);
      s.pipe(up).pipe(s);
      const close = () => {
        s.destroy();
        up.destroy();
        this.sockets.delete(s);
        this.sockets.delete(up);
      };
      s.on('error', close).on('close', close);
      up.on('error', close).on('close', close);
    });
    this.server = server;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(port, '127.0.0.1', () => res());
    });
    this.port = (server.address() as { port: number }).port;
  }

  /** Resets every connection and stops listening. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((res) => (server ? server.close(() => res()) : res()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }
}
