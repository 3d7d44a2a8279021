// camvault web app: small enhancements over server-rendered pages. Every
// page works without this file; with it, times show in local time, the
// timeline loads more as you scroll, thumbnails enlarge in place, and clips
// whose format the browser cannot play are shown frame by frame.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  confirmForms();
  autoFilters();
  timeline();
  player();
});

// localTimes shows absolute times in the viewer's time zone.
function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const t of root.querySelectorAll("time[datetime]")) {
    if (!t.textContent.endsWith("UTC")) continue;
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.textContent = fmt.format(d);
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

// player plays an event's clip. A clip in a format the browser can play
// uses the video element (which seeks with Range requests). A clip of
// plain JPEG frames (what simple cameras send) is fetched with Range
// requests and shown frame by frame, with a position slider to seek.
function player() {
  const section = document.getElementById("player");
  if (!section) return;
  const video = document.getElementById("clip-video");
  const status = document.getElementById("player-status");
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
