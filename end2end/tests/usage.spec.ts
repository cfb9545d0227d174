// The usage journey, at a phone and a desktop viewport, each on an
// instance of its own: a volunteer records a visit with three items at
// the counter, the stock drops, a correction puts one back, and today's
// report shows the visit.
import { APIRequestContext, expect, test as base } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { decrypt, deliver, shownNotifications, standInForSubscribe, startPushService, storedSubscription } from './push-service';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'usage')),
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Ada Admin', email: 'ada@college.example', password: 'correct horse battery' };
const volunteer = { name: 'Val Volunteer', email: 'val@college.example', password: 'staple lantern river' };
const ids: Record<string, string> = {};

async function post(request: APIRequestContext, endpoint: string, form: Record<string, string>) {
  const res = await request.post(`/api/${endpoint}`, { form });
  const body = await res.json().catch(() => null);
  expect(res.ok(), `${endpoint}: ${JSON.stringify(body)}`).toBeTruthy();
  return body;
}

async function onHand(request: APIRequestContext, product: string): Promise<string> {
  const res = await request.post('/api/product_stock', { form: { pantry: ids.main, product } });
  const body = await res.json();
  return String(body.on_hand);
}

test('an admin sets up a pantry with stock and a volunteer', async ({ browser }, info) => {
  // Through the API: the foundation and inventory journeys cover the forms.
  const adminContext = await browser.newContext();
  const r = adminContext.request;
  await post(r, 'setup', { code: setupCodeFromLog(`${info.project.name}-usage`), ...admin });
  ids.org = await post(r, 'create_organization', { name: 'State College' });
  ids.campus = await post(r, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(r, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  ids.beans = await post(r, 'create_product', { organization: ids.org, name: 'Black beans', category: 'Canned goods', unit_weight_g: '425', barcodes: '4006381333931' });
  ids.rice = await post(r, 'create_product', { organization: ids.org, name: 'Long grain rice', category: 'Dry goods', unit: 'kg' });
  ids.soup = await post(r, 'create_product', { organization: ids.org, name: 'Tomato soup', category: 'Canned goods', unit_weight_g: '400' });
  for (const [p, q] of [[ids.beans, '10'], [ids.rice, '5'], [ids.soup, '6']]) {
    await post(r, 'receive', { pantry: ids.main, product: p, quantity: q, donor: 'City Food Bank' });
  }
  const invite = await post(r, 'invite', { email: volunteer.email, role: 'staff', scope: `pantry:${ids.main}` });
  ids.invite = String(invite.link).split('/').pop()!;
  await adminContext.close();
});

test('a volunteer records a visit with three items on a phone, and the report shows it', async ({ page }, info) => {
  await post(page.request, 'accept_invitation', { token: ids.invite, name: volunteer.name, password: volunteer.password })
    .catch(async () => post(page.request, 'sign_in', { email: volunteer.email, password: volunteer.password }));
  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('link', { name: 'Start a visit' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Visit' })).toBeVisible();
  await hydrated(page);
  await accessible(page, 'visit counter');
  await shoot(page, info, 'visit-empty');

  // A USB scanner types the barcode and presses Enter: straight into the basket.
  const search = page.getByLabel('Find an item');
  const pick = (name: RegExp) => page.locator('ul.pick-list').getByRole('button', { name });
  // Enter comes at once, before the search's answer is in, as a scanner's
  // does; a slow answer (held back here) must still put the item in.
  await page.route('**/api/stock', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    await route.continue();
  });
  await search.fill('4006381333931');
  await search.press('Enter');
  await expect(page.getByRole('heading', { name: 'Basket · 1 item' })).toBeVisible();
  await page.unroute('**/api/stock', { behavior: 'wait' });
  await expect(search).toHaveValue('');
  // Taps: beans once more, rice, and soup from its category tile.
  await pick(/Black beans/).click();
  await pick(/Long grain rice/).click();
  await page.getByRole('button', { name: 'Canned goods' }).click();
  await expect(pick(/Long grain rice/)).toHaveCount(0);
  await pick(/Tomato soup/).click();
  await expect(page.getByRole('heading', { name: 'Basket · 3 items' })).toBeVisible();
  const basket = page.getByRole('region', { name: 'Basket' });
  await expect(basket.getByText('Black beans')).toBeVisible();
  await expect(basket.locator('.basket-line').filter({ hasText: 'Black beans' }).locator('output')).toHaveText('2');
  await page.getByText('Household (optional)').click();
  await page.getByLabel('Adults').fill('2');
  await page.getByLabel('Children').fill('1');
  await page.getByLabel('Client card or code').fill('card 104');
  await shoot(page, info, 'visit-basket');
  await page.getByRole('button', { name: 'Save visit' }).click();
  await expect(page.getByText(/Visit saved — 3 items: 2 Black beans, 1 kg Long grain rice, 1 Tomato soup\./)).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Basket', exact: true })).toBeVisible();
  await shoot(page, info, 'visit-saved');

  // The stock dropped.
  expect(await onHand(page.request, ids.beans)).toBe('8');
  expect(await onHand(page.request, ids.rice)).toBe('4000');
  expect(await onHand(page.request, ids.soup)).toBe('5');

  // The visit's page: correct it (one bean back on the shelf).
  await page.getByRole('link', { name: 'View' }).click();
  await expect(page.getByRole('heading', { level: 1, name: /^Visit · / })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText('CARD104')).toBeVisible();
  await page.getByRole('button', { name: 'One less Black beans' }).click();
  await page.getByRole('button', { name: 'Save correction' }).click();
  await expect(page.getByText(/Back: 1 Black beans/)).toBeVisible();
  expect(await onHand(page.request, ids.beans)).toBe('9');
  await accessible(page, 'visit');
  await shoot(page, info, 'visit-page');

  // Today's report for the pantry shows the visit and what went out.
  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('navigation', { name: 'Pantry' }).getByRole('link', { name: 'Reports', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Usage report' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByTestId('total-visits')).toHaveText('1');
  // 1 bean + 1 soup are items; the rice counts by weight.
  await expect(page.getByTestId('total-items')).toHaveText('2');
  await expect(page.getByRole('rowheader', { name: 'City Food Bank' })).toBeVisible();
  await expect(page.getByText('CARD104')).toHaveCount(0);
  await accessible(page, 'report');
  await shoot(page, info, 'report');
});

test('a coordinator imports last year\'s history and sees what was refused', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  await open(page, `/organizations/${ids.org}`);
  await page.getByRole('link', { name: 'Import usage history' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Import usage history' })).toBeVisible();
  await hydrated(page);
  const csv = 'date,product,quantity,pantry\n2025-09-01,Black beans,3,Main Pantry\n2025-09-02,Caviar,1,\n2025-09-03,Long grain rice,1.5,\n';
  await page.getByLabel('CSV file').setInputFiles({ name: 'last-year.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const outcome = page.getByTestId('import-outcome');
  await expect(outcome).toContainText('Nothing was imported from last-year.csv.');
  await expect(outcome).toContainText('1 row(s) have problems');
  await expect(outcome.getByRole('link', { name: 'Download the problem rows' })).toBeVisible();
  await accessible(page, 'import refused');
  await page.getByLabel('Import the good rows even if some are bad').check();
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(outcome).toContainText('Imported 2 row(s) from last-year.csv.');
  await expect(outcome).toContainText('1 row(s) have problems and were skipped');
  await shoot(page, info, 'import-history');
});

test('a coordinator lists the donors and opens a printable receipt', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  await open(page, `/organizations/${ids.org}`);
  await page.getByRole('link', { name: 'Donors' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Donors' })).toBeVisible();
  await hydrated(page);
  // Three donations from the city food bank: beans, rice and soup.
  const row = page.getByRole('row', { name: /City Food Bank/ });
  await expect(row.getByRole('cell').first()).toHaveText('3');
  await accessible(page, 'donors');
  await shoot(page, info, 'donors');
  await page.getByRole('link', { name: 'City Food Bank · Black beans' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Donation receipt' })).toBeVisible();
  await hydrated(page);
  const facts = page.locator('.receipt dl');
  await expect(facts).toContainText('City Food Bank');
  await expect(facts).toContainText('Black beans');
  await expect(facts).toContainText('4.3 kg');
  await expect(page.getByRole('button', { name: 'Print receipt' })).toBeVisible();
  await accessible(page, 'donation receipt');
  await shoot(page, info, 'donation-receipt');
  // On paper: no navigation, no print button.
  await page.emulateMedia({ media: 'print' });
  await expect(page.getByRole('button', { name: 'Print receipt' })).toBeHidden();
  await expect(page.locator('header.topbar')).toBeHidden();
});

test('a coordinator generates forecasts and sees, in one chart, what to order', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  // Three months of soup going out, up to yesterday, with a weekly rhythm.
  const week = [2, 5, 6, 5, 7, 8, 1];
  let csv = 'date,product,quantity,pantry\n';
  for (let back = 90; back >= 1; back--) {
    const day = new Date(Date.now() - back * 86_400_000);
    // Never quite the same: some noise, so the chart has a band to show.
    const noise = (back * 7) % 5 - 2;
    csv += `${day.toISOString().slice(0, 10)},Tomato soup,${Math.max(0, week[day.getUTCDay()] + noise)},Main Pantry\n`;
  }
  const res = await page.request.post(`/api/v1/usage/import?organization=${ids.org}&name=soup.csv`, {
    headers: { 'content-type': 'text/csv' },
    data: csv,
  });
  expect(res.ok(), await res.text()).toBeTruthy();

  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('link', { name: 'Forecasts' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Forecasts' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Generate forecasts' }).click();
  // The import already asked for a run; either way the page says when it is done.
  await expect(page.getByRole('status').filter({ hasText: 'Forecasts made' })).toBeVisible({ timeout: 30_000 });
  const soup = page.getByRole('row', { name: /Tomato soup/ });
  await expect(soup.locator('svg.forecast-chart')).toBeVisible();
  await accessible(page, 'forecast summary');
  await shoot(page, info, 'forecast-summary');

  await soup.getByRole('link', { name: 'Tomato soup' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tomato soup' })).toBeVisible();
  await hydrated(page);
  // A handful on hand against about 34 a week: order now, and say why.
  const order = page.locator('.order-line');
  await expect(order.getByRole('heading', { level: 2 })).toHaveText(/^Order \d+ today$/);
  await expect(order).toContainText(/uses \d+\/week, \d on hand, lead time 7 days → order \d+ today/);
  const chart = page.getByRole('img', { name: /Next 28 days/ });
  await expect(chart).toBeVisible();
  await expect(chart.locator('polygon.band95')).toHaveCount(1);
  await expect(chart.locator('rect.bar')).toHaveCount(56);
  await accessible(page, 'product forecast');
  await shoot(page, info, 'product-forecast');

  await open(page, `/pantries/${ids.main}/recommendations`);
  await expect(page.getByRole('row', { name: /Tomato soup/ })).toContainText('order');
  await accessible(page, 'what to order');
  await shoot(page, info, 'recommendations');
});

test('the coordinator drafts an order from what to order, submits it, and receiving it fills the shelf', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  // The supplier and what it sells, through the API (the forms have their own test).
  ids.supplier = await post(page.request, 'save_supplier', {
    organization: ids.org, name: 'City Wholesale', lead_time_days: '3', order_days: 'Mon, Thu', minimum_order: '20', email: 'orders@city.example',
  });
  await post(page.request, 'save_supplier_item', {
    supplier: ids.supplier, sku: 'TS-12', description: 'Tomato soup, case of 12', product: ids.soup, pack_size: '12', price: '9.60',
  });
  const before = Number(await onHand(page.request, ids.soup));

  await open(page, `/pantries/${ids.main}/recommendations`);
  await page.getByRole('link', { name: 'Orders' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Orders' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Draft from recommendations' }).click();
  const drafted = page.getByRole('status').getByRole('link', { name: /PO-\d{4} \(City Wholesale\)/ });
  await expect(drafted).toBeVisible({ timeout: 15_000 });
  await accessible(page, 'orders');
  await shoot(page, info, 'orders');
  await drafted.click();

  await expect(page.getByRole('heading', { level: 1, name: /PO-\d{4} · City Wholesale/ })).toBeVisible();
  await hydrated(page);
  const line = page.getByRole('row', { name: /Tomato soup/ });
  await expect(line).toContainText('TS-12');
  const packs = Number(await line.locator('td').nth(2).innerText());
  expect(packs).toBeGreaterThan(0);
  await accessible(page, 'draft order');
  await shoot(page, info, 'order-draft');
  await page.getByRole('button', { name: 'Submit order' }).click();
  await expect(page.locator('.badge').filter({ hasText: 'Submitted' })).toBeVisible();

  // Everything came: the form is filled in with what is still to come.
  const receive = page.getByRole('form', { name: 'Receive the order' });
  await expect(receive.getByLabel('Quantity (each)')).toHaveValue(String(packs * 12));
  await receive.getByLabel('Best before').fill('2027-09-30');
  await shoot(page, info, 'order-receive');
  await receive.getByRole('button', { name: 'Receive' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Received: the stock is on the shelf.' })).toBeVisible();
  await expect(page.locator('.badge').filter({ hasText: 'Received' })).toBeVisible();
  expect(Number(await onHand(page.request, ids.soup))).toBe(before + packs * 12);
  await accessible(page, 'received order');
  await shoot(page, info, 'order-received');

  // The supplier's pages: the list, and what they sell.
  await open(page, `/organizations/${ids.org}/suppliers`);
  await expect(page.getByRole('row', { name: /City Wholesale/ })).toContainText('Mon, Thu');
  await accessible(page, 'suppliers');
  await shoot(page, info, 'suppliers');
  await page.getByRole('link', { name: 'City Wholesale' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'City Wholesale' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByRole('row', { name: /TS-12/ })).toContainText('Tomato soup');
  await accessible(page, 'supplier');
  await shoot(page, info, 'supplier');
});

test('an urgent issue appears, is pushed to the browser, the coordinator accepts the proposed order, submits and receives it, and the stock rises', async ({ page, context }, info) => {
  // Push is turned on in this browser first (see push-service.ts for what
  // stands in for the browser's push service).
  const pushService = await startPushService();
  await standInForSubscribe(context, pushService.url);
  await context.grantPermissions(['notifications']);
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  await open(page, '/notifications');
  await hydrated(page);
  await expect(page.getByText('Push is off in this browser.')).toBeVisible();
  await page.getByRole('button', { name: 'Turn on push in this browser' }).click();
  await expect(page.getByText('Push is on in this browser.')).toBeVisible();
  await shoot(page, info, 'notifications-push-on');
  const subscription = (await storedSubscription(page))!;
  expect(subscription.userVisibleOnly).toBe(true);
  const serverKey = await post(page.request, 'push_public_key', {});
  expect(subscription.serverKey).toBe(serverKey);

  // Nearly all the soup goes out: one can left, and the next delivery is
  // days away.
  const left = Number(await onHand(page.request, ids.soup));
  await post(page.request, 'distribute', { pantry: ids.main, product: ids.soup, quantity: String(left - 1) });

  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('link', { name: 'Stock issues' }).first().click();
  await expect(page.getByRole('heading', { level: 1, name: 'Stock issues' })).toBeVisible();
  const issue = page.getByRole('article', { name: /Tomato soup will run out at Main Pantry/ });
  // The analyser works from the movement's event: a moment, then reload.
  await expect(async () => {
    await page.reload();
    await expect(issue).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  // Its notification: the bell counts it, the centre lists it, and it
  // opens the issues.
  await expect(page.getByRole('link', { name: /Notifications, \d+ unread/ })).toBeVisible();
  await page.getByRole('link', { name: /Notifications, \d+ unread/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Notifications' })).toBeVisible();
  await hydrated(page);
  // Newest first (an earlier soup shortage may be listed below).
  const note = page.getByRole('link', { name: /Tomato soup will run out at Main Pantry/ }).first();
  await expect(note).toBeVisible();
  await accessible(page, 'notifications');
  await shoot(page, info, 'notifications');
  // The same news reached the browser as a push: encrypted to its keys,
  // signed with the instance's key, and shown by the service worker.
  const soupPush = async () => {
    for (const p of pushService.pushes) {
      const message = JSON.parse(decrypt(p.body, subscription));
      if (/Tomato soup will run out at Main Pantry/.test(message.title)) return { ...p, message };
    }
    return null;
  };
  await expect.poll(async () => (await soupPush()) !== null, { timeout: 15_000 }).toBe(true);
  const pushed = (await soupPush())!;
  expect(pushed.path).toBe(new URL(subscription.endpoint).pathname);
  expect(pushed.headers['content-encoding']).toBe('aes128gcm');
  expect(pushed.headers['authorization']).toContain(`k=${serverKey}`);
  expect(pushed.message.link).toBe(`/pantries/${ids.main}/issues`);
  expect(pushed.message.body).toMatch(/^Proposed: Draft the order: \d+ packs? \(\d+\) from City Wholesale\./);
  await deliver(page, JSON.stringify(pushed.message));
  await expect.poll(() => shownNotifications(page)).toContain(pushed.message.title);
  await note.click();
  await expect(page.getByRole('heading', { level: 1, name: 'Stock issues' })).toBeVisible();
  await expect(issue).toBeVisible();
  await hydrated(page);
  await expect(issue.getByText('Urgent')).toBeVisible();
  await expect(issue).toContainText('City Wholesale');
  await accessible(page, 'stock issues');
  await shoot(page, info, 'stock-issues');

  await issue.getByRole('button', { name: /Draft the order: \d+ packs? \(\d+\) from City Wholesale/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: /PO-\d{4} · City Wholesale/ })).toBeVisible({ timeout: 15_000 });
  await hydrated(page);
  const line = page.getByRole('row', { name: /Tomato soup/ });
  const packs = Number(await line.locator('td').nth(2).innerText());
  expect(packs).toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Submit order' }).click();
  await expect(page.locator('.badge').filter({ hasText: 'Submitted' })).toBeVisible();
  const receive = page.getByRole('form', { name: 'Receive the order' });
  await expect(receive.getByLabel('Quantity (each)')).toHaveValue(String(packs * 12));
  await receive.getByRole('button', { name: 'Receive' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Received: the stock is on the shelf.' })).toBeVisible();
  expect(Number(await onHand(page.request, ids.soup))).toBe(1 + packs * 12);

  // The issue is closed as accepted, with its order.
  await open(page, `/pantries/${ids.main}/issues`);
  await expect(page.getByRole('article', { name: /Tomato soup will run out/ })).toHaveCount(0);
  await page.getByText(/Closed lately/).click();
  await expect(page.getByText(/Accepted by Ada Admin/)).toBeVisible();
  await shoot(page, info, 'stock-issues-closed');

  // Push turned off: the browser forgets the subscription, and so does Larder.
  await open(page, '/notifications');
  await hydrated(page);
  await page.getByRole('button', { name: 'Turn off push in this browser' }).click();
  await expect(page.getByText('Push is off in this browser.')).toBeVisible();
  expect(await storedSubscription(page)).toBeNull();
  expect(await post(page.request, 'push_subscribed', { endpoint: subscription.endpoint })).toBe(false);
  await pushService.close();
});
