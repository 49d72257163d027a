/**
 * DNS-rebinding guard. A server on loopback without a token trusts whoever can reach it, which a
 * web page can turn into "anyone": it points its own name (evil.example) at 127.0.0.1 and its
 * scripts then talk to us as same-origin, with `Host: evil.example:PORT`. Browsers always send
 * the name they resolved, so on such a server only our own names are accepted in Host:
 * localhost, 127.0.0.1, [::1], the bind address and `server.allowedHosts`, with our port.
 * With a token (or off loopback, which requires one) the token is the guard and Host is not checked.
 */
import { isLoopbackHost } from './auth.js';

export class HostCheck {
  private readonly names: Set<string>;

  constructor(
    bindHost: string,
    private readonly port: () => number,
    extra: readonly string[] = [],
  ) {
    this.names = new Set(['localhost', '127.0.0.1', '[::1]', bracket(bindHost), ...extra.map(bracket)].map((h) => h.toLowerCase()));
  }

  /** Whether Host checking applies: a loopback bind without a token. */
  static needed(bindHost: string, token: string | undefined): boolean {
    return token === undefined && isLoopbackHost(bindHost);
  }

  /** True for an acceptable Host header (absent: not a browser, so not a rebinding attack). */
  allows(host: string | undefined): boolean {
    if (host === undefined) return true;
    const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
    if (!m) return false;
    const port = m[2] === undefined ? 80 : Number(m[2]);
    return this.names.has(m[1].toLowerCase()) && port === this.port();
  }
}

function bracket(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}
