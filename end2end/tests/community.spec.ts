// The community, at a phone and a desktop viewport, on an instance of its
// own: a volunteer adds their photo and follows the pantry; the
// coordinator thanks everyone for Saturday's food drive with a photo of
// the shelves and names the volunteer; the post appears on the
// volunteer's open home timeline by itself; the volunteer asks in the
// comments and likes it; the coordinator is told, answers, and the
// volunteer is told of the answer and the mention.
import { APIRequestContext, Browser, expect, Page, test as base } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'community')),
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Cora Coordinator', email: 'cora@college.example', password: 'correct horse battery' };
const sam = { name: 'Sam Volunteer', email: 'sam@college.example', password: 'staple lantern river' };
const ids: Record<string, string> = {};

async function post(request: APIRequestContext, endpoint: string, form: Record<string, string>) {
  const res = await request.post(`/api/${endpoint}`, { form });
  const body = await res.json().catch(() => null);
  expect(res.ok(), `${endpoint}: ${JSON.stringify(body)}`).toBeTruthy();
  return body;
}

/** Opens the notification centre until it lists `title`: the notifier
 * works from events, a moment after the request that made them. */
async function notified(page: Page, title: string) {
  await expect(async () => {
    await open(page, '/notifications');
    await expect(page.getByText(title)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
}

/** A photo as a phone takes it (3000 × 2250, photo-sized), drawn in the
 * page: crates of food on shelves. */
async function shelfPhoto(page: Page, hue: number): Promise<Buffer> {
  const base64 = await page.evaluate(async (hue) => {
    const c = document.createElement('canvas');
    c.width = 3000;
    c.height = 2250;
    const g = c.getContext('2d')!;
    g.fillStyle = `hsl(${hue}, 35%, 80%)`;
    g.fillRect(0, 0, 3000, 2250);
    for (let shelf = 0; shelf < 4; shelf++) {
      g.fillStyle = '#6e5433';
      g.fillRect(0, 500 + shelf * 550, 3000, 60);
      for (let box = 0; box < 9; box++) {
        g.fillStyle = `hsl(${(hue + box * 37) % 360}, 60%, 45%)`;
        g.fillRect(80 + box * 320, 170 + shelf * 550, 260, 330);
      }
    }
    const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), 'image/jpeg', 0.95));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, hue);
  return Buffer.from(base64, 'base64');
}

/** True once every image in `scope` has loaded with pixels. */
async function imagesLoaded(page: Page, selector: string) {
  await expect(async () => {
    const sizes = await page.locator(selector).evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes.every((w) => w > 0)).toBeTruthy();
  }).toPass({ timeout: 10_000 });
}

/** A second person's page, in a browser context of their own. */
async function secondPage(browser: Browser, page: Page, baseURL: string): Promise<Page> {
  const context = await browser.newContext({
    baseURL,
    viewport: page.viewportSize(),
    isMobile: (page.viewportSize()?.width ?? 1000) < 500,
    hasTouch: (page.viewportSize()?.width ?? 1000) < 500,
  });
  return context.newPage();
}

test('a thank-you post reaches a follower live, who comments and likes; the coordinator is told', async ({ page, browser, baseURL }, info) => {
  await post(page.request, 'setup', {
    code: setupCodeFromLog(`${info.project.name}-community`),
    name: admin.name,
    email: admin.email,
    password: admin.password,
  });
  ids.org = await post(page.request, 'create_organization', { name: 'State College' });
  ids.campus = await post(page.request, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.main = await post(page.request, 'create_pantry', { campus: ids.campus, name: 'Main Pantry' });
  const invite = await post(page.request, 'invite', { email: sam.email, role: 'staff', scope: `pantry:${ids.main}` });

  // Sam joins, follows the pantry from its timeline, and leaves the home
  // timeline open.
  const samPage = await secondPage(browser, page, baseURL!);
  await post(samPage.request, 'accept_invitation', { token: invite.link.split('/').pop(), name: sam.name, password: sam.password });
  // Sam adds a photo of themselves first.
  await open(samPage, '/community/people');
  await hydrated(samPage);
  await samPage.getByLabel('Add your photo').setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: await shelfPhoto(samPage, 200) });
  await expect(samPage.getByText('Change your photo')).toBeVisible({ timeout: 20_000 });
  await imagesLoaded(samPage, '.avatar-edit img.avatar');
  await open(samPage, `/pantries/${ids.main}`);
  await samPage.getByRole('link', { name: 'Timeline: news, needs and thanks' }).click();
  await expect(samPage.getByRole('heading', { level: 1, name: 'Main Pantry' })).toBeVisible();
  await hydrated(samPage);
  await samPage.getByRole('button', { name: 'Follow', exact: true }).click();
  await expect(samPage.getByRole('button', { name: 'Following ✓' })).toBeVisible();
  await expect(samPage.getByText('1 follower')).toBeVisible();
  await open(samPage, '/community');
  await expect(samPage.getByText('Nothing here yet')).toBeVisible();

  // The coordinator thanks everyone on the pantry's timeline.
  await open(page, `/pantries/${ids.main}/timeline`);
  await page.getByLabel('What is it').selectOption('thanks');
  await page.getByLabel('Post', { exact: true }).fill("Thank you all for Saturday's food drive: 412 kg!\nSpecial thanks to @sam. Photos: https://photos.example/drive");
  // A photo of the full shelves: optimized here, uploaded, shown before posting.
  await hydrated(page);
  await page.getByLabel('Add photos (up to 4)').setInputFiles({ name: 'shelves.jpg', mimeType: 'image/jpeg', buffer: await shelfPhoto(page, 30) });
  await expect(page.getByTestId('picked-photo')).toHaveCount(1, { timeout: 20_000 });
  await imagesLoaded(page, '[data-testid=picked-photo] img');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  const mine = page.getByTestId('post');
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText('Thank you');
  await expect(page.getByTestId('picked-photo')).toHaveCount(0);
  await expect(mine.getByRole('img', { name: 'Photo 1 of 1' })).toBeVisible();
  await expect(mine.getByRole('link', { name: 'https://photos.example/drive' })).toBeVisible();
  await expect(page.getByLabel('Post', { exact: true })).toHaveValue('');
  await accessible(page, 'pantry timeline');
  await shoot(page, info, 'community-pantry-timeline');

  // Sam's open home timeline shows it by itself, marked new.
  const seen = samPage.getByTestId('post');
  await expect(seen).toHaveCount(1, { timeout: 20_000 });
  await expect(seen).toContainText("Saturday's food drive");
  await expect(seen.locator('.mention')).toHaveText('@sam');
  await imagesLoaded(samPage, '.post-photos img');
  await expect(samPage.getByTestId('unread')).toContainText('1 new post');
  await accessible(samPage, 'home timeline');
  await shoot(samPage, info, 'community-home-live');

  // Sam likes it and asks in the comments.
  await seen.getByRole('button', { name: /Like/ }).click();
  await expect(samPage.getByTestId('post').getByRole('button', { name: /Liked 1/ })).toBeVisible();
  await samPage.getByTestId('post').getByRole('link', { name: 'Comment' }).click();
  await expect(samPage).toHaveURL(/\/posts\//);
  await hydrated(samPage);
  await samPage.getByLabel('Add a comment').fill('Will there be another one in May?');
  await samPage.getByRole('button', { name: 'Comment', exact: true }).click();
  await expect(samPage.getByTestId('comment')).toContainText('Will there be another one in May?');
  await expect(samPage.getByLabel('Add a comment')).toHaveValue('');

  // The coordinator is told, opens the comment and answers under it.
  await notified(page, 'Sam Volunteer commented on your post');
  await expect(page.getByText('Sam Volunteer liked your post')).toBeVisible();
  await shoot(page, info, 'community-notified');
  await page.getByRole('link', { name: 'Sam Volunteer commented on your post' }).click();
  await expect(page).toHaveURL(/\/posts\/.*#comment-/);
  await hydrated(page);
  const question = page.getByTestId('comment');
  await imagesLoaded(page, '[data-testid=comment] img.avatar');
  await question.locator('summary', { hasText: 'Reply' }).click();
  await question.getByLabel('Your reply').fill('Yes: May 9th, same place. Thanks for asking!');
  await question.getByRole('button', { name: 'Reply', exact: true }).click();
  await expect(page.getByTestId('reply')).toContainText('May 9th');
  await expect(question.getByLabel('Your reply')).toHaveValue('');
  await accessible(page, 'post with comments');
  await shoot(page, info, 'community-thread');

  // Sam hears of the answer and of the mention.
  await notified(samPage, 'Cora Coordinator replied to your comment');
  await expect(samPage.getByText('Cora Coordinator mentioned you in a post')).toBeVisible();
  await samPage.context().close();
});
