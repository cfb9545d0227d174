// A push service for the browser tests, on loopback.
//
// Chromium subscribes through Google's push service, which these machines
// cannot reach, so the browser's PushManager.subscribe is stood in for by
// `standInForSubscribe`: it makes a real subscription's parts (a P-256 key
// pair, a 16-byte secret, an endpoint on this server) and records what
// Larder asked with (the VAPID key). Everything on Larder's side is as in
// production: its page subscribes and registers the real service worker,
// its server encrypts (RFC 8291) and signs (RFC 8292) each push and posts
// it here. `decrypt` opens a push as the browser would, and `deliver`
// hands it to the service worker over the DevTools protocol, as the
// browser does when its push service delivers.
// Named imports only: the init script below runs in the page, where
// `crypto` must stay the browser's own.
import { createDecipheriv, createECDH, hkdfSync } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { BrowserContext, Page, expect } from '@playwright/test';

export interface Push {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What the stand-in keeps in the page's storage: a subscription and its private key. */
export interface StoredSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
  /** The private key's scalar (JWK `d`), base64url. */
  d: string;
  /** The applicationServerKey Larder subscribed with, base64url. */
  serverKey: string;
  userVisibleOnly: boolean;
}

export const STORAGE_KEY = 'larder-test-push-subscription';

/** Starts the push service; every push it receives is kept, answered 201. */
export async function startPushService(): Promise<{ url: string; pushes: Push[]; close: () => Promise<void> }> {
  const pushes: Push[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      pushes.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(parts) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/push`,
    pushes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Stands in for PushManager's subscribe and getSubscription in every page of the context. */
export async function standInForSubscribe(context: BrowserContext, endpoint: string) {
  await context.addInitScript(
    ({ endpoint, key }) => {
      const b64 = (bytes: ArrayBuffer | Uint8Array) =>
        btoa(String.fromCharCode(...new Uint8Array(bytes as ArrayBuffer)))
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '');
      const subscription = (s: any) =>
        s && {
          endpoint: s.endpoint,
          expirationTime: null,
          toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }),
          unsubscribe: async () => {
            localStorage.removeItem(key);
            return true;
          },
        };
      const stored = () => JSON.parse(localStorage.getItem(key) ?? 'null');
      (PushManager.prototype as any).getSubscription = async function () {
        return subscription(stored());
      };
      (PushManager.prototype as any).subscribe = async function (options: PushSubscriptionOptionsInit) {
        const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
        const s = {
          endpoint: `${endpoint}/${crypto.randomUUID()}`,
          p256dh: b64(await crypto.subtle.exportKey('raw', pair.publicKey)),
          auth: b64(crypto.getRandomValues(new Uint8Array(16))),
          d: (await crypto.subtle.exportKey('jwk', pair.privateKey)).d,
          serverKey: b64(options.applicationServerKey as Uint8Array),
          userVisibleOnly: options.userVisibleOnly,
        };
        localStorage.setItem(key, JSON.stringify(s));
        return subscription(s);
      };
    },
    { endpoint, key: STORAGE_KEY },
  );
}

/** The page's subscription, as the stand-in stored it. */
export async function storedSubscription(page: Page): Promise<StoredSubscription | null> {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), STORAGE_KEY);
}

/** Opens an aes128gcm push (RFC 8188, keyed per RFC 8291) with the subscriber's keys. */
export function decrypt(body: Buffer, s: StoredSubscription): string {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const senderKey = body.subarray(21, 21 + idLength);
  const sealed = body.subarray(21 + idLength);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(s.d, 'base64url'));
  const shared = ecdh.computeSecret(senderKey);
  const receiverKey = Buffer.from(s.p256dh, 'base64url');
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), receiverKey, senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, Buffer.from(s.auth, 'base64url'), info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  // One record: the text, the last record's delimiter (2), zero padding.
  let end = plain.length - 1;
  while (end > 0 && plain[end] === 0) end--;
  expect(plain[end], 'the last record delimiter').toBe(2);
  return plain.subarray(0, end).toString('utf8');
}

/** Hands a push's payload to the page's service worker, as the browser's push service would. */
export async function deliver(page: Page, data: string) {
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(page.url()).origin;
  const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await expect.poll(() => registrations.some((r) => r.scopeURL.startsWith(origin) && !r.isDeleted)).toBe(true);
  const registration = registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted)!;
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: registration.registrationId, data });
  await cdp.detach();
}

/** The titles of the notifications the service worker shows. */
export async function shownNotifications(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => n.title);
  });
}
