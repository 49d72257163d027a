/** The config keys of the polite polling layer: atom alias, allowPrivateNetworks, userAgent, hosts, timeouts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { configIssuePaths as issues } from './helpers.js';
import { HostBudget } from '../../sources/hostBudget.js';


describe('polling config', () => {
  it('defaults: private networks refused, 10 s connect timeout, 1 h backoff cap, no host overrides', () => {
    const cfg = resolveConfig({ sources: [{ id: 'fed', kind: 'rss', url: 'https://www.federalreserve.gov/feeds/press_all.xml' }] });
    const s = cfg.sources[0];
    assert.ok(s.kind === 'rss');
    assert.equal(s.allowPrivateNetworks, false);
    assert.equal(cfg.limits.connectTimeout, 10_000);
    assert.equal(cfg.limits.fetchTimeout, 20_000);
    assert.equal(cfg.limits.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(cfg.limits.maxBackoff, 3_600_000);
    assert.deepEqual(cfg.hosts, {});
    assert.equal(cfg.userAgent, undefined);
  });

  it('kind: atom is an alias of rss', () => {
    const cfg = resolveConfig({ sources: [{ id: 'edgar', kind: 'atom', url: 'https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&output=atom', interval: '10m', allowPrivateNetworks: true }] });
    const s = cfg.sources[0];
    assert.equal(s.kind, 'rss');
    assert.ok(s.kind === 'rss' && s.interval === 600_000 && s.allowPrivateNetworks === true);
    assert.deepEqual(issues({ sources: [{ id: 'x', kind: 'atom', url: 'https://a.example/f', typo: 1 }] }), ['sources[0]']);
  });

  it('top-level userAgent and hosts budgets; per-source connectTimeout and userAgent', () => {
    const cfg = resolveConfig({
      userAgent: 'tickerpulse (ops@example.com)',
      hosts: { '*': { maxConcurrent: 2, maxPerSecond: 3 }, 'www.sec.gov': { maxPerSecond: 10 } },
      limits: { connectTimeout: '5s', maxBackoff: '30m' },
      sources: [{ id: 'sec', kind: 'rss', url: 'https://www.sec.gov/news/pressreleases.rss', connectTimeout: '2s', userAgent: 'Example Corp admin@example.com' }],
    });
    assert.equal(cfg.userAgent, 'tickerpulse (ops@example.com)');
    assert.equal(cfg.limits.connectTimeout, 5000);
    assert.equal(cfg.limits.maxBackoff, 1_800_000);
    const s = cfg.sources[0];
    assert.ok(s.kind === 'rss' && s.connectTimeout === 2000 && s.userAgent === 'Example Corp admin@example.com');
    const budget = HostBudget.fromConfig(cfg.hosts);
    assert.deepEqual(budget.limitFor('www.sec.gov'), { maxConcurrent: 2, maxPerSecond: 10 });
    assert.deepEqual(budget.limitFor('feeds.example.com'), { maxConcurrent: 2, maxPerSecond: 3 });
  });

  it('bad values are reported with their paths', () => {
    const paths = issues({
      userAgent: 'bad\r\nX-Injected: 1',
      hosts: { 'https://www.sec.gov/': { maxConcurrent: 1 }, 'ok.example.com': { maxConcurrent: 0, perSecond: 2 } },
      sources: [{ id: 'a', kind: 'rss', url: 'https://a.example/f', allowPrivateNetworks: 'yes', connectTimeout: '1 year' }],
    });
    for (const p of ['userAgent', 'hosts.https://www.sec.gov/', 'hosts.ok.example.com', 'sources[0].allowPrivateNetworks', 'sources[0].connectTimeout']) {
      assert.ok(paths.some((x) => x.startsWith(p)), `${p} in ${JSON.stringify(paths)}`);
    }
  });
});
