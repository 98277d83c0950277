// CIM Twin live risk in the browser: risk view switch, alerts, live inspector, briefing mode (tour,
// clock, connection watch), playback and snapshot.  Risk data arrive in the server-written `risk`
// state key; this browser only reads it and calls triggers.
(function () {
  // Watch every websocket this page opens, so a lost connection shows at once.
  const NativeWebSocket = window.WebSocket;
  if (NativeWebSocket && !NativeWebSocket.__twin) {
    const Watched = function (...args) {
      const socket = new NativeWebSocket(...args);
      socket.addEventListener("close", () => window.dispatchEvent(new Event("twin-ws-closed")));
      socket.addEventListener("error", () => window.dispatchEvent(new Event("twin-ws-closed")));
      return socket;
    };
    Watched.prototype = NativeWebSocket.prototype;
    Object.assign(Watched, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3, __twin: true });
    window.WebSocket = Watched;
  }
})();

(function () {
  const style = document.createElement("style");
  style.textContent = "@keyframes twin-ticker { from { transform: translateX(100vw); } to { transform: translateX(-100%); } }" +
    " .twin-ticker { animation: twin-ticker 45s linear infinite; }" +
    " @keyframes twin-pulse { 0%, 100% { box-shadow: 0 0 0 0 rgba(230,0,0,0.9); }" +
    " 50% { box-shadow: 0 0 28px 10px rgba(230,0,0,0.75); } }" +
    " .twin-pulse { animation: twin-pulse 1.6s ease-in-out infinite; }" +
    " @media (prefers-reduced-motion: reduce) { .twin-pulse { animation: none; box-shadow: 0 0 0 6px #e60000; } }";
  document.head.appendChild(style);
})();

window.twinRisk = (function () {
  const S = (trame, key) => trame.state.get(key);
  const set = (trame, key, value) => trame.state.set(key, value);
  const ui = () => window.twinUI;
  let started = false;
  let lastAsset = null;
  let lastVersion = -1;
  let tourTimer = null;
  let playTimer = null;

  function viewId(trame) { return S(trame, "my_view"); }
  function toast(trame, text) { set(trame, "toast", { show: true, text: String(text) }); }
  async function call(trame, name, args) {
    try {
      const reply = await trame.trigger(name, args || []);
      if (reply && reply.error) { toast(trame, reply.error); return null; }
      if (reply && reply.scene) set(trame, "my_scene", reply.scene);
      if (reply && reply.camera_local && S(trame, "rendering") === "client" && trame.refs.twin_local) {
        trame.refs.twin_local.setCamera(reply.camera_local);
      }
      return reply;
    } catch (err) {
      toast(trame, "The server did not answer: " + (err && err.message ? err.message : err));
      return null;
    }
  }

  // -- risk view --------------------------------------------------------------------------
  function setRisk(trame, patch) {
    const cfg = S(trame, "cfg");
    return ui().setCfg(trame, { risk: Object.assign({}, cfg.risk || { on: false, min: 0 }, patch) });
  }
  async function selectAlert(trame, alert) {
    if (!alert || alert.index < 0) return;
    await ui().select(trame, alert.index, true);
    if (S(trame, "mode") !== "briefing") set(trame, "show_inspector", true);
  }
  async function ack(trame, id) {
    const reply = await call(trame, "twin_ack", [id, S(trame, "ack_by") || "browser"]);
    if (reply) toast(trame, reply.message);
  }
  async function refreshAsset(trame, force) {
    const ins = S(trame, "inspector");
    const risk = S(trame, "risk") || {};
    if (!ins) { if (lastAsset !== null) { lastAsset = null; set(trame, "asset_risk", null); } return; }
    if (!force && ins.index === lastAsset && risk.version === lastVersion) return;
    lastAsset = ins.index; lastVersion = risk.version;
    const reply = await call(trame, "twin_risk_asset", [ins.index]);
    if (reply && S(trame, "inspector") && S(trame, "inspector").index === reply.risk.index) {
      set(trame, "asset_risk", reply.risk);
    }
  }
  async function snapshot(trame) {
    const playback = S(trame, "playback");
    const reply = await call(trame, "twin_snapshot", [viewId(trame), playback ? S(trame, "playback_t") : null]);
    if (!reply) return;
    const bytes = Uint8Array.from(atob(reply.png), (c) => c.charCodeAt(0));
    trame.utils.download(reply.filename, bytes, "image/png");
  }

  // -- briefing: clock, tour ------------------------------------------------------------------
  function tick(trame) {
    set(trame, "clock", new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
    const risk = S(trame, "risk") || {};
    if (risk.last_reading) {
      const skew = (risk.server_time || Date.now() / 1000) - Date.now() / 1000;
      set(trame, "reading_age", Math.max(0, Date.now() / 1000 + skew - risk.last_reading));
    }
    refreshAsset(trame, false);
  }
  async function tourStep(trame) {
    const step = S(trame, "tour_step") || 0;
    const reply = await call(trame, "twin_tour", [viewId(trame), step]);
    if (reply) {
      set(trame, "tour_target", reply.target || null);
      set(trame, "tour_camera", reply.camera || null);
      set(trame, "tour_step", step + 1);
    }
  }
  function startTour(trame, holdSeconds) {
    if (tourTimer) window.clearInterval(tourTimer);
    tourStep(trame);
    tourTimer = window.setInterval(() => tourStep(trame), holdSeconds * 1000);
  }

  // -- connection watch ----------------------------------------------------------------------
  function banner() {
    // plain DOM, outside Vue: trame replaces the whole page template when its connection closes
    if (document.getElementById("twin-disconnected")) return;
    const div = document.createElement("div");
    div.id = "twin-disconnected";
    div.setAttribute("data-testid", "disconnected");
    div.textContent = "DISCONNECTED — data may be stale (reconnecting…)";
    div.style.cssText = "position: fixed; inset: 0 0 auto 0; z-index: 100000; background: #b00020; color: #fff; " +
      "font: 800 2.4rem sans-serif; text-align: center; padding: 16px;";
    document.body.appendChild(div);
  }
  function disconnected(trame) {
    if (S(trame, "disconnected")) return;
    set(trame, "disconnected", true);
    banner();
    const retry = window.setInterval(async () => {
      try {
        const answer = await fetch(window.location.pathname, { cache: "no-store" });
        if (answer.ok) { window.clearInterval(retry); window.location.reload(); }
      } catch (err) { /* still down */ }
    }, 2000);
  }
  async function heartbeat(trame) {
    if (S(trame, "disconnected")) return;
    const timeout = new Promise((resolve) => window.setTimeout(() => resolve("timeout"), 4000));
    const answer = await Promise.race([trame.trigger("twin_ping", []).catch(() => "failed"), timeout]);
    if (answer === "timeout" || answer === "failed") disconnected(trame);
  }

  // -- playback ------------------------------------------------------------------------------
  async function openPlayback(trame, minutes) {
    stopPlay();
    const reply = await call(trame, "twin_playback_open", [viewId(trame), (minutes || 60) * 60]);
    if (!reply) return;
    set(trame, "playback", reply.playback);
    set(trame, "playback_t", reply.playback.start);
    set(trame, "playback_state", reply.playback_state);
  }
  async function seek(trame, t) {
    set(trame, "playback_t", Number(t));
    const reply = await call(trame, "twin_playback_seek", [viewId(trame), Number(t)]);
    if (reply) set(trame, "playback_state", reply.playback_state);
  }
  function stopPlay() { if (playTimer) { window.clearInterval(playTimer); playTimer = null; } }
  function play(trame) {
    stopPlay();
    set(trame, "playback_playing", true);
    let busy = false;
    playTimer = window.setInterval(async () => {
      const playback = S(trame, "playback");
      if (!playback || busy) return;
      const next = Math.min(playback.end, S(trame, "playback_t") + 0.5 * (S(trame, "playback_speed") || 60));
      busy = true;
      await seek(trame, next);
      busy = false;
      if (next >= playback.end) pause(trame);
    }, 500);
  }
  function pause(trame) { stopPlay(); set(trame, "playback_playing", false); }
  async function closePlayback(trame) {
    pause(trame);
    await call(trame, "twin_playback_close", [viewId(trame)]);
    set(trame, "playback", null); set(trame, "playback_state", null);
  }

  // -- start -------------------------------------------------------------------------------
  function init(trame) {
    if (started) return;
    started = true;
    api.trame = trame;  // for tests and the console: window.twinRisk.get("risk")
    window.addEventListener("twin-ws-closed", () => disconnected(trame));
    const params = new URLSearchParams(window.location.search);
    const mode = params.get("mode") || S(trame, "default_mode") || "normal";
    set(trame, "mode", mode);
    const wait = window.setInterval(async () => {
      if (!S(trame, "ready") || !S(trame, "my_view")) return;
      window.clearInterval(wait);
      if (mode === "briefing") {
        set(trame, "show_layers", false);
        set(trame, "show_inspector", false);
        await setRisk(trame, { on: true });
        startTour(trame, Number(params.get("hold") || S(trame, "tour_hold_s") || 12));
      } else if (params.get("risk") === "on") {
        await setRisk(trame, { on: true });
      }
    }, 200);
    window.setInterval(() => tick(trame), 1000);
    window.setInterval(() => heartbeat(trame), 2000);
  }

  const api = { init, setRisk, selectAlert, ack, refreshAsset, snapshot, startTour, tourStep, openPlayback, seek, play,
           pause, closePlayback, get: (key) => api.trame && api.trame.state.get(key) };
  return api;
})();
