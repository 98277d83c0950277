// CIM Twin live risk in the browser: risk view switch, alerts, live inspector, briefing mode (tour,
// clock, connection watch), playback and snapshot.  Risk data arrive in the server-written `risk`
// state key; this browser only reads it and calls triggers.
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
      toast(trame, window.twinI18n.t("The server did not answer: {error}", { error: err && err.message ? err.message : err }));
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
  // who acknowledges: asked once per browser and kept in its local storage; "browser" if unanswered
  function operator(trame) {
    let name = window.localStorage.getItem("twin.operator") || "";
    if (!name) {
      const ask = window.twinI18n ? window.twinI18n.t("Your name, recorded with each acknowledgement") : "Your name";
      name = (window.prompt(ask) || "").trim().slice(0, 80);
      if (name) window.localStorage.setItem("twin.operator", name);
    }
    return name || S(trame, "ack_by") || "browser";
  }
  async function ack(trame, id) {
    const reply = await call(trame, "twin_ack", [id, operator(trame)]);
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
    const clock = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    set(trame, "clock", new Date().toLocaleTimeString(window.twinI18n.locale(), clock));
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
      ui().keep(trame, { tour_step: step + 1 });
    }
  }
  function startTour(trame, holdSeconds) {
    if (tourTimer) window.clearInterval(tourTimer);
    const kept = ui().kept();
    if (kept && kept.tour_step) set(trame, "tour_step", Math.max(0, kept.tour_step - 1));  // where it was
    tourStep(trame);
    tourTimer = window.setInterval(() => tourStep(trame), holdSeconds * 1000);
  }

  // -- connection watch: a slow server is not a lost one -----------------------------------------
  // One heartbeat in flight at most: a reply slower than SLOW_MS says "busy" (a small notice), never
  // "disconnected".  The banner shows only when the server is really unreachable: the websocket
  // closed, or a heartbeat is long overdue, and an HTTP probe then fails with a network error (a
  // probe that merely times out is a busy server too).  Once the server answers again the page
  // comes back with what this tab kept (tool, camera, layers, selection, language, tour position).
  const PING_MS = 2000;
  const SLOW_MS = 4000;
  const OVERDUE_MS = 20000;
  const PROBE_MS = 5000;
  const RETRY_MS = 2000;
  let pingSince = null;
  let lost = false;

  function banner() {
    // plain DOM, outside Vue: trame replaces the whole page template when its connection closes
    if (document.getElementById("twin-disconnected")) return;
    const div = document.createElement("div");
    div.id = "twin-disconnected";
    div.setAttribute("data-testid", "disconnected");
    div.setAttribute("role", "alert");
    div.textContent = window.twinI18n.t("DISCONNECTED — data may be stale (reconnecting…)");
    div.style.cssText = "position: fixed; inset: 0 0 auto 0; z-index: 100000; background: #b00020; color: #fff; " +
      "font: 800 2.4rem sans-serif; text-align: center; padding: 16px;";
    document.body.appendChild(div);
  }
  // true: the server answered; "busy": no answer in time; false: unreachable (a network error)
  async function reachable() {
    try {
      await fetch(window.location.pathname, { cache: "no-store", signal: AbortSignal.timeout(PROBE_MS) });
      return true;
    } catch (err) {
      return err && (err.name === "TimeoutError" || err.name === "AbortError") ? "busy" : false;
    }
  }
  async function closed(trame) {
    if (lost) return;
    lost = true;
    ui().keep(trame, { reconnect: true, tour_step: S(trame, "tour_step") || 0 });
    const retry = async () => {
      const up = await reachable();
      if (up === true) { window.location.reload(); return; }
      if (up === false && !S(trame, "disconnected")) { set(trame, "disconnected", true); banner(); }
      window.setTimeout(retry, RETRY_MS);
    };
    retry();
  }
  async function overdue(trame) {
    if ((await reachable()) === false) closed(trame);
  }
  async function heartbeat(trame) {
    if (lost) return;
    if (pingSince !== null) {
      const waited = Date.now() - pingSince;
      if (waited > SLOW_MS) set(trame, "server_slow", true);
      if (waited > OVERDUE_MS) overdue(trame);
      return;
    }
    pingSince = Date.now();
    try {
      await trame.trigger("twin_ping", []);
    } catch (err) {
      // a closed connection reports itself (onConnectionClose)
    } finally {
      pingSince = null;
      if (S(trame, "server_slow")) set(trame, "server_slow", false);
    }
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
    // trame's own connection says when its websocket closes (this script loads after it opened)
    if (trame.client && trame.client.onConnectionClose) {
      trame.client.onConnectionClose(() => closed(trame));
      trame.client.onConnectionError(() => closed(trame));
    }
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
    window.setInterval(() => heartbeat(trame), PING_MS);
  }

  const api = { init, setRisk, selectAlert, ack, operator, refreshAsset, snapshot, startTour, tourStep, openPlayback, seek,
           play, pause, closePlayback, get: (key) => api.trame && api.trame.state.get(key) };
  return api;
})();
