// The inventory journey, at a phone and a desktop viewport, each on an
// instance of its own: build a catalog, receive stock, watch a pantry's
// inventory update live from another browser, and hand items out at the
// counter with the quick distribute flow.
import { APIRequestContext, Browser, expect, Page, test as base } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'inventory')),
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Ada Admin', email: 'ada@college.example', password: 'correct horse battery' };
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

test('an admin builds the catalog', async ({ page, baseURL }, info) => {
  // Set up the instance and its places through the API: the foundation
  // journey covers doing that by hand.
  await post(page.request, 'setup', {
    code: setupCodeFromLog(`${info.project.name}-inventory`),
    name: admin.name,
    email: admin.email,
    password: admin.password,
  });
  ids.org = await post(page.request, 'create_organization', { name: 'State College' });
  ids.campus = await post(page.request, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  ids.library = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Library Pantry' });
  expect(baseURL).toContain('127.0.0.1');

  await open(page, `/organizations/${ids.org}/catalog`);
  await expect(page.getByRole('heading', { level: 1, name: 'Catalog' })).toBeVisible();
  const add = page.getByRole('form', { name: 'Add a product' });
  await add.getByLabel('Name', { exact: true }).fill('Black beans');
  await add.getByLabel('Category').fill('Canned goods');
  await add.getByLabel('Weight of one, in grams').fill('425');
  await add.getByLabel('Barcodes').fill('4006381333932');
  await add.getByRole('button', { name: 'Add product' }).click();
  await expect(page.getByText('Barcode 4006381333932 has check digit 2, but its other digits need 1: probably a typo.')).toBeVisible();
  await add.getByLabel('Barcodes').fill('4006381333931');
  await add.getByRole('button', { name: 'Add product' }).click();
  await expect(page.getByRole('link', { name: 'Black beans' })).toBeVisible();
  await expect(add.getByLabel('Name', { exact: true })).toHaveValue('');
  ids.beans = (await page.getByRole('link', { name: 'Black beans' }).getAttribute('href'))!.split('/').pop()!;
  ids.rice = await post(page.request, 'create_product', { organization: ids.org, name: 'Long grain rice', category: 'Dry goods', unit: 'kg' });
  ids.milk = await post(page.request, 'create_product', { organization: ids.org, name: 'Milk', category: 'Dairy', unit: 'l', perishable: 'on' });
  await page.reload();
  await hydrated(page);
  await expect(page.getByText('3 products')).toBeVisible();
  await page.getByLabel('Search by name, barcode or SKU').fill('036000291452');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByText('0 products')).toBeVisible();
  await page.getByLabel('Search by name, barcode or SKU').fill('4006381333931');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByText('1 product', { exact: true })).toBeVisible();
  await accessible(page, 'catalog');
  await shoot(page, info, 'catalog');
});

test('stock is received with best-before dates and refused when short', async ({ page }, info) => {
  await signIn(page);
  await open(page, `/pantries/${ids.main}/inventory`);
  await expect(page.getByRole('heading', { level: 1, name: 'Inventory' })).toBeVisible();
  // Nothing is held yet: the list shows the catalog when asked.
  await expect(page.getByText('Nothing is in stock here.')).toBeVisible();
  await page.getByRole('link', { name: 'Show products with no stock' }).click();
  await page.getByRole('link', { name: 'Black beans' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Black beans' })).toBeVisible();
  await hydrated(page);
  const receive = page.getByRole('form', { name: 'Receive' });
  await receive.getByLabel('Quantity').fill('12');
  await receive.getByLabel('Best before').fill('2030-03-01');
  await receive.getByLabel('Donor or supplier').fill('Corner Grocer');
  await receive.getByRole('button', { name: 'Receive' }).click();
  await expect(page.getByText('Received 12 of Black beans. On hand now: 12.')).toBeVisible();
  await expect(page.getByTestId('on-hand')).toHaveText('12');
  await expect(page.locator('td', { hasText: '2030-03-01' })).toBeVisible();

  await page.getByRole('button', { name: 'Distribute', exact: true }).click();
  const distribute = page.getByRole('form', { name: 'Distribute' });
  await distribute.getByLabel('Quantity').fill('99');
  await distribute.getByRole('button', { name: 'Distribute' }).click();
  await expect(page.getByText('Only 12 of Black beans on hand at Main Pantry; you asked for 99.')).toBeVisible();
  await expect(page.getByTestId('on-hand')).toHaveText('12');
  await accessible(page, 'product stock');
  await shoot(page, info, 'product-stock');

  // Perishables must say when they expire.
  await open(page, `/pantries/${ids.main}/products/${ids.milk}`);
  const milk = page.getByRole('form', { name: 'Receive' });
  await milk.getByLabel('Quantity').fill('1.5');
  await milk.getByRole('button', { name: 'Receive' }).click();
  await expect(page.getByText('Milk is perishable: enter its best-before date.')).toBeVisible();
  await milk.getByLabel('Best before (required)').fill('2020-01-01');
  await milk.getByRole('button', { name: 'Receive' }).click();
  await expect(page.getByTestId('on-hand')).toHaveText('1.5 l');
  await expect(page.locator('.badge-expired', { hasText: 'Expired' })).toBeVisible();
});

async function secondBrowser(browser: Browser, baseURL: string | undefined, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  await signIn(page);
  return { context, page };
}

test('a distribution in one browser appears in another within a second', async ({ page, browser, baseURL }, info) => {
  await signIn(page);
  await open(page, `/pantries/${ids.main}/inventory`);
  const beans = page.locator('li[data-product]').filter({ hasText: 'Black beans' });
  await expect(beans.getByTestId('on-hand')).toHaveText('12');
  await expect(page.locator('.live[data-live="live"]')).toBeVisible();

  const other = await secondBrowser(browser, baseURL, page.viewportSize()!);
  await open(other.page, `/pantries/${ids.main}/products/${ids.beans}`);
  await other.page.getByRole('button', { name: 'Distribute', exact: true }).click();
  const form = other.page.getByRole('form', { name: 'Distribute' });
  await form.getByLabel('Quantity').fill('2');
  await form.getByRole('button', { name: 'Distribute' }).click();
  await expect(other.page.getByText('Distributed 2 of Black beans. On hand now: 10.')).toBeVisible();
  // The first browser was not reloaded: the change arrives over the live stream.
  await expect(beans.getByTestId('on-hand')).toHaveText('10', { timeout: 1000 });
  await expect(page.locator('.live[data-live="live"]')).toBeVisible();
  await accessible(page, 'inventory');
  await shoot(page, info, 'inventory-live');
  await other.context.close();
});

test('a volunteer hands items out at the counter in a few taps', async ({ page }, info) => {
  await signIn(page);
  await open(page, `/pantries/${ids.main}`);
  await page.getByRole('link', { name: 'Distribute' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Distribute' })).toBeVisible();
  await hydrated(page);
  await shoot(page, info, 'distribute-pick');
  // Tap 1: the item. Tap 2: one more. Tap 3: give out.
  await page.getByRole('button', { name: /Black beans/ }).click();
  await expect(page.getByTestId('quantity')).toHaveText('1');
  await page.getByRole('button', { name: 'One more' }).click();
  await expect(page.getByTestId('quantity')).toHaveText('2');
  await accessible(page, 'quick distribute');
  await shoot(page, info, 'distribute-give');
  await page.getByRole('button', { name: 'Give out 2' }).click();
  await expect(page.getByText('Gave out 2 of Black beans. 8 left.')).toBeVisible();
  // Straight back to the search, ready for the next person.
  await expect(page.getByLabel('Find an item')).toBeFocused();
  await page.getByLabel('Find an item').fill('rice');
  await expect(page.getByText('Nothing in stock matches')).toBeVisible();
  await page.getByLabel('Find an item').fill('');
  await expect(page.getByRole('button', { name: /Black beans/ })).toContainText('8 on hand');
  await shoot(page, info, 'distribute-done');

  await open(page, `/pantries/${ids.main}/products/${ids.beans}`);
  await expect(page.getByTestId('on-hand')).toHaveText('8');
  await expect(page.locator('.history li').first()).toContainText('Given out');
});

test('overviews and the event log show the pantry at a glance', async ({ page }, info) => {
  await signIn(page);
  await open(page, `/pantries/${ids.main}`);
  const overview = page.locator('section.overview');
  await expect(overview.getByRole('cell', { name: 'Canned goods' })).toBeVisible();
  await expect(overview.getByText('Best before within 7 days (1)')).toBeVisible();
  await accessible(page, 'pantry with stock');
  await shoot(page, info, 'pantry-overview');
  await open(page, `/organizations/${ids.org}/events`);
  await expect(page.getByRole('heading', { level: 1, name: 'Events' })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'daily-flows' })).toBeVisible();
  await expect(page.getByText('None. Every event reached every consumer.')).toBeVisible();
  await accessible(page, 'events');
  await shoot(page, info, 'events');
});
