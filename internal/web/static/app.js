// camvault web app: small enhancements over server-rendered pages. Every
// page works without this file; with it, times show in local time, the
// timeline loads more as you scroll, thumbnails enlarge in place, and clips
// whose format the browser cannot play are shown frame by frame. The live
// page plays a camera over WebRTC, or over a WebSocket of fragmented MP4
// when WebRTC cannot connect, and keeps "N watching now" current.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  confirmForms();
  autoFilters();
  timeline();
  liveFeed();
  player();
  live();
});

// localTimes shows absolute times in the viewer's time zone: a date and
// time, the time alone with seconds (data-format="clock", under a day's
// heading), or a date and time with seconds (data-format="seconds").
function localTimes(root) {
  const fmts = {
    "": new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }),
    clock: new Intl.DateTimeFormat(undefined, { timeStyle: "medium" }),
    seconds: new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }),
  };
  for (const t of root.querySelectorAll("time[datetime]")) {
    if (!t.textContent.endsWith("UTC")) continue;
    const d = new Date(t.getAttribute("datetime"));
    const fmt = fmts[t.dataset.format || ""] || fmts[""];
    if (!isNaN(d)) t.textContent = fmt.format(d);
  }
}

// dayKey is a time's day in the viewer's time zone, 2006-01-02.
function dayKey(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// dayName names a day as the timeline heads it: Today, Yesterday, or its
// weekday and date (with the year when it is not this year's).
function dayName(d) {
  const now = new Date();
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(d) === dayKey(now)) return "Today";
  if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
  const opts = { weekday: "long", day: "numeric", month: "long" };
  if (d.getFullYear() !== now.getFullYear()) opts.year = "numeric";
  return new Intl.DateTimeFormat(undefined, opts).format(d);
}

// dayHeadings heads each day's first event in the timeline with the
// day, in the viewer's time zone (the server's headings are in UTC).
function dayHeadings(list) {
  for (const h of list.querySelectorAll(":scope > li.day")) h.remove();
  let last = "";
  for (const li of list.querySelectorAll(":scope > li.event")) {
    const d = new Date(li.querySelector("time[datetime]")?.getAttribute("datetime"));
    if (isNaN(d)) continue;
    const key = dayKey(d);
    if (key === last) continue;
    last = key;
    const h = document.createElement("li");
    h.className = "day";
    h.dataset.day = key;
    const h2 = document.createElement("h2");
    h2.textContent = dayName(d);
    h.append(h2);
    list.insertBefore(h, li);
  }
}

// confirmForms asks before a form that removes something is sent.
function confirmForms() {
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
}

// autoFilters applies a filter as soon as it changes.
function autoFilters() {
  const form = document.getElementById("filters");
  if (!form) return;
  for (const el of form.querySelectorAll("select, input[type=date]")) {
    el.addEventListener("change", () => {
      // A new filter starts from the newest event again.
      form.requestSubmit();
    });
  }
}

// timeline loads older events as the "Load older events" link scrolls into
// view, and opens a thumbnail enlarged in a dialog.
function timeline() {
  const list = document.getElementById("timeline");
  if (!list) return;
  dayHeadings(list);
  let loading = false;
  const loadMore = async (link) => {
    if (loading) return;
    loading = true;
    link.textContent = "Loading…";
    try {
      const url = new URL(link.href, location.href);
      url.searchParams.set("part", "1");
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (res.redirected || !res.ok) {
        location.href = link.href; // signed out or failed: let the page say so
        return;
      }
      const tpl = document.createElement("template");
      tpl.innerHTML = await res.text();
      localTimes(tpl.content);
      link.closest("li").remove();
      if (!tpl.content.querySelector("li")) {
        const end = document.createElement("li");
        end.className = "more help";
        end.textContent = "No older events.";
        tpl.content.append(end);
      }
      list.append(tpl.content);
      dayHeadings(list);
      watch();
    } catch (err) {
      link.textContent = "Could not load; try again";
      list.dataset.error = String(err);
    } finally {
      loading = false;
    }
  };
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
        for (const e of entries) if (e.isIntersecting) loadMore(e.target);
      }, { rootMargin: "600px 0px" })
    : null;
  const watch = () => {
    const link = list.querySelector(".load-more");
    if (!link) return;
    link.addEventListener("click", (e) => { e.preventDefault(); loadMore(link); });
    if (observer) observer.observe(link);
  };
  watch();

  const dialog = document.getElementById("enlarge");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const img = document.getElementById("enlarge-image");
  const title = document.getElementById("enlarge-title");
  const open = document.getElementById("enlarge-open");
  list.addEventListener("click", (e) => {
    const a = e.target.closest("a.thumb");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    img.src = a.dataset.src;
    img.alt = a.querySelector("img").alt;
    const card = a.closest("li");
    title.textContent = [".camera-name", ".kind", "time"]
      .map((sel) => card.querySelector(sel)?.textContent.trim())
      .filter(Boolean).join(" · ") || a.dataset.title;
    open.href = a.getAttribute("href");
    opener = a;
    dialog.showModal();
  });
  // Closing returns the keyboard focus to the thumbnail that opened it.
  let opener = null;
  dialog.addEventListener("close", () => { if (opener) opener.focus(); });
  document.getElementById("enlarge-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

// codecTypes are the media types a browser is asked about before it is
// given a clip of each codec the server reads.
const codecTypes = {
  h264: { name: "H.264", type: 'video/mp4; codecs="avc1.42E01E"' },
  h265: { name: "H.265", type: 'video/mp4; codecs="hvc1.1.6.L93.B0"' },
};

// canPlay reports whether the browser says it can play a codec's MP4.
function canPlay(video, type) {
  if (video.canPlayType(type) !== "") return true;
  return "MediaSource" in window && MediaSource.isTypeSupported(type);
}

// player plays an event's clip. A clip in a format the browser can play
// uses the video element (which seeks with Range requests). An H.264 or
// H.265 clip the browser cannot play is not given to the video element:
// the page says so and offers the download. A clip of another format
// (plain JPEG frames, from simple cameras, stored before the server read
// codecs) is fetched with Range requests and shown frame by frame, with
// a position slider to seek.
function player() {
  const section = document.getElementById("player");
  if (!section) return;
  const video = document.getElementById("clip-video");
  const status = document.getElementById("player-status");
  const codec = codecTypes[section.dataset.codec];
  if (codec) {
    const source = video.querySelector("source");
    const cannot = (msg) => {
      if (source) source.remove();
      video.removeAttribute("src");
      video.load();
      video.hidden = true;
      section.dataset.playable = "false";
      status.textContent = msg;
      document.getElementById("download-clip")?.classList.add("primary");
    };
    if (!canPlay(video, source?.type || codec.type)) {
      cannot(`This browser cannot play ${codec.name} video. Download the clip to watch it.`);
      return;
    }
    section.dataset.playable = "true";
    // A source that fails says so on itself, not on the video. The
    // video's networkState is not read here: it is NETWORK_NO_SOURCE for
    // a moment at the start of every source selection, so a busy page
    // would take a clip that is about to load for one that failed.
    const failed = () => cannot("This clip could not be played here. Download it to watch it.");
    (source || video).addEventListener("error", failed);
    if (video.error) failed();
    return;
  }
  let fellBack = false;
  const fallback = () => {
    if (fellBack) return;
    fellBack = true;
    video.removeAttribute("src");
    video.load();
    video.hidden = true;
    frames(section.dataset.clip, status).catch(() => {
      status.textContent = "This clip could not be played.";
    });
  };
  video.addEventListener("error", fallback);
  video.addEventListener("loadedmetadata", () => {
    // A file with no video track loads but shows nothing.
    if (video.videoWidth === 0) fallback();
  });
  if (video.error) fallback();
}

const chunk = 512 * 1024;

// fetchClip reads a clip in Range requests of at most chunk bytes.
async function fetchClip(url) {
  const parts = [];
  let start = 0, total = Infinity;
  while (start < total) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Range: `bytes=${start}-${start + chunk - 1}` } });
    if (res.status === 200) return new Uint8Array(await res.arrayBuffer());
    if (res.status !== 206) throw new Error(`clip: HTTP ${res.status}`);
    const m = /\/(\d+)$/.exec(res.headers.get("Content-Range") || "");
    if (!m) throw new Error("clip: no Content-Range");
    total = Number(m[1]);
    const buf = new Uint8Array(await res.arrayBuffer());
    parts.push(buf);
    start += buf.length;
    if (buf.length === 0) break;
  }
  const out = new Uint8Array(start);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

// parseClip finds the duration (mvhd) and the JPEG frames (mdat) of an
// ISO base media file.
function parseClip(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = (o) => String.fromCharCode(b[o + 4], b[o + 5], b[o + 6], b[o + 7]);
  let duration = 0, mdat = null;
  const walk = (start, end) => {
    let o = start;
    while (o + 8 <= end) {
      let size = dv.getUint32(o);
      const t = type(o);
      let head = 8;
      if (size === 1) { size = Number(dv.getBigUint64(o + 8)); head = 16; }
      if (size === 0) size = end - o;
      if (size < head || o + size > end) break;
      if (t === "moov") walk(o + head, o + size);
      if (t === "mvhd") {
        const v = b[o + head];
        const scale = v === 1 ? dv.getUint32(o + head + 20) : dv.getUint32(o + head + 12);
        const dur = v === 1 ? Number(dv.getBigUint64(o + head + 24)) : dv.getUint32(o + head + 16);
        if (scale > 0) duration = dur / scale;
      }
      if (t === "mdat") mdat = b.subarray(o + head, o + size);
      o += size;
    }
  };
  walk(0, b.length);
  const frames = [];
  if (mdat) {
    let start = -1;
    for (let i = 0; i + 1 < mdat.length; i++) {
      if (start < 0 && mdat[i] === 0xff && mdat[i + 1] === 0xd8) start = i;
      else if (start >= 0 && mdat[i] === 0xff && mdat[i + 1] === 0xd9) {
        frames.push(mdat.subarray(start, i + 2));
        start = -1;
        i++;
      }
    }
  }
  return { duration, frames };
}

async function frames(url, status) {
  status.textContent = "Loading clip…";
  const clip = parseClip(await fetchClip(url));
  if (clip.frames.length === 0) {
    status.textContent = "This clip could not be played.";
    return;
  }
  const urls = clip.frames.map((f) => URL.createObjectURL(new Blob([f], { type: "image/jpeg" })));
  const box = document.getElementById("frames");
  const img = document.getElementById("frame");
  const seek = document.getElementById("seek");
  const play = document.getElementById("play");
  const pos = document.getElementById("position");
  const n = urls.length;
  const dur = clip.duration > 0 ? clip.duration : n * 0.2;
  const step = dur / n;
  seek.max = String(n - 1);
  seek.setAttribute("aria-valuetext", "");
  let at = 0, timer = null;
  const show = (i) => {
    at = i;
    img.src = urls[i];
    img.alt = `Clip frame ${i + 1} of ${n}`;
    seek.value = String(i);
    const secs = (i * step).toFixed(1);
    pos.textContent = `${secs} s`;
    seek.setAttribute("aria-valuetext", `${secs} of ${dur.toFixed(1)} seconds`);
    box.dataset.frame = String(i);
  };
  const stop = () => {
    clearInterval(timer);
    timer = null;
    play.textContent = "Play";
    box.dataset.playing = "false";
  };
  play.addEventListener("click", () => {
    if (timer) { stop(); return; }
    if (at >= n - 1) show(0);
    play.textContent = "Pause";
    box.dataset.playing = "true";
    timer = setInterval(() => {
      if (at >= n - 1) { stop(); return; }
      show(at + 1);
    }, step * 1000);
  });
  seek.addEventListener("input", () => { stop(); show(Number(seek.value)); });
  show(0);
  box.hidden = false;
  status.textContent = `${n} frames, ${dur.toFixed(1)} seconds.`;
  box.dataset.ready = "true";
}

// live plays a camera live: WebRTC (WHEP) first, then, if that cannot
// connect, fragmented MP4 over a WebSocket through Media Source Extensions.
// ?transport=webrtc or ?transport=mse picks one (for tests and support).
function live() {
  const section = document.getElementById("live");
  if (!section) return;
  const video = document.getElementById("live-video");
  const status = document.getElementById("live-status");
  const transport = document.getElementById("live-transport");
  const again = document.getElementById("live-again");
  const api = section.dataset.api;
  const csrf = section.dataset.csrf;
  const forced = new URLSearchParams(location.search).get("transport");
  let stop = () => {};
  const say = (text) => { status.textContent = text; };
  const ended = (text) => {
    stop();
    stop = () => {};
    section.dataset.state = "ended";
    say(text);
    again.hidden = false;
  };
  const playing = (name) => {
    section.dataset.state = "playing";
    section.dataset.transport = name;
    transport.textContent = name === "webrtc" ? "· WebRTC" : "· WebSocket";
    say("Live");
  };
  const start = async () => {
    again.hidden = true;
    section.dataset.state = "connecting";
    say("Connecting…");
    if (forced !== "mse" && "RTCPeerConnection" in window) {
      try {
        stop = await whep(api, csrf, video, () => playing("webrtc"), ended);
        return;
      } catch (err) {
        if (err.final) { ended(err.message); return; }
        section.dataset.webrtcError = String(err);
        if (forced === "webrtc") { ended("WebRTC could not connect."); return; }
      }
    }
    if (!("MediaSource" in window)) { ended("This browser cannot play live video."); return; }
    stop = mse(api, video, () => playing("mse"), ended);
  };
  again.addEventListener("click", start);
  window.addEventListener("pagehide", () => stop());
  start();
  watchers();
}

// refusal turns the API's answer to a live request into a message; final
// when the other transport would be refused the same way.
async function refusal(res) {
  let msg = "";
  try { msg = (await res.json()).error.message; } catch { /* not JSON */ }
  const err = new Error({
    401: "You are signed out. Log in again to watch.",
    404: "This camera is not there, or not yours to watch.",
    409: "The camera is offline.",
  }[res.status] || msg || `The server answered ${res.status}.`);
  err.final = [401, 403, 404, 409].includes(res.status) || (res.status === 429 && !/WebRTC/.test(msg));
  return err;
}

// whep connects over WebRTC and resolves, once video flows, to a function
// that ends the session; it rejects when WebRTC cannot connect.
async function whep(api, csrf, video, onPlaying, onEnded) {
  const pc = new RTCPeerConnection();
  let location = null;
  const stop = () => {
    pc.close();
    if (location) {
      fetch(location, { method: "DELETE", credentials: "same-origin", keepalive: true, headers: { "X-CSRF-Token": csrf } }).catch(() => {});
      location = null;
    }
  };
  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    const track = new Promise((resolve) => { pc.ontrack = (e) => resolve(e.streams[0] || new MediaStream([e.track])); });
    await pc.setLocalDescription(await pc.createOffer());
    // All candidates go in the offer (no trickle); on a LAN that takes
    // milliseconds, and a slow interface is not waited for long.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") { resolve(); return; }
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
      setTimeout(resolve, 2000);
    });
    const res = await fetch(api + "/whep", {
      method: "POST", credentials: "same-origin", body: pc.localDescription.sdp,
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf },
    });
    if (res.status !== 201) throw await refusal(res);
    location = res.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("WebRTC did not connect")), 8000);
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "connected") { clearTimeout(timer); resolve(); }
        if (pc.connectionState === "failed" || pc.connectionState === "closed") { clearTimeout(timer); reject(new Error("WebRTC failed")); }
      });
    });
    video.srcObject = await track;
    video.addEventListener("playing", onPlaying, { once: true });
    await video.play().catch(() => {});
  } catch (err) {
    stop();
    throw err;
  }
  // The server closes the peer connection when the stream ends or access
  // is lost: the page cannot tell which, and says so plainly.
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) {
      onEnded("The live view ended. You may have lost access to this camera, or the stream stopped.");
    }
  });
  return stop;
}

// mse streams fragmented MP4 over a WebSocket into Media Source
// Extensions, keeping playback near the live edge. It returns a function
// that ends the stream.
function mse(api, video, onPlaying, onEnded) {
  const url = new URL(api + "/mse", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url, "camvault.live.v1");
  ws.binaryType = "arraybuffer";
  const ms = new MediaSource();
  video.srcObject = null;
  video.src = URL.createObjectURL(ms);
  const queue = [];
  let sb = null, open = false, done = false, started = false;
  ms.addEventListener("sourceopen", () => { open = true; pump(); }, { once: true });
  const pump = () => {
    if (!open || queue.length === 0) return;
    if (!sb) {
      const type = codecOf(queue[0]);
      if (!type || !MediaSource.isTypeSupported(type)) { fail("This browser cannot play this camera's video."); return; }
      sb = ms.addSourceBuffer(type);
      sb.mode = "segments";
      sb.addEventListener("updateend", () => {
        const b = video.buffered;
        if (b.length > 0) {
          const end = b.end(b.length - 1);
          // Keep near the live edge, and no more than a minute behind it.
          if (end - video.currentTime > 1.5) video.currentTime = Math.max(b.start(b.length - 1), end - 0.2);
          if (!sb.updating && b.start(0) < end - 60) { sb.remove(0, end - 30); return; }
          if (!started) {
            started = true;
            video.addEventListener("playing", onPlaying, { once: true });
            video.play().catch(() => {});
          }
        }
        pump();
      });
    }
    if (sb.updating) return;
    try {
      sb.appendBuffer(queue.shift());
    } catch (err) {
      fail("The live video could not be played.");
    }
  };
  const fail = (text) => {
    if (done) return;
    done = true;
    ws.close();
    onEnded(text);
  };
  ws.onmessage = (e) => {
    // A viewer this far behind will not catch up: start again.
    if (queue.length > 300) { fail("The live video fell too far behind."); return; }
    queue.push(new Uint8Array(e.data));
    pump();
  };
  ws.onclose = (e) => {
    if (done) return;
    done = true;
    if (e.code === 4403) onEnded("You no longer have access to this camera.");
    else if (e.code === 1000) onEnded("The live view ended.");
    else onEnded("The live view lost its connection.");
  };
  return () => { done = true; ws.close(); };
}

// codecOf reads the MIME type from an init segment's avcC box:
// video/mp4; codecs="avc1.PPCCLL".
function codecOf(init) {
  for (let i = 4; i + 8 < init.length; i++) {
    if (init[i] === 0x61 && init[i + 1] === 0x76 && init[i + 2] === 0x63 && init[i + 3] === 0x43) { // "avcC"
      const hex = (b) => b.toString(16).padStart(2, "0");
      return `video/mp4; codecs="avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}"`;
    }
  }
  return null;
}

// watchers reloads the "N watching now" panel every few seconds.
function watchers() {
  const box = document.getElementById("watchers");
  if (!box) return;
  const load = async () => {
    try {
      const res = await fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!res.ok || res.redirected) return;
      const tpl = document.createElement("template");
      tpl.innerHTML = await res.text();
      localTimes(tpl.content);
      box.replaceChildren(tpl.content);
    } catch { /* try again on the next tick */ }
  };
  setInterval(load, 3000);
  setTimeout(load, 500);
}

// liveFeed keeps the page current from the event stream: new events go to
// the top of the timeline, camera cards follow their cameras online and
// offline. The server decides each message for this viewer; when it ends
// the stream because access changed, the page reloads to show what is
// still this viewer's.
function liveFeed() {
  const feed = document.getElementById("live-feed");
  if (!feed || !("EventSource" in window)) return;
  const names = new Map();
  for (const o of document.querySelectorAll("#filter-camera option")) {
    if (o.value) names.set(o.value, o.textContent);
  }
  const src = new EventSource(feed.dataset.stream);
  feed.dataset.state = "connecting";
  src.addEventListener("open", () => { feed.dataset.state = "open"; });
  src.addEventListener("event", (m) => {
    const ev = JSON.parse(m.data);
    let list = document.getElementById("timeline");
    if (!list) {
      const empty = document.getElementById("no-events");
      if (!empty) return;
      list = document.createElement("ol");
      list.className = "timeline";
      list.id = "timeline";
      list.setAttribute("aria-label", "Events, newest first");
      empty.replaceWith(list);
    }
    if (list.querySelector(`a.thumb[data-id="${CSS.escape(ev.id)}"]`)) return;
    const item = eventItem(ev, names.get(ev.device_id) || "A camera");
    localTimes(item);
    // Newest first by the camera's time: an event a camera kept while
    // offline arrives late and goes where it belongs.
    const at = Date.parse(ev.started_at);
    const next = [...list.querySelectorAll(":scope > li.event")]
      .find((li) => Date.parse(li.querySelector("time")?.getAttribute("datetime")) < at);
    if (next) list.insertBefore(item, next);
    else if (!list.querySelector(".load-more")) list.append(item);
    // else it is older than everything shown and comes with the next page
    dayHeadings(list);
  });
  src.addEventListener("device", (m) => {
    const d = JSON.parse(m.data);
    const card = document.querySelector(`li.camera[data-camera="${CSS.escape(d.id)}"]`);
    const status = card && card.querySelector(".status");
    if (!status) return;
    status.classList.toggle("online", d.online);
    status.classList.toggle("offline", !d.online);
    status.textContent = d.online ? "Online" : "Offline";
  });
  src.addEventListener("end", (m) => {
    const reason = JSON.parse(m.data).reason;
    if (reason === "revoked" || reason === "logged_out") {
      src.close();
      location.reload();
    }
  });
}

// clipLength is a clip's length as the server writes it: 0:08, 12:34,
// 1:02:03, to the nearest second.
function clipLength(ms) {
  const s = Math.round(ms / 1000);
  const p = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
  return `${Math.floor(s / 60)}:${p(s % 60)}`;
}

// eventItem is one timeline entry, as the server renders it.
function eventItem(ev, camera) {
  const when = new Date(ev.started_at);
  const li = document.createElement("li");
  li.className = "event";
  const a = document.createElement("a");
  a.className = "thumb";
  a.href = "/events/" + encodeURIComponent(ev.id);
  a.dataset.id = ev.id;
  a.dataset.src = ev.thumbnail_url;
  const img = document.createElement("img");
  img.src = ev.thumbnail_url;
  img.alt = `${ev.kind} seen by ${camera} at ${when.toLocaleString()}`;
  img.width = 320;
  img.height = 180;
  a.append(img);
  if (ev.clip_url) {
    const badge = document.createElement("span");
    badge.className = "badge-clip";
    badge.setAttribute("aria-hidden", "true");
    badge.textContent = "▶";
    if (ev.clip) {
      badge.classList.add("with-duration");
      badge.textContent += " " + clipLength(ev.clip.duration_ms);
    }
    a.append(badge);
  }
  const meta = document.createElement("div");
  meta.className = "event-meta";
  const name = document.createElement("span");
  name.className = "camera-name";
  name.textContent = camera;
  const kind = document.createElement("span");
  kind.className = "kind kind-" + String(ev.kind).replace(/[^a-z]/g, "");
  kind.textContent = ev.kind;
  const time = document.createElement("time");
  time.setAttribute("datetime", ev.started_at.replace(/\.\d+Z$/, "Z"));
  time.dataset.format = "clock";
  time.textContent = when.toISOString().slice(11, 19) + " UTC";
  meta.append(name, kind, time);
  li.append(a, meta);
  return li;
}
