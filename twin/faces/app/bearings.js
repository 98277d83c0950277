// CIM Twin bearings: the north arrow, scale bar and orientation axes follow the camera, the
// coordinates follow the mouse, and keyboard shortcuts move the view.  The numbers come from the
// server (twin/faces/app/bearings.py: one copy of the math for both rendering modes); this file
// only decides when to ask, never more than one question in flight, so a busy server is not
// flooded and the page never waits on it.
window.twinBearings = (function () {
  const S = (trame, key) => trame.state.get(key);
  const set = (trame, key, value) => trame.state.set(key, value);
  const THROTTLE_MS = 150;  // while the camera or the mouse moves, at most this often
  const SETTLE_MS = 300;  // ... and once more after it stops
  const KEYS = {
    h: (trame) => act(trame, "twin_home"),
    t: (trame) => window.twinUI.look(trame, "top"),
    f: (trame) => window.twinUI.look(trame, "front"),
    s: (trame) => window.twinUI.look(trame, "side"),
    i: (trame) => window.twinUI.look(trame, "iso"),
    n: (trame) => act(trame, "twin_north_up"),
    m: (trame) => toggleMeasure(trame),
    c: (trame) => window.twinUI.setClip(trame, { on: !S(trame, "cfg").clip.on }),
    escape: (trame) => cancel(trame),
    "?": (trame) => set(trame, "show_shortcuts", !S(trame, "show_shortcuts")),
  };
  let app = null;
  let buttons = 0;

  function viewId(trame) { return S(trame, "my_view"); }
  function camera(trame) { return window.twinUI.camera(trame); }
  function viewHeight() {
    const view = document.querySelector(".twin-view");
    return view ? view.clientHeight : 0;
  }

  // one throttled question at a time: ask(), and ask again after it if asked meanwhile
  function throttled(send) {
    let busy = false, again = false, last = 0, timer = null;
    async function run() {
      if (busy) { again = true; return; }
      busy = true; again = false; last = Date.now();
      try { await send(); } catch (err) { /* the next move asks again */ } finally { busy = false; }
      if (again) schedule();
    }
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, Math.max(0, THROTTLE_MS - (Date.now() - last)));
    }
    return schedule;
  }

  const refresh = throttled(async () => {
    if (!app || viewId(app) === null || viewId(app) === undefined) return;
    const reply = await app.trigger("twin_bearings", [viewId(app), viewHeight(), camera(app)]);
    if (reply && reply.bearings) set(app, "bearings", reply.bearings);
  });
  let settle = null;
  function changed() {
    refresh();
    window.clearTimeout(settle);
    settle = window.setTimeout(refresh, SETTLE_MS);
  }

  let lastEvent = null;
  const sendProbe = throttled(async () => {
    if (!app || !lastEvent || buttons) return;
    const reply = await app.trigger("twin_probe", [viewId(app), lastEvent, camera(app)]);
    if (reply && !reply.error) set(app, "probe", reply.probe || null);
  });
  // the mouse moved over the view (the views' hover event, both rendering modes)
  function probe(trame, event) {
    app = trame;
    lastEvent = event;
    sendProbe();
  }

  async function act(trame, name) {
    const reply = await window.twinUI.call(trame, name, [viewId(trame), camera(trame)]);
    changed();
    return reply;
  }
  async function measureOff(trame) {
    set(trame, "tool", "select");
    set(trame, "measure", null);
    await window.twinUI.call(trame, "twin_measure_off", [viewId(trame), camera(trame)]);
  }
  function toggleMeasure(trame) {
    if (S(trame, "tool") === "measure") return measureOff(trame);
    set(trame, "measure", null);
    set(trame, "tool", "measure");
  }
  function cancel(trame) {
    if (S(trame, "show_shortcuts")) { set(trame, "show_shortcuts", false); return; }
    if (S(trame, "tool") === "measure") measureOff(trame);
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  }
  function keydown(event) {
    if (!app || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key === "Escape" ? "escape" : String(event.key || "").toLowerCase();
    const run = KEYS[key];
    if (!run || S(app, "mode") === "briefing") return;
    event.preventDefault();
    run(app);
  }
  function inView(event) { return event.target && event.target.closest && event.target.closest(".twin-view"); }

  function start(trame) {
    app = trame;
    document.addEventListener("keydown", keydown);
    document.addEventListener("pointerdown", (e) => { buttons = e.buttons; }, { passive: true });
    document.addEventListener("pointerup", (e) => { buttons = e.buttons; if (inView(e)) changed(); }, { passive: true });
    document.addEventListener("pointermove", (e) => { if (e.buttons && inView(e)) changed(); }, { passive: true });
    document.addEventListener("wheel", (e) => { if (inView(e)) changed(); }, { passive: true });
    window.addEventListener("resize", changed);
    const first = window.setInterval(() => {  // once the view is claimed
      if (S(trame, "ready")) { window.clearInterval(first); changed(); }
    }, 250);
  }

  return { start, changed, probe, toggleMeasure, measureOff, act };
})();
