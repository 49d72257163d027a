/**
 * What `npm start` monitors with no config file: public financial news feeds that answer
 * without keys wherever there is internet. Intervals are polite (each publisher is polled
 * every 5-15 minutes at most).
 */
export const DEFAULT_SOURCES = [
  { id: 'fed-press', kind: 'rss', url: 'https://www.federalreserve.gov/feeds/press_all.xml', interval: '10m' },
  { id: 'ecb-press', kind: 'rss', url: 'https://www.ecb.europa.eu/rss/press.html', interval: '15m' },
  { id: 'sec-press', kind: 'rss', url: 'https://www.sec.gov/news/pressreleases.rss', interval: '15m' },
  {
    id: 'sec-8k-filings',
    kind: 'rss',
    url: 'https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&type=8-K&company=&dateb=&owner=include&start=0&count=40&output=atom',
    interval: '10m',
  },
  { id: 'cnbc-top-news', kind: 'rss', url: 'https://search.cnbc.com/rs/search/combinedcms/view.xml?partnerId=wrss01&id=100003114', interval: '5m' },
  { id: 'marketwatch-top', kind: 'rss', url: 'https://feeds.content.dowjones.io/public/rss/mw_topstories', interval: '5m' },
  { id: 'yahoo-finance', kind: 'rss', url: 'https://finance.yahoo.com/news/rssindex', interval: '5m' },
  { id: 'nasdaq-markets', kind: 'rss', url: 'https://www.nasdaq.com/feed/rssoutbound?category=Markets', interval: '10m' },
] as const;
