/**
 * Hand-kept nicknames of household-name companies, and the false-positive rules of names that
 * are ordinary words. Compiled into data/tickers/dictionary.json by `npm run tickers`
 * (src/tickers/buildDictionary.ts); the linker (workers/tickerLinker.ts) reads only the dictionary.
 *
 * `mode`: `common` = an ordinary word (needs capitalization mid-sentence, finance context or a
 * company verb); `context` = needs finance context or a company verb (capitalization is no
 * evidence: Harrison Ford, the county of Berkshire). `context` words count as finance context for
 * that alias only. `notBefore` / `notAfter` phrases veto a match ("share to Facebook").
 * Symbols are canonical (`BRK.B`); a nickname whose symbol is not in the SEC list is skipped
 * with a warning by the build.
 */
import type { AliasRule } from '../../workers/tickerLinker.js';

export interface HandAlias extends AliasRule {
  symbol: string;
  aliases: string[];
}

/**
 * Symbols a company is still quoted under in news and posts but that the SEC list does not carry
 * for it: former tickers (FB → META) and Block's XYZ (Block moved from SQ to XYZ in January 2025;
 * the SEC file used here still lists SQ, which stays the canonical symbol).
 */
export const EXTRA_SYMBOLS: Record<string, string> = { FB: 'META', XYZ: 'SQ' };

export const HAND_ALIASES: HandAlias[] = [
  // Alphabet: GOOGL (class A) is the primary symbol; GOOG links to it (one company, one symbol).
  { symbol: 'GOOGL', aliases: ['Alphabet', 'Google'] },
  { symbol: 'META', aliases: ['Meta Platforms'] },
  {
    symbol: 'META',
    aliases: ['Meta'],
    mode: 'common',
    context: ['facebook', 'instagram', 'whatsapp', 'zuckerberg', 'metaverse', 'llama', 'threads', 'oculus', 'ai'],
    notBefore: ['the'],
    notAfter: ['analysis', 'data', 'description', 'tag', 'tags'],
  },
  {
    symbol: 'META',
    aliases: ['Facebook'],
    notBefore: ['share to', 'share on', 'share via', 'on', 'via', 'to', 'follow us on', 'like us on', 'find us on', 'join us on'],
    notAfter: ['page', 'post', 'posts', 'group', 'groups', 'live', 'login', 'account', 'comments', 'twitter', 'share'],
  },
  { symbol: 'BRK.B', aliases: ['Berkshire Hathaway'] },
  { symbol: 'BRK.B', aliases: ['Berkshire'], mode: 'context', context: ['buffett', 'abel', 'munger', 'conglomerate', 'omaha'] },
  { symbol: 'JPM', aliases: ['JPMorgan', 'JP Morgan', 'J.P. Morgan', 'JPMorgan Chase', 'JPMorganChase'] },
  { symbol: 'KO', aliases: ['Coca-Cola', 'Coca Cola', 'CocaCola'] },
  { symbol: 'KO', aliases: ['Coke'], mode: 'context', context: ['pepsi', 'pepsico', 'soda', 'beverage', 'beverages', 'bottler', 'drinks', 'drinkmaker'] },
  { symbol: 'XOM', aliases: ['Exxon', 'ExxonMobil', 'Exxon Mobil'] },
  { symbol: 'WMT', aliases: ['Walmart', 'Wal-Mart'] },
  { symbol: 'DIS', aliases: ['Disney', 'Walt Disney'] },
  { symbol: 'NVDA', aliases: ['Nvidia'] },
  { symbol: 'TSLA', aliases: ['Tesla'] },
  { symbol: 'COST', aliases: ['Costco'] },
  { symbol: 'GS', aliases: ['Goldman Sachs', 'Goldman'] },
  { symbol: 'MS', aliases: ['Morgan Stanley'] },
  { symbol: 'BA', aliases: ['Boeing'] },
  { symbol: 'PFE', aliases: ['Pfizer'] },
  { symbol: 'NFLX', aliases: ['Netflix'] },
  {
    symbol: 'AMZN',
    aliases: ['Amazon', 'Amazon.com'],
    notAfter: ['river', 'rainforest', 'rain forest', 'basin', 'jungle', 'forest', 'forests', 'tribe', 'tribes', 'region', 'deforestation', 'fires', 'wildfires'],
  },
  { symbol: 'AMZN', aliases: ['Amazon Web Services', 'AWS'] },
  { symbol: 'MSFT', aliases: ['Microsoft'] },
  {
    symbol: 'AAPL',
    aliases: ['Apple'],
    mode: 'common',
    context: ['iphone', 'iphones', 'ipad', 'mac', 'macbook', 'ios', 'airpods', 'cupertino', 'siri', 'itunes', 'cook', 'vision', 'app'],
    notAfter: ['pie', 'pies', 'juice', 'cider', 'orchard', 'orchards', 'tree', 'trees', 'sauce', 'crumble', 'picking', 'growers', 'harvest', 'crop', 'crops', 'farmers', 'farm', 'farms', 'variety', 'varieties'],
  },
  { symbol: 'INTC', aliases: ['Intel'] },
  { symbol: 'AMD', aliases: ['AMD', 'Advanced Micro Devices'] },
  { symbol: 'IBM', aliases: ['IBM'] },
  { symbol: 'ORCL', aliases: ['Oracle'], mode: 'common', context: ['database', 'cloud', 'ellison', 'java', 'software', 'openai', 'tiktok'] },
  { symbol: 'CRM', aliases: ['Salesforce'] },
  {
    symbol: 'V',
    aliases: ['Visa'],
    mode: 'common',
    context: ['payments', 'payment', 'card', 'cards', 'mastercard', 'fintech', 'transactions', 'swipe'],
    notBefore: ['student', 'work', 'h 1b', 'h1b', 'golden', 'travel', 'tourist', 'entry', 'investor', 'investment', 'transit', 'exit', 'free'],
    notAfter: ['applications', 'application', 'rules', 'program', 'programme', 'holders', 'holder', 'fee', 'fees', 'waiver', 'requirements', 'policy', 'restrictions', 'ban', 'free', 'applicants', 'system', 'process', 'lottery'],
  },
  { symbol: 'MA', aliases: ['Mastercard', 'MasterCard'] },
  {
    symbol: 'TGT',
    aliases: ['Target'],
    mode: 'common',
    context: ['retailer', 'walmart', 'stores', 'shoppers', 'cornell'],
    notBefore: ['price', 'inflation', 'rate', 'growth', 'emissions', 'sales', 'earnings', 'profit', 'revenue', 'deficit', 'the', 'a', 'its', 'their', 'new', 'main', 'prime', 'key', 'takeover', 'acquisition'],
    notAfter: ['price', 'prices', 'rate', 'rates', 'range', 'audience', 'audiences', 'date', 'market', 'zone', 'level', 'levels', 'of', 'for', 'company', 'companies', 'group', 'groups'],
  },
  {
    symbol: 'GAP',
    aliases: ['Gap'],
    mode: 'common',
    context: ['old navy', 'navy', 'banana', 'athleta', 'retailer', 'apparel', 'clothing', 'stores'],
    notBefore: ['wage', 'gender', 'pay', 'trade', 'funding', 'output', 'widening', 'yield', 'the', 'a', 'valuation', 'skills', 'wealth', 'price', 'spread', 'financing', 'budget', 'revenue', 'earnings'],
    notAfter: ['between', 'widens', 'narrows', 'year', 'analysis', 'in', 'of', 'up', 'down', 'higher', 'lower', 'fill'],
  },
  {
    symbol: 'SQ',
    aliases: ['Block'],
    mode: 'common',
    context: ['square', 'cash app', 'cashapp', 'dorsey', 'afterpay', 'payments', 'bitcoin', 'fintech'],
    notBefore: ['the', 'a', 'trading', 'city', 'voting', 'building', 'road', 'stumbling', 'eastern', 'western', 'trade', 'to', 'will', 'would', 'could', 'may', 'might'],
    notAfter: ['trade', 'trades', 'party', 'parties', 'chain', 'of', 'sale', 'deal', 'grant', 'grants', 'exemption', 'the', 'a', 'it', 'access', 'tariffs', 'merger', 'deal', 'bid', 'takeover', 'acquisition'],
  },
  { symbol: 'SQ', aliases: ['Block Inc'] },
  { symbol: 'F', aliases: ['Ford Motor', 'Ford Motor Company'] },
  {
    symbol: 'F',
    aliases: ['Ford'],
    mode: 'context',
    context: ['motor', 'cars', 'car', 'vehicles', 'vehicle', 'automaker', 'uaw', 'ev', 'evs', 'f 150', 'mustang', 'gm', 'stellantis', 'dealers', 'trucks', 'farley'],
    notBefore: ['harrison', 'gerald', 'tom', 'henry', 'betty', 'president', 'rob', 'doug', 'premier', 'ontario'],
  },
  {
    symbol: 'SHEL',
    aliases: ['Shell'],
    mode: 'common',
    context: ['oil', 'gas', 'lng', 'energy', 'bp', 'refinery', 'refining', 'barrel', 'barrels', 'crude', 'upstream', 'downstream', 'chemicals', 'petrochemical', 'plant', 'exxon', 'chevron'],
    notBefore: ['the', 'a', 'egg', 'sea', 'turtle', 'artillery', 'mortar', 'tank'],
    notAfter: ['company', 'companies', 'corporation', 'corporations', 'game', 'games', 'shock', 'fire', 'fragments', 'scripting', 'script'],
  },
  { symbol: 'SHEL', aliases: ['Royal Dutch Shell'] },
  { symbol: 'JNJ', aliases: ['Johnson & Johnson', 'J&J'] },
  { symbol: 'PG', aliases: ['Procter & Gamble', 'P&G'] },
  { symbol: 'BAC', aliases: ['Bank of America', 'BofA'] },
  { symbol: 'WFC', aliases: ['Wells Fargo'] },
  { symbol: 'C', aliases: ['Citigroup', 'Citibank'] },
  { symbol: 'C', aliases: ['Citi'], mode: 'common' },
  { symbol: 'MCD', aliases: ["McDonald's", 'McDonalds'] },
  { symbol: 'HD', aliases: ['Home Depot'] },
  { symbol: 'UNH', aliases: ['UnitedHealth', 'UnitedHealthcare'] },
  { symbol: 'CVX', aliases: ['Chevron'] },
  { symbol: 'SBUX', aliases: ['Starbucks'] },
  { symbol: 'NKE', aliases: ['Nike'] },
  { symbol: 'PEP', aliases: ['PepsiCo', 'Pepsi'] },
  { symbol: 'T', aliases: ['AT&T'] },
  { symbol: 'VZ', aliases: ['Verizon'] },
  { symbol: 'CMCSA', aliases: ['Comcast'] },
  { symbol: 'UBER', aliases: ['Uber'] },
  { symbol: 'ABNB', aliases: ['Airbnb'] },
  { symbol: 'PYPL', aliases: ['PayPal'] },
  { symbol: 'AVGO', aliases: ['Broadcom'] },
  { symbol: 'QCOM', aliases: ['Qualcomm'] },
  { symbol: 'CSCO', aliases: ['Cisco'] },
  { symbol: 'ADBE', aliases: ['Adobe'] },
  { symbol: 'LLY', aliases: ['Eli Lilly'] },
  { symbol: 'LLY', aliases: ['Lilly'], mode: 'context', context: ['drug', 'drugmaker', 'mounjaro', 'zepbound', 'obesity', 'weight', 'fda', 'trial', 'pharma'] },
  { symbol: 'MRK', aliases: ['Merck'] },
  { symbol: 'ABBV', aliases: ['AbbVie'] },
  { symbol: 'CAT', aliases: ['Caterpillar'] },
  { symbol: 'GE', aliases: ['General Electric', 'GE Aerospace', 'GE'] },
  { symbol: 'GM', aliases: ['General Motors', 'GM'] },
  { symbol: 'SNAP', aliases: ['Snap'], mode: 'common', context: ['snapchat', 'spiegel', 'social', 'ads', 'advertising', 'users'], notAfter: ['election', 'elections', 'poll', 'decision', 'judgment', 'judgement', 'back', 'shot'] },
  { symbol: 'ZM', aliases: ['Zoom Video', 'Zoom Video Communications'] },
  { symbol: 'ZM', aliases: ['Zoom'], mode: 'common', context: ['video', 'videoconferencing', 'meetings', 'yuan', 'pandemic'], notBefore: ['prices', 'stocks', 'shares', 'yields', 'to'], notAfter: ['in', 'out', 'past', 'higher', 'ahead', 'up', 'call', 'calls', 'meeting', 'meetings', 'lens'] },
  { symbol: 'DAL', aliases: ['Delta'], mode: 'common', context: ['airline', 'airlines', 'flights', 'flight', 'travel', 'bastian', 'carrier', 'passengers', 'jet', 'jets'], notAfter: ['variant', 'force', 'state', 'region', 'smelt', 'hedge', 'hedging', 'neutral', 'wave', 'river', 'of'], notBefore: ['the', 'mekong', 'niger', 'river', 'yangtze', 'pearl'] },
  { symbol: 'CCL', aliases: ['Carnival'], mode: 'common', context: ['cruise', 'cruises', 'ships', 'ship', 'passengers', 'bookings'], notBefore: ['the', 'a', 'rio', 'notting'] },
  { symbol: 'PLTR', aliases: ['Palantir'] },
  { symbol: 'SPOT', aliases: ['Spotify'] },
  { symbol: 'SHOP', aliases: ['Shopify'] },
  { symbol: 'BABA', aliases: ['Alibaba'] },
  { symbol: 'TM', aliases: ['Toyota'] },
  { symbol: 'SONY', aliases: ['Sony'] },
  { symbol: 'MU', aliases: ['Micron'] },
  { symbol: 'MRNA', aliases: ['Moderna'] },
  { symbol: 'DAL', aliases: ['Delta Air Lines', 'Delta Airlines'] },
  { symbol: 'AAL', aliases: ['American Airlines'] },
  { symbol: 'UAL', aliases: ['United Airlines'] },
  { symbol: 'BLK', aliases: ['BlackRock'] },
  { symbol: 'SCHW', aliases: ['Charles Schwab', 'Schwab'] },
  { symbol: 'AXP', aliases: ['American Express', 'Amex'] },
  { symbol: 'LMT', aliases: ['Lockheed Martin', 'Lockheed'] },
  { symbol: 'RTX', aliases: ['Raytheon'] },
  { symbol: 'MMM', aliases: ['3M'] },
  { symbol: 'HON', aliases: ['Honeywell'] },
  { symbol: 'DELL', aliases: ['Dell'] },
  { symbol: 'HPQ', aliases: ['HP Inc', 'HP'] },
  { symbol: 'HOOD', aliases: ['Robinhood'] },
  { symbol: 'COIN', aliases: ['Coinbase'] },
  { symbol: 'RIVN', aliases: ['Rivian'] },
  { symbol: 'HSBC', aliases: ['HSBC'] },
  { symbol: 'AZN', aliases: ['AstraZeneca'] },
  { symbol: 'GSK', aliases: ['GlaxoSmithKline', 'GSK'] },
  { symbol: 'DEO', aliases: ['Diageo'] },
  { symbol: 'UL', aliases: ['Unilever'] },
  { symbol: 'BTI', aliases: ['British American Tobacco', 'BAT'] },
  { symbol: 'RIO', aliases: ['Rio Tinto'] },
  { symbol: 'RIO', aliases: ['Rio'], mode: 'context', context: ['mining', 'miner', 'miners', 'copper', 'iron', 'ore', 'mine', 'bhp', 'lithium', 'aluminium', 'aluminum'], notAfter: ['de janeiro', 'grande'] },
  { symbol: 'BCS', aliases: ['Barclays', 'Barclays Bank', 'Barclays PLC'] },
  { symbol: 'LYG', aliases: ['Lloyds Banking Group', 'Lloyds Bank', 'Lloyds'] },
  { symbol: 'NWG', aliases: ['NatWest', 'Royal Bank of Scotland', 'RBS'] },
  { symbol: 'VOD', aliases: ['Vodafone'] },
  { symbol: 'PUK', aliases: ['Prudential plc'] },
  { symbol: 'BP', aliases: ['BP'] },
  { symbol: 'NDAQ', aliases: ['Nasdaq Inc'] },
];

/**
 * Ordinary words that make a company's derived alias need evidence (mode `common`), in addition to
 * the words seen in lower case in the labelled corpora under ../shared (when present at build).
 */
export const COMMON_WORDS = (
  'apple target block visa gap meta shell gold ford amazon oracle match snap zoom lucid delta american united ' +
  'general national first global energy capital progressive carnival ball compass genuine best buy sun star ' +
  'alliance pioneer summit frontier liberty freedom eagle discovery insight vision nexus focus fusion ' +
  'square cash value monster ross kohl gates dollar tree lumen iron mountain waste management public storage ' +
  'crown castle ally equity prudential principal regions truist citizens fifth third republic southern ' +
  'dominion duke edison chase marathon devon hess apache valero phillips hologic agilent ' +
  'copper silver platinum diamond pearl coral harbor harbour bay river lake ocean atlantic pacific ' +
  'north south east west central western eastern northern new old great big little smart open clear bright ' +
  'one two three four five ten hundred thousand'
).split(/\s+/);

/** Single-word derived aliases too generic to keep at all. */
export const DROP_ALIASES = new Set(
  (
    'the first american national global united general international capital financial energy holdings ' +
    'group partners fund trust income investment investors growth value equity bank bancorp bancshares ' +
    'acquisition acquisitions technologies technology systems solutions resources industries services ' +
    'pharmaceuticals therapeutics biosciences bio health healthcare medical realty properties reit ' +
    'new one us usa north south east west central pacific atlantic mid america nasdaq nyse cboe dow ' +
    // seen linking wrongly in finance text: ordinary or place words, index and product names
    'alpha reliance standard quantum minerals orion forge viking universal energys esg agm berry everest ' +
    'southwest natural gas sterling axis titan apex vertex summit zenith atlas phoenix genesis columbia ' +
    'arena golden myers waters main street wall street ' +
    // surnames of people who are in the financial news far more often than these companies
    'powell yellen buffett musk dimon bezos cook trump biden warren sanders fink lagarde draghi bernanke ' +
    'greenspan carney bailey kashkari williams waller brainard jacobs icahn ackman dalio soros ' +
    // common surnames
    'miller smith johnson brown jones davis wilson moore taylor thomas jackson white harris martin thompson ' +
    'garcia martinez robinson clark lewis lee walker hall allen young king wright scott green baker adams ' +
    'nelson hill campbell mitchell roberts carter phillips evans turner parker collins edwards stewart morris ' +
    'murphy rogers morgan cooper peterson reed bell kelly howard ward cox richardson wood watson brooks ' +
    'bennett gray james hughes price long ross foster endeavor'
  ).split(/\s+/),
);

/** Place names: a company name reduced to one of them ("California Resources" → "California") is not kept. */
export const GEO_WORDS = new Set(
  (
    'alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois ' +
    'indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri ' +
    'montana nebraska nevada hampshire jersey mexico york carolina dakota ohio oklahoma oregon pennsylvania rhode ' +
    'tennessee texas utah vermont virginia washington wisconsin wyoming america americas canada china chinese india ' +
    'indian japan japanese korea korean europe european asia asian africa african australia australian brazil ' +
    'britain british england english france french germany german italy italian spain spanish indonesia israel ' +
    'ireland irish scotland swiss sweden norway denmark finland netherlands dutch belgium greece turkey russia ' +
    'ukraine poland singapore hong kong taiwan vietnam thailand malaysia philippines argentina chile peru colombia ' +
    'nigeria egypt saudi dubai qatar gulf caribbean atlantic pacific arctic boston chicago houston dallas denver ' +
    'atlanta miami seattle phoenix detroit london paris tokyo shanghai beijing mumbai delhi sydney toronto'
  ).split(' '),
);
