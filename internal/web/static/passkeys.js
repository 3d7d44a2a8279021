// camvault passkeys: adding a passkey on the Account page, and logging in
// with one on the login page (WebAuthn). The server keeps each ceremony's
// challenge and checks the answer; this file only carries them between
// the server and the browser's authenticator.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const add = document.getElementById("add-passkey");
  if (add) add.addEventListener("click", () => run(add, addPasskey));
  const login = document.getElementById("passkey-login");
  if (login) login.addEventListener("click", () => run(login, loginWithPasskey));
});

async function run(button, ceremony) {
  const problem = document.getElementById("passkey-error");
  problem.hidden = true;
  if (!window.PublicKeyCredential) {
    show(problem, "This browser cannot use passkeys.");
    return;
  }
  button.disabled = true;
  try {
    await ceremony(button);
  } catch (err) {
    show(problem, err.name === "NotAllowedError" ? "The passkey was not used. Try again." : (err.message || String(err)));
    button.disabled = false;
  }
}

function show(el, text) {
  el.textContent = text;
  el.hidden = false;
}

async function addPasskey(button) {
  const csrf = button.dataset.csrf;
  const begun = await call("/api/v1/me/passkeys/challenges", { "X-CSRF-Token": csrf });
  const pk = begun.options.publicKey;
  pk.challenge = bytes(pk.challenge);
  pk.user.id = bytes(pk.user.id);
  for (const c of pk.excludeCredentials || []) c.id = bytes(c.id);
  const cred = await navigator.credentials.create({ publicKey: pk });
  const response = {
    clientDataJSON: text(cred.response.clientDataJSON),
    attestationObject: text(cred.response.attestationObject),
  };
  if (cred.response.getTransports) response.transports = cred.response.getTransports();
  await call("/api/v1/me/passkeys", { "X-CSRF-Token": csrf }, { challenge: begun.challenge, credential: credential(cred, response) });
  location.href = "/account?done=passkey-added";
}

async function loginWithPasskey(button) {
  const begun = await call("/api/v1/sessions/passkey/challenges", {});
  const pk = begun.options.publicKey;
  pk.challenge = bytes(pk.challenge);
  for (const c of pk.allowCredentials || []) c.id = bytes(c.id);
  const cred = await navigator.credentials.get({ publicKey: pk });
  const response = {
    clientDataJSON: text(cred.response.clientDataJSON),
    authenticatorData: text(cred.response.authenticatorData),
    signature: text(cred.response.signature),
    userHandle: cred.response.userHandle ? text(cred.response.userHandle) : "",
  };
  const done = await call("/login/passkey", {}, { challenge: begun.challenge, credential: credential(cred, response), next: button.dataset.next || "/events" });
  location.href = done.next;
}

function credential(cred, response) {
  return {
    id: cred.id,
    rawId: text(cred.rawId),
    type: cred.type,
    response: response,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

// call POSTs JSON (or nothing) and returns the JSON answer, or throws the
// server's message.
async function call(url, headers, body) {
  const init = { method: "POST", credentials: "same-origin", headers: Object.assign({ Accept: "application/json" }, headers) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((answer.error && answer.error.message) || "camvault could not do that just now.");
  return answer;
}

// bytes decodes base64url; text encodes bytes as base64url.
function bytes(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out.buffer;
}

function text(buf) {
  let s = "";
  for (const c of new Uint8Array(buf)) s += String.fromCharCode(c);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
