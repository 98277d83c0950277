// CIM Twin incidents panel: open an incident (this browser's view selects it, draws its resources'
// routes and flies there), follow it live as the shared `incidents` list changes, check plan steps
// off in the operator's name, note actions and download its situation report (PDF).
window.twinIncidents = (function () {
  const S = (trame, key) => trame.state.get(key);
  const set = (trame, key, value) => trame.state.set(key, value);
  const ui = () => window.twinUI;
  const REFRESH_MS = 1000;
  let started = false;
  let seen = -1;  // the list's version the open incident was last fetched at
  let fetching = false;

  function viewId(trame) { return S(trame, "my_view"); }
  function version(trame) { return (S(trame, "incidents") || {}).version; }

  async function open(trame, id) {
    seen = version(trame);
    const reply = await ui().call(trame, "twin_incident", [viewId(trame), id, true, ui().camera(trame)]);
    if (!reply) return;
    set(trame, "incident", reply.incident);
    if (reply.inspector) {
      set(trame, "inspector", reply.inspector);
      set(trame, "analysis", null);
    }
  }
  // the open incident again when the list changed (a new alert, a level, a step done elsewhere)
  async function refresh(trame, force) {
    const shown = S(trame, "incident");
    if (!shown || fetching || (!force && version(trame) === seen)) return;
    seen = version(trame);
    fetching = true;
    try {
      const reply = await ui().call(trame, "twin_incident", [viewId(trame), shown.id, false, ui().camera(trame)]);
      const now = S(trame, "incident");
      if (reply && now && now.id === reply.incident.id) set(trame, "incident", reply.incident);
    } finally {
      fetching = false;
    }
  }
  async function close(trame) {
    set(trame, "incident", null);
    await ui().call(trame, "twin_incident_close", [viewId(trame), ui().camera(trame)]);
    set(trame, "inspector", null);
  }
  async function check(trame, step) {
    const shown = S(trame, "incident");
    if (!shown) return;
    const reply = await ui().call(trame, "twin_check_step", [shown.id, step, window.twinRisk.operator(trame), ""]);
    if (reply) ui().toast(trame, reply.message, "success");
    await refresh(trame, true);
  }
  async function act(trame) {
    const shown = S(trame, "incident");
    const text = (S(trame, "incident_note") || "").trim();
    if (!shown || !text) return;
    const reply = await ui().call(trame, "twin_incident_act", [shown.id, window.twinRisk.operator(trame), text]);
    if (reply) { set(trame, "incident_note", ""); ui().toast(trame, reply.message, "success"); }
    await refresh(trame, true);
  }
  async function report(trame) {
    const shown = S(trame, "incident");
    if (!shown) return;
    const reply = await ui().call(trame, "twin_sitrep", [viewId(trame), shown.id, ui().camera(trame)]);
    if (!reply) return;
    const bytes = Uint8Array.from(atob(reply.pdf), (c) => c.charCodeAt(0));
    trame.utils.download(reply.filename, bytes, "application/pdf");
  }
  function init(trame) {
    if (started) return;
    started = true;
    window.setInterval(() => refresh(trame, false), REFRESH_MS);
  }
  return { init, open, refresh, close, check, act, report };
})();
