// What a new volunteer hit on a phone, and the page-level defences: every
// main page fits a 360 px screen with many categories and long names, the
// counter's Save is reached by a tap, the skip link moves keyboard focus,
// and every page runs under its Content-Security-Policy without a single
// violation (the hydrated app, its lazily loaded parts, the live stream).
import { APIRequestContext, expect, Page, test as base } from '@playwright/test';
import { hydrated, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'hardening')),
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

/** Collects every CSP violation the page reports, from its first script on. */
async function watchCsp(page: Page) {
  await page.addInitScript(() => {
    (window as any).__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as any).__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

test('an admin sets up a pantry with many categories and long names', async ({ page }, info) => {
  await post(page.request, 'setup', { code: setupCodeFromLog(`${info.project.name}-hardening`), ...admin });
  ids.org = await post(page.request, 'create_organization', { name: 'State College' });
  ids.campus = await post(page.request, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  const categories = ['Canned goods', 'Dry goods', 'Breakfast cereals', 'Dairy and eggs', 'Fresh produce', 'Personal care', 'Baby supplies'];
  for (const [i, category] of categories.entries()) {
    const id = await post(page.request, 'create_product', {
      organization: ids.org,
      name: `Extra-long-named organic wholegrain product number ${i + 1} family size value pack`,
      category,
      unit_weight_g: '500',
    });
    ids[`p${i}`] = id;
    const receipt = await post(page.request, 'receive', { pantry: ids.main, product: id, quantity: '20', donor: 'City Food Bank of the Greater Metropolitan Area' });
    ids.donation = receipt.movement_id;
  }
  const visit = await page.request.post('/api/record_visit', {
    data: { visit: { pantry: ids.main, lines: [{ product: ids.p0, quantity: '1' }] } },
  });
  expect(visit.ok(), await visit.text()).toBeTruthy();
  ids.visit = (await visit.json()).id;
  ids.intake = await post(page.request, 'create_intake', { pantry: ids.main, donor: 'Neighbourhood Church' });
});

test('every main page fits the screen and runs under its CSP without a violation', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  await watchCsp(page);
  const pages = [
    '/',
    `/organizations/${ids.org}`,
    `/organizations/${ids.org}/people`,
    `/organizations/${ids.org}/catalog`,
    `/organizations/${ids.org}/events`,
    `/organizations/${ids.org}/import`,
    `/organizations/${ids.org}/donors`,
    `/organizations/new`,
    `/campuses/${ids.campus}`,
    `/pantries/${ids.main}`,
    `/pantries/${ids.main}/inventory`,
    `/pantries/${ids.main}/distribute`,
    `/pantries/${ids.main}/products/${ids.p0}`,
    `/pantries/${ids.main}/visit`,
    `/pantries/${ids.main}/visits`,
    `/visits/${ids.visit}`,
    `/products/${ids.p0}`,
    `/intakes/${ids.intake}`,
    `/reports?scope=organization:${ids.org}`,
    `/donations/${ids.donation}`,
    `/pantries/${ids.main}/intake`,
    `/pantries/${ids.main}/settings`,
    `/search?q=a`,
    `/help/inventory`,
  ];
  const overflowing: string[] = [];
  for (const path of pages) {
    const res = await page.goto(path);
    expect(res?.status(), path).toBe(200);
    const csp = res!.headers()['content-security-policy'] ?? '';
    expect(csp, `${path} has a policy`).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
    await hydrated(page);
    // Compared with 360, not innerWidth: a phone's layout viewport widens
    // to fit whatever overflows.
    if (info.project.name === 'phone') {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 360) overflowing.push(`${path}: ${width}px`);
    }
    expect(await page.evaluate(() => (window as any).__csp), `CSP violations on ${path}`).toEqual([]);
  }
  expect(overflowing, 'pages wider than a 360 px phone').toEqual([]);
});

test('a volunteer saves a visit with a tap, and the skip link moves focus', async ({ page }, info) => {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
  await watchCsp(page);
  await page.goto(`/pantries/${ids.main}/visit`);
  await hydrated(page);
  await shoot(page, info, 'visit-many-categories');
  const pick = page.locator('ul.pick-list').getByRole('button').first();
  const save = page.getByRole('button', { name: /Save visit · 1 item/ });
  if (info.project.name === 'phone') {
    await pick.tap();
    await expect(save).toBeVisible();
    await save.tap();
  } else {
    await pick.click();
    await save.click();
  }
  await expect(page.getByRole('button', { name: /^Save visit$/ })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__csp)).toEqual([]);

  // Keyboard: the skip link is the first stop; following it puts focus on
  // the content, and the next Tab stays there.
  await page.goto(`/pantries/${ids.main}`);
  await hydrated(page);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#main')).toBeFocused();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => !!document.activeElement?.closest('main'))).toBe(true);
});
