// Larder's service worker: shows the pushes the server sends (their
// payload is JSON: title, body, link) and opens the right page when one
// is clicked, in a Larder tab already open if there is one.
self.addEventListener('push', (event) => {
  let message = { title: 'Larder', body: '', link: '/notifications' };
  try {
    message = { ...message, ...event.data.json() };
  } catch (_) {
    // A push without a readable payload still says something happened.
  }
  event.waitUntil(self.registration.showNotification(message.title, {
    body: message.body,
    icon: '/favicon.svg',
    data: { link: message.link },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const link = new URL((event.notification.data && event.notification.data.link) || '/notifications', self.location.origin);
  // Only Larder's own pages.
  const target = link.origin === self.location.origin ? link.href : self.location.origin + '/notifications';
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of open) {
      if (new URL(client.url).origin === self.location.origin && 'navigate' in client) {
        await client.focus();
        return client.navigate(target);
      }
    }
    return self.clients.openWindow(target);
  })());
});
