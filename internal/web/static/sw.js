// camvault's service worker: shows a notification for each push the
// server sends (docs/design/push.md). The push carries only the camera's
// name, the kind, the time and where the event is; the picture is fetched
// here, with this browser's login, through the same route as the timeline
// uses, so someone who lost access to the camera gets no picture.
"use strict";

const kinds = { motion: "Motion", person: "Person", vehicle: "Vehicle", animal: "Animal", package: "Package", sound: "Sound", doorbell: "Doorbell" };

self.addEventListener("push", (event) => {
  event.waitUntil(show(event.data));
});

async function show(data) {
  let p = {};
  try {
    p = data ? data.json() : {};
  } catch (e) {
    p = {};
  }
  const title = (p.camera || "A camera") + ": " + (kinds[p.kind] || "Event");
  const options = {
    body: p.at ? "at " + new Date(p.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "",
    tag: p.event_id || undefined,
    icon: "/static/icon.svg",
    data: { url: typeof p.url === "string" && p.url.startsWith("/events/") ? p.url : "/events" },
  };
  if (typeof p.thumbnail_url === "string" && p.thumbnail_url.startsWith("/api/v1/events/")) {
    try {
      const res = await fetch(p.thumbnail_url, { credentials: "same-origin" });
      if (res.ok) options.image = await dataURL(await res.blob());
    } catch (e) {
      // No picture: the notification still says what happened.
    }
  }
  await self.registration.showNotification(title, options);
}

function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/events", self.location.origin);
  event.waitUntil(self.clients.openWindow(url.href));
});
