// Identity, at a phone and a desktop viewport, each on an instance of its
// own that signs in through the test OpenID Connect issuer: a volunteer
// invited by email signs in with "Google", sees their pantry, and signs out
// of both; the admin changes the volunteer's role and removes them; an
// integrator's key reads the ledger until it is revoked; the admin, having
// forgotten their password, gets a link by email and chooses a new one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APIRequestContext, expect, Page, test as base } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl, issuerPort } from '../playwright.config';
import { mailDir } from '../global-setup';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'identity')),
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

async function signInAsAdmin(page: Page) {
  await post(page.request, 'sign_in', { email: admin.email, password: admin.password });
}

test('a volunteer invited by email signs in with Google and out of both', async ({ page }, info) => {
  await post(page.request, 'setup', {
    code: setupCodeFromLog(`${info.project.name}-identity`),
    name: admin.name,
    email: admin.email,
    password: admin.password,
  });
  ids.org = await post(page.request, 'create_organization', { name: 'State College' });
  ids.campus = await post(page.request, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  await post(page.request, 'invite', { email: 'gia@college.example', role: 'staff', scope: `pantry:${ids.main}` });
  await post(page.request, 'sign_out', {});

  await open(page, '/sign-in');
  const google = page.getByRole('link', { name: 'Sign in with Google' });
  await expect(google).toBeVisible();
  await accessible(page, 'sign-in with single sign-on');
  await shoot(page, info, 'sign-in-sso');
  await google.click();
  // The pool's page (here the test issuer's account chooser).
  await expect(page).toHaveURL(new RegExp(`^http://127.0.0.1:${issuerPort}/oauth2/authorize`));
  await page.getByLabel('Email').fill('gia@college.example');
  await page.getByRole('button', { name: 'Continue' }).click();
  // Back in Larder, signed in as the invited volunteer, with their pantry.
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'Gia Google' })).toBeVisible();
  await open(page, '/account');
  const main = page.getByRole('main');
  await expect(main.getByText('gia@college.example')).toBeVisible();
  await expect(main.getByText('Google (single sign-on)', { exact: true })).toBeVisible();
  await expect(main.getByText(/Staff at North Campus · Main Pantry/)).toBeVisible();
  await expect(main.getByText('This browser')).toBeVisible();
  await accessible(page, 'account');
  await shoot(page, info, 'account');

  // Signing out ends Larder's session and then the pool's, and comes back.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  const res = await page.request.post('/api/account', { form: {} });
  expect(res.status()).toBe(401);

  // A callback that is replayed, or from another browser, is refused in words.
  await page.goto('/auth/callback?state=made-up&code=made-up');
  await expect(page).toHaveURL(/\/sign-in\?sso=state$/);
  await hydrated(page);
  await expect(page.getByRole('alert')).toContainText('already used, had expired, or was started in another browser');
  await shoot(page, info, 'sign-in-refused');
});

test('an admin changes a volunteer’s role and removes them', async ({ page }, info) => {
  await signInAsAdmin(page);
  await open(page, `/organizations/${ids.org}/people`);
  const memberList = page.locator('section', { has: page.getByRole('heading', { name: 'Members' }) });
  const members = memberList.getByRole('listitem').filter({ hasText: 'gia@college.example' });
  await members.getByLabel(/Role of Gia Google/).selectOption('manager');
  await members.getByRole('button', { name: 'Change role' }).click();
  await expect(members.getByText('Manager · North Campus · Main Pantry')).toBeVisible();
  await accessible(page, 'people with member changes');
  await shoot(page, info, 'people-members');

  // The last admin cannot demote themself.
  const me = memberList.getByRole('listitem').filter({ hasText: admin.email });
  await me.getByLabel(/Role of Cora Coordinator/).selectOption('viewer');
  await me.getByRole('button', { name: 'Change role' }).click();
  await expect(page.getByRole('alert')).toContainText("organization's last admin");

  await members.getByText('Remove…').click();
  await members.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(memberList.getByText('gia@college.example')).toHaveCount(0);
});

test('an integrator reads the ledger with a key until it is revoked', async ({ page, playwright }, info) => {
  await signInAsAdmin(page);
  await open(page, `/organizations/${ids.org}/api-keys`);
  await page.getByLabel('Name').fill('Till export');
  await page.getByRole('button', { name: 'Make key' }).click();
  const key = await page.getByLabel('API key').inputValue();
  expect(key).toMatch(/^lk_/);
  await expect(page.getByRole('main').getByText('Till export', { exact: true })).toBeVisible();
  await accessible(page, 'API keys');
  await shoot(page, info, 'api-keys');

  const script = await playwright.request.newContext({ baseURL: instanceUrl(info.project.name, 'identity') });
  const list = `/api/v1/pantries/${ids.main}/movements?kind=distributed`;
  const ok = await script.get(list, { headers: { authorization: `Bearer ${key}` } });
  expect(ok.status()).toBe(200);
  expect((await ok.json()).movements).toEqual([]);

  await page.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('main').getByText(/Revoked/)).toBeVisible();
  const refused = await script.get(list, { headers: { authorization: `Bearer ${key}` } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe('unauthenticated');

  // The reference page reads the same document scripts use.
  await open(page, '/developers');
  await expect(page.getByRole('heading', { level: 2, name: `GET /api/v1/pantries/{pantry_id}/movements` })).toBeVisible();
  await accessible(page, 'API reference');
  await shoot(page, info, 'api-reference');
  await script.dispose();
});

/** The emails to `to` so far, decoded from quoted-printable. */
function mailsTo(to: string): string[] {
  const dir = path.join(mailDir, 'new');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
    .filter((m) => m.includes(`X-RcptTo: ${to}`));
}

test('a coordinator who forgot their password gets a link by email', async ({ page }, info) => {
  await open(page, '/sign-in');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot$/);
  await hydrated(page);
  const before = mailsTo(admin.email).length;
  await page.getByLabel('Email').fill(admin.email);
  await page.getByRole('button', { name: 'Email me a link' }).click();
  await expect(page.getByRole('status')).toContainText('If an account uses that address, a link is on its way');
  await accessible(page, 'forgot password');
  await shoot(page, info, 'forgot-password');

  // The email arrives (each viewport's instance mails the same inbox).
  let link = '';
  await expect(async () => {
    const mails = mailsTo(admin.email);
    expect(mails.length).toBeGreaterThan(before);
    const found = mails
      .map((m) => m.match(/http:\/\/127\.0\.0\.1:\d+\/reset\/[A-Za-z0-9_-]+/)?.[0] ?? '')
      .filter((l) => l.startsWith(instanceUrl(info.project.name, 'identity')));
    expect(found.length).toBeGreaterThan(0);
    link = found[found.length - 1];
  }).toPass({ timeout: 15_000 });

  await page.goto(link);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  admin.password = 'a password chosen by email';
  await page.getByLabel('New password').fill(admin.password);
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  await expect(page.getByRole('link', { name: admin.name })).toBeVisible();
  // The link worked once.
  await page.goto(link);
  await expect(page.getByRole('main')).toContainText('has been used or has expired');
});
