// MusicID phone page: record the room, send the growing recording every ~2 s, show the answer.
// Early stop as the desktop does: two successive confident answers naming the same song.
"use strict";

const FIRST_SEND_S = 5.5;      // one model window is 5 s; shorter recordings are refused
const CHUNK_MS = 2000;         // MediaRecorder timeslice: a new chunk (and a new request) every ~2 s
const MAX_LISTEN_S = 24;       // then the last answer is final
const HISTORY_KEY = "musicid.history";

const $ = (id) => document.getElementById(id);
let session = null;

function pickMimeType() {
  if (typeof MediaRecorder === "undefined") return null;
  for (const type of ["audio/webm;codecs=opus", "audio/mp4", "audio/webm", "audio/ogg;codecs=opus"]) {
    if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

async function startListening(audioContext) {
  const mimeType = pickMimeType();
  if (mimeType === null || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("This browser cannot record here. Open the page over https:// in Safari or Chrome.");
    return;
  }
  let stream;
  try {
    // Music, not speech: no echo cancellation, noise suppression or automatic gain.
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (err) {
    if (audioContext) audioContext.close();
    setStatus("The microphone is not available: " + (err && err.message ? err.message : err) +
              ". Allow it for this page in the browser's settings.");
    return;
  }
  const recorder = mimeType ? new MediaRecorder(stream, { mimeType }) : new MediaRecorder(stream);
  session = { stream, recorder, chunks: [], started: performance.now(), inFlight: false, pendingFinal: false,
              previous: null, last: null, done: false, type: recorder.mimeType || mimeType || "audio/webm" };
  startMeter(session, audioContext);
  recorder.ondataavailable = (event) => {
    if (event.data && event.data.size) session && session.chunks.push(event.data);
    if (session && !session.done) maybeSend(false);
  };
  recorder.onstop = () => { if (session && session.pendingFinal) maybeSend(true); };
  recorder.start(CHUNK_MS);
  $("listen").setAttribute("aria-pressed", "true");
  $("listen-label").textContent = "Stop";
  setStatus("Listening…");
  session.timer = setInterval(() => tick(session), 250);
}

function tick(s) {
  if (s !== session || s.done) return;
  const seconds = elapsed(s);
  if (seconds < FIRST_SEND_S) setStatus(`Listening… ${seconds.toFixed(0)} s`);
  if (seconds >= MAX_LISTEN_S) stopListening(true);
}

function elapsed(s) { return (performance.now() - s.started) / 1000; }

function stopListening(sendFinal) {
  const s = session;
  if (!s || s.done) return;
  s.done = true;
  s.pendingFinal = sendFinal && elapsed(s) >= FIRST_SEND_S;
  clearInterval(s.timer);
  if (s.recorder.state !== "inactive") s.recorder.stop();  // flushes a last chunk, then onstop
  s.stream.getTracks().forEach((t) => t.stop());
  if (s.audioContext) s.audioContext.close();
  $("level").style.width = "0";
  $("listen").setAttribute("aria-pressed", "false");
  $("listen-label").textContent = "Listen";
  if (!s.pendingFinal) finish(s);
}

async function maybeSend(final) {
  const s = session;
  if (!s || s.inFlight || (!final && s.done) || elapsed(s) < FIRST_SEND_S || !s.chunks.length) return;
  s.inFlight = true;
  const body = new Blob(s.chunks, { type: s.type });  // the whole recording so far
  try {
    const response = await fetch("/api/v1/identify", {
      method: "POST", body, credentials: "same-origin", headers: { "Content-Type": s.type.split(";")[0] },
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = answer.error ? answer.error.message : `the server answered ${response.status}`;
      if (response.status === 401) {
        stopListening(false);
        s.finished = true;  // keep this message rather than "no answer"
        setStatus("Not paired: scan the QR code in the MusicID app again.");
      } else if (!(response.status === 422 && !final)) {
        setStatus(capitalise(message) + ".");  // a too-short partial recording is no news
      }
      return;
    }
    if (s !== session) return;
    const clear = answer.verdict === "match" && s.last && s.last.verdict === "match" &&
                  s.last.matches[0].title === answer.matches[0].title;
    showAnswer(answer, final || s.done || clear);
    s.previous = s.last;
    s.last = answer;
    if (final || clear) {
      if (clear) $("detail").textContent += " · answered early: the evidence was clear";
      if (!s.done) stopListening(false); else finish(s);
    }
  } catch (err) {
    setStatus("The server cannot be reached: " + (err && err.message ? err.message : err));
  } finally {
    s.inFlight = false;
    if (final && !s.finished) finish(s);
    else if (!final && s.done && s.pendingFinal && !s.finished) maybeSend(true);  // Stop came while in flight
  }
}

function finish(s) {
  if (s.finished) return;
  s.finished = true;
  if (s.last) {
    addHistory(s.last);
    setStatus("Done. Press Listen for another song.");
  } else {
    setStatus(elapsed(s) < FIRST_SEND_S ? "Stopped before 5 s of sound: listen a little longer." : "No answer.");
  }
}

function showAnswer(answer, final) {
  $("answer").hidden = false;
  const verdict = $("verdict");
  const best = answer.matches[0];
  if (answer.verdict === "match") {
    verdict.textContent = best.title;
    verdict.className = "verdict match";
  } else {
    verdict.textContent = "Not in your library";
    verdict.className = "verdict unknown";
  }
  $("detail").textContent = `${final ? "Answer" : "So far"} after ${answer.seconds.toFixed(0)} s of sound` +
    ` (${Math.round(answer.timings.total_ms)} ms)`;
  const list = $("matches");
  list.replaceChildren(...answer.matches.map((m) => {
    const item = document.createElement("li");
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = `${(100 * m.score).toFixed(1)} %`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${Math.max(1, 100 * m.score).toFixed(1)}%`;
    bar.append(fill);
    item.append(document.createTextNode(m.title), score, bar);
    return item;
  }));
  if (!final) setStatus("Listening… the answer refines as the recording grows");
}

function startMeter(s, audioContext) {
  if (!audioContext) return;
  s.audioContext = audioContext;
  if (audioContext.state === "suspended") audioContext.resume();
  const source = s.audioContext.createMediaStreamSource(s.stream);
  const analyser = s.audioContext.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const draw = () => {
    if (s.done) return;
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const db = 10 * Math.log10(sum / samples.length + 1e-12);   // dBFS, -60..0 shown
    $("level").style.width = `${Math.max(0, Math.min(100, (db + 60) / 60 * 100)).toFixed(0)}%`;
    requestAnimationFrame(draw);
  };
  draw();
}

function addHistory(answer) {
  const entries = loadHistory();
  entries.unshift({ when: new Date().toISOString(), verdict: answer.verdict, title: answer.matches[0].title,
                    score: answer.matches[0].score });
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(entries.slice(0, 10))); } catch (e) { /* private mode */ }
  renderHistory(entries.slice(0, 10));
}

function loadHistory() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]"); } catch (e) { return []; }
}

function renderHistory(entries) {
  const list = $("history");
  if (!entries.length) return;
  list.replaceChildren(...entries.map((e) => {
    const item = document.createElement("li");
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = new Date(e.when).toLocaleString();
    item.append(document.createTextNode(e.verdict === "match" ? e.title : `Not in your library (closest: ${e.title})`),
                when);
    return item;
  }));
}

function setStatus(text) { $("status").textContent = text; }
function capitalise(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

document.addEventListener("DOMContentLoaded", () => {
  // The pairing token has become a cookie: take it out of the address bar and the history.
  if (location.search.indexOf("token=") >= 0) history.replaceState(null, "", "/");
  renderHistory(loadHistory());
  $("listen").addEventListener("click", () => {
    if (session && !session.done) { stopListening(true); return; }
    // iOS Safari starts an AudioContext only inside the tap itself, not after an await.
    const Context = window.AudioContext || window.webkitAudioContext;
    startListening(Context ? new Context() : null);
  });
  fetch("/api/v1/server", { credentials: "same-origin" })
    .then((r) => r.ok ? r.json() : Promise.reject(r.status))
    .then((info) => { $("fingerprint").textContent = info.fingerprint || "(unknown)"; })
    .catch(() => { $("fingerprint").textContent = "(not paired)"; });
  fetch("/api/v1/model", { credentials: "same-origin" })
    .then((r) => r.ok ? r.json() : null)
    .then((model) => { if (model && !model.ready) setStatus("No model yet: " + model.message + "."); });
});
