// Coordinator essentials, at a phone and a desktop viewport, each on an
// instance of its own: the navigation from any page, the inventory list and
// its CSV, the search across pantries with a transfer, and a donor's
// year-end statement.
import { APIRequestContext, expect, Page, test as base } from '@playwright/test';
import * as fs from 'node:fs';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'essentials')),
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Cora Coordinator', email: 'cora@college.example', password: 'correct horse battery' };
const ids: Record<string, string> = {};

async function post(request: APIRequestContext, endpoint: string, form: Record<string, string>) {
  const res = await request.post(`/api/${endpoint}`, { form });
  const body = await res.json().catch(() => null);
  expect(res.ok(), `${endpoint}: ${JSON.stringify(body)}`).toBeTruthy();
  return body;
}

async function signIn(page: Page) {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
}

/** Parses CSV text (quoted fields, CRLF) into records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field.replace(/\r$/, '')); rows.push(row); row = []; field = ''; }
    else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

async function download(page: Page, click: () => Promise<void>): Promise<string> {
  const waiting = page.waitForEvent('download');
  await click();
  const file = await (await waiting).path();
  return fs.readFileSync(file!, 'utf8');
}

test('a coordinator finds every section in one tap, on any page', async ({ page }, info) => {
  await post(page.request, 'setup', {
    code: setupCodeFromLog(`${info.project.name}-essentials`),
    name: admin.name,
    email: admin.email,
    password: admin.password,
  });
  ids.org = await post(page.request, 'create_organization', { name: 'State College' });
  ids.campus = await post(page.request, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  ids.library = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Library Pantry' });

  // A new organization's checklist: the pantry is there, the rest to do.
  await open(page, '/');
  const checklist = page.getByTestId('checklist');
  await expect(checklist).toContainText('1 of 4 done');
  await expect(checklist.getByRole('link', { name: 'Add products or import your catalog' })).toBeVisible();
  await shoot(page, info, 'home-checklist');

  await open(page, `/pantries/${ids.main}`);
  const nav = page.getByRole('navigation', { name: 'Pantry' });
  await expect(nav.getByTestId('current-pantry')).toContainText('Main Pantry');
  for (const section of ['Counter', 'Inventory', 'Intake', 'Reports']) {
    await expect(nav.getByRole('link', { name: section, exact: true })).toBeVisible();
  }
  // A phone's bar has four sections and "More" for the rest.
  if (info.project.name === 'phone') {
    await hydrated(page);
    await nav.getByText('More', { exact: true }).click();
  }
  for (const section of ['Catalog', 'People', 'Settings']) {
    await expect(nav.getByRole('link', { name: section, exact: true })).toBeVisible();
  }
  // On a phone the sections sit at the bottom of the screen; on a desktop
  // under the title.
  const box = (await nav.getByRole('link', { name: 'Inventory', exact: true }).boundingBox())!;
  const height = page.viewportSize()!.height;
  if (info.project.name === 'phone') expect(box.y).toBeGreaterThan(height - 80);
  else expect(box.y).toBeLessThan(150);
  // The coordinator's first thing to do, not a wall of buttons.
  await expect(page.getByRole('link', { name: 'What to order' })).toBeVisible();
  await accessible(page, 'pantry with navigation');
  await shoot(page, info, 'pantry-nav');

  // From a report to the counter and on to the settings: one tap each.
  await nav.getByRole('link', { name: 'Reports', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Usage report' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Reports', exact: true })).toHaveAttribute('aria-current', 'page');
  await nav.getByRole('link', { name: 'Counter', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/pantries/${ids.main}/visit$`));
  if (info.project.name === 'phone') await nav.getByText('More', { exact: true }).click();
  await nav.getByRole('link', { name: 'Settings', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Pantry settings' })).toBeVisible();
  // Help for the page one is on.
  await nav.getByRole('link', { name: 'Help' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Pantry settings' })).toBeVisible();
  await expect(page).toHaveURL(/\/help\/settings$/);
  await accessible(page, 'help');
  await shoot(page, info, 'help');

  // The switcher: two taps to the other pantry, which stays current on
  // pages that name no pantry.
  await hydrated(page);
  await nav.getByTestId('current-pantry').click();
  await nav.getByRole('link', { name: /Library Pantry/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Library Pantry' })).toBeVisible();
  await open(page, `/organizations/${ids.org}/catalog`);
  await expect(nav.getByTestId('current-pantry')).toContainText('Library Pantry');
  await expect(page.getByRole('heading', { level: 1, name: 'Catalog' })).toBeVisible();
});

test('staff are offered only what they can use', async ({ page }) => {
  await signIn(page);
  const invite = await post(page.request, 'invite', { email: 'sam@college.example', role: 'staff', scope: `pantry:${ids.main}` });
  await page.context().clearCookies();
  await post(page.request, 'accept_invitation', { token: invite.link.split('/').pop(), name: 'Sam Staff', password: 'staple lantern river' });
  await open(page, `/pantries/${ids.main}`);
  const nav = page.getByRole('navigation', { name: 'Pantry' });
  await expect(nav.getByRole('link', { name: 'Counter', exact: true })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Settings', exact: true })).toHaveCount(0);
  await expect(nav.getByRole('link', { name: 'People', exact: true })).toHaveCount(0);
  // A volunteer's first thing to do is the visit.
  await expect(page.getByRole('link', { name: 'Start a visit' })).toBeVisible();
  // Pages for other roles say so at once, before any form.
  await open(page, '/organizations/new');
  await expect(page.getByText('Only a site admin can create an organization.')).toBeVisible();
  await expect(page.getByLabel('Name')).toHaveCount(0);
  await open(page, `/organizations/${ids.org}/import`);
  await expect(page.getByRole('heading', { level: 1, name: 'Not allowed' })).toBeVisible();
  await expect(page.getByLabel('CSV file')).toHaveCount(0);
});

test('the inventory lists what is held, and its CSV is the list on the page', async ({ page }, info) => {
  await signIn(page);
  ids.rice = await post(page.request, 'create_product', { organization: ids.org, name: 'Long grain rice', category: 'Dry goods', unit: 'kg', barcodes: '036000291452' });
  ids.beans = await post(page.request, 'create_product', { organization: ids.org, name: 'Black beans', category: 'Canned goods', unit_weight_g: '425' });
  ids.milk = await post(page.request, 'create_product', { organization: ids.org, name: 'Milk', category: 'Dairy', unit: 'l', perishable: 'on' });
  ids.oats = await post(page.request, 'create_product', { organization: ids.org, name: 'Rolled oats', category: 'Dry goods' });
  const receive = (pantry: string, product: string, quantity: string, extra: Record<string, string> = {}) =>
    post(page.request, 'receive', { pantry, product, quantity, ...extra });
  await receive(ids.main, ids.rice, '4.5', { best_before: '2027-09-01', donor: 'Corner Grocer', weight_g: '4500' });
  await receive(ids.main, ids.beans, '12', { best_before: '2028-01-15', donor: 'Corner Grocer', weight_g: '5100' });
  await receive(ids.main, ids.milk, '10', { best_before: '2027-01-20' });
  await receive(ids.library, ids.rice, '20', { best_before: '2027-02-10', donor: 'Food Drive 2026', weight_g: '20000' });
  await receive(ids.library, ids.rice, '3', { best_before: '2027-05-05', donor: 'Corner Grocer' });
  await post(page.request, 'set_minimum', { pantry: ids.main, product: ids.milk, minimum: '12' });

  await open(page, `/pantries/${ids.main}/inventory`);
  const rows = page.locator('li[data-product]');
  // Oats have no stock here: hidden until asked for.
  await expect(rows).toHaveCount(3);
  await expect(page.getByText('Rolled oats')).toHaveCount(0);
  const milk = rows.filter({ hasText: 'Milk' });
  // Litres count in litres, not as items.
  await expect(milk.getByTestId('on-hand')).toHaveText('10 l');
  await expect(milk.getByTestId('weight')).toHaveText('10 kg');
  await expect(rows.filter({ hasText: 'Black beans' }).getByTestId('weight')).toHaveText('5.1 kg');
  await accessible(page, 'inventory');
  await shoot(page, info, 'inventory-columns');

  // Sorted by best before, and the CSV of that list equals the page.
  await page.getByLabel('Sort by').selectOption('best_before');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(rows.first()).toContainText('Milk');
  const shown = await rows.evaluateAll((lis) => lis.map((li) => [
    li.querySelector('.stock-name')!.textContent!.trim(),
    li.querySelector('[data-testid=on-hand]')!.textContent!.trim(),
    li.querySelector('[data-testid=best-before]')!.textContent!.trim(),
    li.querySelector('[data-testid=weight]')!.textContent!.trim(),
  ]));
  const csv = parseCsv(await download(page, () => page.getByTestId('csv-this').click()));
  expect(csv[0].slice(0, 6)).toEqual(['Product', 'Category', 'On hand', 'Unit', 'Best before', 'Weight']);
  expect(csv.slice(1).map((r) => [r[0], r[2], r[4], r[5]])).toEqual(shown);

  // Low stock, from its chip, and its CSV.
  await page.getByRole('link', { name: 'Low stock', exact: true }).click();
  await expect(rows).toHaveCount(1);
  const low = parseCsv(await download(page, () => page.getByTestId('csv-this').click()));
  expect(low.slice(1).map((r) => r[0])).toEqual(['Milk']);
  // Every product, when asked.
  await page.getByRole('link', { name: 'Show products with no stock' }).click();
  await expect(rows).toHaveCount(4);
});

test('“where do we have rice, and when does it expire?” is one search, and a transfer', async ({ page }, info) => {
  await signIn(page);
  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('navigation', { name: 'Pantry' }).getByRole('link', { name: 'Search' }).click();
  await hydrated(page);
  await page.getByLabel('Product name or barcode').fill('rice');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const result = page.getByTestId('search-result').filter({ hasText: 'Long grain rice' });
  await expect(result.getByTestId('total')).toHaveText('27.5 kg in all');
  const library = result.locator(`[data-pantry="${ids.library}"]`);
  await expect(library.getByTestId('on-hand')).toHaveText('23 kg');
  await expect(library.getByTestId('best-before')).toHaveText('2027-02-10');
  await expect(result.locator(`[data-pantry="${ids.main}"]`).getByTestId('best-before')).toHaveText('2027-09-01');
  await accessible(page, 'search');
  await shoot(page, info, 'search');

  // Bring some to the pantry being worked in.
  await library.getByLabel(/Quantity to move to Main Pantry/).fill('5');
  await library.getByRole('button', { name: 'Move to Main Pantry' }).click();
  await expect(page.getByText('Moved 5 kg of Long grain rice. 18 kg left where it came from.')).toBeVisible();
  await expect(library.getByTestId('on-hand')).toHaveText('18 kg');
  await expect(result.locator(`[data-pantry="${ids.main}"]`).getByTestId('on-hand')).toHaveText('9.5 kg');
  // The history says it in words.
  await open(page, `/pantries/${ids.main}/products/${ids.rice}`);
  await expect(page.getByTestId('what-happened').first()).toHaveText('Moved here from Library Pantry');
});

test('a donor gets a year-end statement whose totals add up', async ({ page }, info) => {
  await signIn(page);
  // The independent sum: the donor's donations as the product histories
  // record them.
  let grams = 0;
  let count = 0;
  let unweighed = 0;
  for (const [pantry, product] of [[ids.main, ids.rice], [ids.main, ids.beans], [ids.library, ids.rice]]) {
    const stock = await post(page.request, 'product_stock', { pantry, product });
    for (const m of stock.movements) {
      if (m.kind === 'received' && m.donor === 'Corner Grocer') { count++; grams += m.weight_g ?? 0; if (m.weight_g == null) unweighed++; }
    }
  }
  expect(count).toBe(3);
  await open(page, `/organizations/${ids.org}/donors`);
  await page.getByRole('link', { name: 'Corner Grocer', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Corner Grocer' })).toBeVisible();
  const year = String(new Date().getUTCFullYear());
  await page.getByRole('link', { name: `${year} statement` }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Statement of donations, ${year}` })).toBeVisible();
  const statement = page.getByTestId('statement');
  await expect(statement.locator('tbody tr')).toHaveCount(count);
  const cells = await statement.locator('td[data-grams]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-grams'))));
  expect(cells.reduce((a, b) => a + b, 0)).toBe(grams);
  await expect(statement.getByTestId('total-weight')).toHaveText(`${(grams / 1000).toFixed(1)} kg${unweighed ? ` (${unweighed} unweighed)` : ''}`);
  await accessible(page, 'donor statement');
  await shoot(page, info, 'donor-statement');
  const csv = parseCsv(await download(page, () => page.getByRole('link', { name: 'Download CSV' }).click()));
  const total = csv.find((r) => r[0] === 'Total')!;
  expect(total[1]).toBe(`${count} donations`);
  expect(Number(total[5])).toBeCloseTo(grams / 1000, 3);
});

test('a donation of several products is received in one form, with one receipt', async ({ page }, info) => {
  await signIn(page);
  // A panic in the WASM would stop the page for good.
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await open(page, `/pantries/${ids.main}/intake`);
  const form = page.getByRole('form', { name: 'Receive a donation' });
  await form.getByLabel('Donor').fill('Campus Garden Club');
  const find = form.getByLabel('Add a product');
  await find.fill('beans');
  await form.getByRole('button', { name: 'Add Black beans' }).click();
  await find.fill('rice');
  await form.getByRole('button', { name: 'Add Long grain rice' }).click();
  const lines = form.getByTestId('donation-lines').locator('li');
  await expect(lines).toHaveCount(2);
  await lines.nth(0).getByLabel('Quantity (each)').fill('6');
  await lines.nth(0).getByLabel(/Best before/).fill('2028-02-01');
  await lines.nth(1).getByLabel('Quantity (kg)').fill('2.5');
  await lines.nth(1).getByLabel('Weight in grams (if weighed)').fill('2520');
  await accessible(page, 'donation form');
  await shoot(page, info, 'donation-form');
  await form.getByRole('button', { name: 'Receive 2 products' }).click();
  await expect(page).toHaveURL(/\/donations\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Donation receipt' })).toBeVisible();
  const receipt = page.getByTestId('receipt-lines');
  await expect(receipt.locator('tbody tr')).toHaveCount(2);
  await expect(receipt.locator('tbody tr').nth(0)).toContainText('Black beans');
  await expect(receipt.locator('tbody tr').nth(1)).toContainText('2.5 kg');
  // Six cans at 425 g from the catalog, and the rice as weighed.
  await expect(page.getByTestId('receipt-weight')).toHaveText(`${((6 * 425 + 2520) / 1000).toFixed(1)} kg`);
  await expect(page.locator('.receipt dl')).toContainText('Campus Garden Club');
  await accessible(page, 'donation receipt');
  await shoot(page, info, 'donation-receipt-many');
  const stock = await post(page.request, 'product_stock', { pantry: ids.main, product: ids.beans });
  expect(stock.on_hand).toBe(12 + 6);
  expect(errors).toEqual([]);
});

test('imported history shows in a report as its own series', async ({ page }, info) => {
  await signIn(page);
  const csv = 'date,product,quantity,pantry\n2025-03-03,Black beans,5,Main Pantry\n2025-03-20,Black beans,7,Main Pantry\n2025-06-02,Long grain rice,2.5,Main Pantry\n';
  const res = await page.request.post(`/api/v1/usage/import?organization=${ids.org}&name=2025.csv`, { data: csv, headers: { 'content-type': 'text/csv' } });
  expect(res.ok(), await res.text()).toBeTruthy();
  // Today's report misses it, and says where it is.
  await open(page, `/reports?scope=pantry:${ids.main}`);
  const note = page.getByTestId('imported-span');
  await expect(note).toContainText('Imported history covers 2025-03-03 to 2025-06-02.');
  await note.getByRole('link', { name: 'Show that period' }).click();
  await expect(page.getByTestId('imported-items')).toHaveText('12');
  // 12 cans at 425 g and 2.5 kg of rice.
  await expect(page.getByTestId('imported-weight')).toHaveText(`${((12 * 425 + 2500) / 1000).toFixed(1)} kg`);
  await expect(page.getByRole('columnheader', { name: 'Imported items' })).toBeVisible();
  await expect(page.getByRole('row', { name: /March 2025/ })).toContainText('12');
  await accessible(page, 'report with imported history');
  await shoot(page, info, 'report-imported');
  // And on the product's page.
  await open(page, `/products/${ids.beans}`);
  await expect(page.getByTestId('imported-history')).toContainText('2025-03');
});
