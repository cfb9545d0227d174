// The foundation journey, at a phone and a desktop viewport, each on a fresh
// instance: set up the first admin, build an organization, invite a staff
// member to one pantry, and check that they see that pantry and no other.
import { expect, test } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';

test.describe.configure({ mode: 'serial' });

const admin = { name: 'Ada Admin', email: 'ada@college.example', password: 'correct horse battery' };
const staff = { name: 'Sam Staff', email: 'sam@college.example', password: 'staple lantern river' };
const ids: { org?: string; campus?: string; main?: string; library?: string } = {};
let invitation = '';

test('the first admin sets up a fresh instance with the code from the log', async ({ page }, info) => {
  await open(page, '/');
  await accessible(page, 'welcome');
  await page.getByRole('link', { name: 'Set up Larder' }).click();
  await expect(page.getByRole('heading', { name: 'Set up Larder' })).toBeVisible();
  await hydrated(page);

  await page.getByLabel('Setup code').fill('WRNG-WRNG-WRNG');
  await page.getByLabel('Your name').fill(admin.name);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('That setup code is not right')).toBeVisible();
  await accessible(page, 'setup with an error');
  await shoot(page, info, 'setup-error');

  await page.getByLabel('Setup code').fill(setupCodeFromLog(info.project.name));
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('Use at least 10 characters (you typed 5).')).toBeVisible();
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page).toHaveURL(/\/organizations\/new$/);
  await expect(page.getByRole('heading', { name: 'New organization' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText(admin.name)).toBeVisible();

  // The setup page closes once the first account exists.
  await open(page, '/setup');
  await expect(page.getByRole('heading', { name: 'Larder is set up' })).toBeVisible();
});

test('the admin creates an organization, a campus and two pantries', async ({ page }, info) => {
  await signIn(page, admin);
  await open(page, '/organizations/new');
  await accessible(page, 'new organization');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByText('Enter a name for the organization.')).toBeVisible();
  await page.getByLabel('Name').fill('  State   College ');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'State College' })).toBeVisible();
  ids.org = page.url().split('/').pop();
  await hydrated(page);

  await page.getByLabel('Campus name').fill('North Campus');
  await page.getByRole('button', { name: 'Add campus' }).click();
  await expect(page.getByRole('link', { name: /North Campus/ })).toBeVisible();
  await expect(page.getByLabel('Campus name')).toHaveValue('');
  await page.getByLabel('Campus name').fill('north campus');
  await page.getByRole('button', { name: 'Add campus' }).click();
  await expect(page.getByText('There is already a campus called “north campus” in this organization.')).toBeVisible();
  await accessible(page, 'organization');
  await shoot(page, info, 'organization');

  await page.getByRole('link', { name: /North Campus/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'North Campus' })).toBeVisible();
  ids.campus = page.url().split('/').pop();
  await hydrated(page);
  for (const name of ['Main Pantry', 'Library Pantry']) {
    await page.getByLabel('Pantry name').fill(name);
    await page.getByRole('button', { name: 'Add pantry' }).click();
    await expect(page.getByRole('link', { name })).toBeVisible();
  }
  await accessible(page, 'campus');
  await shoot(page, info, 'campus');

  await page.getByRole('link', { name: 'Library Pantry' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Library Pantry' })).toBeVisible();
  ids.library = page.url().split('/').pop();
  await page.goBack();
  await page.getByRole('link', { name: 'Main Pantry' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Main Pantry' })).toBeVisible();
  ids.main = page.url().split('/').pop();
  await accessible(page, 'pantry');
  await shoot(page, info, 'pantry');

  // The pantry counts its days in its organization's zone until it
  // chooses its own; a name the zone database does not know is refused.
  await hydrated(page);
  await expect(page.getByText('UTC (the organization’s)')).toBeVisible();
  await open(page, `/pantries/${ids.main}/settings`);
  await expect(page.getByRole('heading', { level: 1, name: 'Pantry settings' })).toBeVisible();
  await page.getByLabel('Time zone').fill('Mars/Olympus_Mons');
  await page.getByRole('button', { name: 'Set time zone' }).click();
  await expect(page.getByText('“Mars/Olympus_Mons” is not a time zone we know')).toBeVisible();
  await page.getByLabel('Time zone').fill('america/chicago');
  await page.getByRole('button', { name: 'Set time zone' }).click();
  await expect(page.getByRole('button', { name: 'Set time zone' })).toBeEnabled();
  await open(page, `/pantries/${ids.main}`);
  await expect(page.locator('.facts').getByText('America/Chicago', { exact: true })).toBeVisible();
  await accessible(page, 'pantry settings');
  await shoot(page, info, 'pantry-time-zone');

  await open(page, '/');
  await expect(page.getByRole('link', { name: /Main Pantry/ })).toBeVisible();
  await expect(page.getByRole('link', { name: /Library Pantry/ })).toBeVisible();
  await accessible(page, 'home');
  await shoot(page, info, 'home');
});

test('the admin invites a staff member to one pantry', async ({ page }, info) => {
  await signIn(page, admin);
  await open(page, `/organizations/${ids.org}`);
  await page.getByRole('main').getByRole('link', { name: 'People' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'People' })).toBeVisible();
  await hydrated(page);

  await page.getByLabel('Email').fill('sam@college');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(page.getByText('“sam@college” is not an email address like name@example.org.')).toBeVisible();

  await page.getByLabel('Email').fill(staff.email);
  await page.getByLabel('Role', { exact: true }).selectOption('staff');
  await page.getByLabel('Where').selectOption({ label: 'North Campus · Main Pantry' });
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  const link = page.getByLabel('Invitation link');
  await expect(link).toHaveValue(/\/invitations\/[A-Za-z0-9_-]{43}$/);
  invitation = new URL(await link.inputValue()).pathname;
  await expect(page.getByRole('listitem').filter({ hasText: staff.email })).toContainText('Pending');
  await accessible(page, 'people');
  await shoot(page, info, 'people');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('the invited person accepts and sees only their pantry', async ({ page }, info) => {
  await open(page, invitation);
  await expect(page.getByText(`${admin.name} invited you to North Campus · Main Pantry as staff.`)).toBeVisible();
  await expect(page.getByLabel('Email')).toHaveValue(staff.email);
  await accessible(page, 'invitation');
  await shoot(page, info, 'invitation');
  await page.getByLabel('Your name').fill(staff.name);
  await page.getByLabel('Choose a password').fill(staff.password);
  await page.getByRole('button', { name: 'Create account and join' }).click();

  await expect(page.getByRole('heading', { name: `Hello, ${staff.name}` })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: /Main Pantry/ })).toBeVisible();
  await expect(page.getByRole('link', { name: /Library Pantry/ })).toHaveCount(0);

  // The invitation worked once.
  await open(page, invitation);
  await expect(page.getByText('This invitation has already been used.')).toBeVisible();

  // Sign out and back in, with a wrong password first.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await hydrated(page);
  await page.getByLabel('Email').fill(staff.email);
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('That email and password do not match an account.')).toBeVisible();
  await accessible(page, 'sign-in with an error');
  await shoot(page, info, 'sign-in');
  await signIn(page, staff);

  await open(page, `/campuses/${ids.campus}`);
  await expect(page.getByRole('main').getByRole('link', { name: 'Main Pantry' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Library Pantry' })).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Add a pantry' })).toHaveCount(0);
  await open(page, `/pantries/${ids.main}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Main Pantry' })).toBeVisible();
});

test('a direct request for another pantry is refused', async ({ page }, info) => {
  await signIn(page, staff);
  const res = await page.goto(`/pantries/${ids.library}`);
  expect(res?.status()).toBe(404);
  await expect(page.getByText('That pantry does not exist, or you do not have access to it.')).toBeVisible();
  await expect(page.getByText('Library Pantry')).toHaveCount(0);
  await shoot(page, info, 'refused');

  const api = await page.request.post('/api/pantry', { form: { id: ids.library! } });
  expect(api.status()).toBe(404);
  expect(await api.json()).toMatchObject({ kind: 'not_found' });
  const rename = await page.request.post('/api/rename_pantry', { form: { id: ids.main!, name: 'Mine now' } });
  expect(rename.status()).toBe(403);
  const people = await page.request.post('/api/people', { form: { organization: ids.org! } });
  expect(people.status()).toBe(403);
});

async function signIn(page: import('@playwright/test').Page, who: { email: string; password: string }) {
  await open(page, '/sign-in');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await hydrated(page);
}
