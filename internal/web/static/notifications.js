// Turns notifications on for this browser (docs/design/push.md): registers
// the service worker, asks for permission, subscribes with the server's
// VAPID key and gives the subscription, with the choices made, to the
// server. What cannot be done is said in the panel.
"use strict";

(() => {
  const panel = document.getElementById("notifications");
  const button = document.getElementById("push-on");
  const problem = document.getElementById("push-error");
  if (!panel || !button) return;
  const say = (text) => {
    problem.textContent = text;
    problem.hidden = false;
  };
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    button.disabled = true;
    say("This browser cannot show notifications from camvault.");
    return;
  }
  button.addEventListener("click", async () => {
    problem.hidden = true;
    button.disabled = true;
    try {
      const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      if ((await Notification.requestPermission()) !== "granted") {
        throw new Error("notifications are blocked for camvault in this browser's settings");
      }
      const keyRes = await fetch("/api/v1/push/vapid-public-key", { headers: { Accept: "application/json" } });
      if (!keyRes.ok) throw new Error("the server's key could not be read");
      const { key } = await keyRes.json();
      await navigator.serviceWorker.ready;
      let sub;
      try {
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) });
      } catch (e) {
        throw new Error("this browser's push service could not be reached (" + e.message + ")");
      }
      const json = sub.toJSON();
      const body = { endpoint: json.endpoint, keys: json.keys };
      const kinds = [...panel.querySelectorAll('input[name="kind"]:checked')].map((i) => i.value);
      const devices = [...panel.querySelectorAll('input[name="device"]:checked')].map((i) => i.value);
      if (kinds.length) body.kinds = kinds;
      if (devices.length) body.devices = devices;
      const from = panel.querySelector("#quiet-from").value, to = panel.querySelector("#quiet-to").value;
      if (from && to) body.quiet = { from, to, tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "" };
      const res = await fetch("/api/v1/push/subscriptions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": button.dataset.csrf },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        const answer = await res.json().catch(() => ({}));
        await sub.unsubscribe().catch(() => {});
        throw new Error((answer.error && answer.error.message) || "the server refused it");
      }
      location.assign("/account?done=notifications-on#notifications");
    } catch (e) {
      say("Notifications could not be turned on: " + e.message + ".");
      button.disabled = false;
    }
  });

  function bytes(s) {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out;
  }
})();
