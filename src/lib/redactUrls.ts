/**
 * URLs inside an error message, made fit for unauthenticated readers (/healthz, the dashboard):
 * credentials and the query string go (API keys often travel as `?apikey=…`), the scheme, host
 * and path stay (what an operator needs to recognise the feed). The log keeps the full message.
 */
export function redactUrls(text: string): string {
  return text.replace(/\b(?:https?|wss?):\/\/[^\s"'<>]+/gi, (raw) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return raw;
    }
    const hadQuery = u.search !== '' || u.hash !== '';
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href + (hadQuery ? '?…' : '');
  });
}
